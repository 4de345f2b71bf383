---@brief The chat's folds: a compaction's summary and a subagent's transcript, each folded
--- under its title line and closed until the user opens it. Which lines a fold covers comes
--- from what |agent_lsp.render| drew (`folds`); the chat window's 'foldexpr' and 'foldtext'
--- (`require('agent_lsp.chat').foldexpr` / `.foldtext`) call in here, and every window
--- showing the chat keeps the folds the user opened across redraws (`opened`, then `apply`).

local M = {}

--- What a closed fold of the chat shows: its title line, "▾" turned to "▸".
---@return string
function M.text()
  local line = vim.fn.getline(vim.v.foldstart)
  return (line:gsub('^(%s*)▾', '%1▸', 1))
end

--- The fold level of line `lnum` (1-based) for 'foldexpr': the folds of what is drawn, a
--- subagent's folds inside its own.
---@param folds agent_lsp.Fold[] what the chat drew last
---@param lnum integer
---@return string
function M.expr(folds, lnum)
  local level, starts = 0, false
  for _, f in ipairs(folds) do
    if lnum >= f.first + 1 and lnum <= f.last + 1 then
      level = level + 1
      starts = starts or lnum == f.first + 1
    end
  end
  return (starts and '>' or '') .. level
end

--- The ids of the folds the user opened in `win` (from what was drawn until now).
---@param win integer
---@param folds agent_lsp.Fold[] what the chat drew last
---@return table<string, true>
function M.opened(win, folds)
  local open = {} ---@type table<string, true>
  if vim.wo[win].foldmethod ~= 'expr' then
    return open
  end
  vim.api.nvim_win_call(win, function()
    for _, f in ipairs(folds) do
      if vim.fn.foldlevel(f.first + 1) > 0 and vim.fn.foldclosed(f.first + 1) == -1 then
        open[f.id] = true
      end
    end
  end)
  return open
end

--- Folds `win` as drawn: each fold closed, unless its id is in `open` (and so are the folds
--- it is inside).
---@param win integer
---@param folds agent_lsp.Fold[] what the chat drew
---@param open table<string, true>
function M.apply(win, folds, open)
  local wo = vim.wo[win]
  wo.foldmethod = 'expr'
  wo.foldexpr = "v:lua.require'agent_lsp.chat'.foldexpr(v:lnum)"
  wo.foldtext = "v:lua.require'agent_lsp.chat'.foldtext()"
  wo.foldlevel = 0
  wo.foldenable = true
  wo.fillchars = 'fold: '
  vim.api.nvim_win_call(win, function()
    local levels = vim.deepcopy(folds)
    table.sort(levels, function(a, b)
      return a.level < b.level
    end)
    for i = #levels, 1, -1 do -- inner folds first: one foldclose closes one level
      vim.cmd(('silent! %dfoldclose'):format(levels[i].first + 1))
    end
    local opened_now = {} ---@type table<string, true>
    for _, f in ipairs(levels) do -- outer folds first: one foldopen opens one level
      if open[f.id] and (not f.parent or opened_now[f.parent]) then
        opened_now[f.id] = true
        vim.cmd(('silent! %dfoldopen'):format(f.first + 1))
      end
    end
  end)
end

return M

---@brief The chat buffer: a |prompt-buffer| whose last line is the prompt, and above it the
--- followed thread as drawn by |agent_lsp.render|. It is redrawn (at most once per event-loop
--- tick) whenever the thread changes; the prompt line, and anything typed on it, is kept.
--- A compaction is a fold ('foldexpr' from what is drawn), closed until the user opens it
--- (|zo|, |za|); every window showing the chat keeps the folds the user opened across redraws.

local M = {}

local state = require('agent_lsp.state')
local render = require('agent_lsp.render')

local PROMPT = '> '
local ns = vim.api.nvim_create_namespace('agent_lsp.chat')

---@type integer?
M.buf = nil

---@type agent_lsp.Rendered
local shown = { lines = {}, highlights = {}, approvals = {}, folds = {} }
local scheduled = false
local subscribed = false

local KEYS = {
  { '<CR>', 'send the prompt (Insert or Normal mode)' },
  { 'a', 'approve the pending change or command under the cursor (else the latest)' },
  { 's', 'approve it, and its kind, for the rest of the session' },
  { 'r', 'reject it, with a reason the agent reads' },
  { 'd', 'show its diff in a split' },
  { 'i  <C-c>', 'interrupt the running turn' },
  { 'za', 'open or close a compaction (its summary)' },
  { 'A  o', 'go to the prompt (Insert mode)' },
  { 'q', 'close the chat window' },
}

--- The approval drawn on the cursor line of the chat, if any.
---@return string?
function M.approval_at_cursor()
  if vim.api.nvim_get_current_buf() ~= M.buf then
    return nil
  end
  return shown.approvals[vim.api.nvim_win_get_cursor(0)[1] - 1]
end

--- What a closed fold of the chat shows: its title line, "▾" turned to "▸".
---@return string
function M.foldtext()
  local line = vim.fn.getline(vim.v.foldstart)
  return (line:gsub('^▾', '▸', 1))
end

--- 'foldexpr' of the chat windows: the folds of what is drawn (see `shown.folds`).
---@param lnum integer
---@return string
function M.foldexpr(lnum)
  for _, f in ipairs(shown.folds) do
    if lnum == f.first + 1 then
      return '>1'
    elseif lnum > f.first + 1 and lnum <= f.last + 1 then
      return '1'
    end
  end
  return '0'
end

--- The ids of the folds the user opened in `win` (from what was drawn until now).
---@param win integer
---@return table<string, true>
local function opened(win)
  local open = {} ---@type table<string, true>
  if vim.wo[win].foldmethod ~= 'expr' then
    return open
  end
  vim.api.nvim_win_call(win, function()
    for _, f in ipairs(shown.folds) do
      if vim.fn.foldlevel(f.first + 1) > 0 and vim.fn.foldclosed(f.first + 1) == -1 then
        open[f.id] = true
      end
    end
  end)
  return open
end

--- Folds `win` as drawn: each compaction closed, unless its id is in `open`.
---@param win integer
---@param open table<string, true>
local function fold(win, open)
  local wo = vim.wo[win]
  wo.foldmethod = 'expr'
  wo.foldexpr = "v:lua.require'agent_lsp.chat'.foldexpr(v:lnum)"
  wo.foldtext = "v:lua.require'agent_lsp.chat'.foldtext()"
  wo.foldlevel = 0
  wo.foldenable = true
  wo.fillchars = 'fold: '
  vim.api.nvim_win_call(win, function()
    for _, f in ipairs(shown.folds) do
      vim.cmd(('silent! %d%s'):format(f.first + 1, open[f.id] and 'foldopen' or 'foldclose'))
    end
  end)
end

--- Redraws the chat now.
function M.draw()
  scheduled = false
  local buf = M.buf
  if not buf or not vim.api.nvim_buf_is_valid(buf) then
    return
  end
  local r = render.thread(state.current and state.threads[state.current] or nil, state.answered)
  local open_by_win = {} ---@type table<integer, table<string, true>>
  for _, win in ipairs(vim.fn.win_findbuf(buf)) do
    open_by_win[win] = opened(win)
  end
  vim.api.nvim_buf_set_lines(buf, 0, vim.api.nvim_buf_line_count(buf) - 1, false, r.lines)
  vim.api.nvim_buf_clear_namespace(buf, ns, 0, -1)
  for _, h in ipairs(r.highlights) do
    local opts = h.line and { line_hl_group = h.group }
      or { end_row = h.row, end_col = #r.lines[h.row + 1], hl_group = h.group }
    vim.api.nvim_buf_set_extmark(buf, ns, h.row, 0, opts)
  end
  shown = r
  for win, open in pairs(open_by_win) do
    if vim.api.nvim_win_is_valid(win) then
      fold(win, open)
    end
  end
end

--- Redraws the chat once the current batch of events is in.
function M.refresh()
  if not scheduled and M.buf then
    scheduled = true
    vim.schedule(M.draw)
  end
end

---@param text string
function M.send(text)
  text = vim.trim(text)
  if text ~= '' then
    require('agent_lsp').ask({ prompt = text })
  end
end

--- <CR> in Normal mode: send what is typed on the prompt line.
local function send_prompt_line()
  local buf = assert(M.buf)
  local last = vim.api.nvim_buf_line_count(buf)
  local line = vim.api.nvim_buf_get_lines(buf, last - 1, last, false)[1] or ''
  if vim.startswith(line, PROMPT) then
    line = line:sub(#PROMPT + 1)
  end
  vim.api.nvim_buf_set_lines(buf, last - 1, last, false, { PROMPT })
  M.send(line)
end

---@param buf integer
local function keymaps(buf)
  local api = require('agent_lsp')
  local function map(lhs, fn, desc)
    vim.keymap.set('n', lhs, fn, { buffer = buf, nowait = true, desc = 'agent-lsp: ' .. desc })
  end
  map('<CR>', send_prompt_line, 'send the prompt')
  map('a', function() api.approve('approve') end, 'approve')
  map('s', function() api.approve('approveForSession') end, 'approve for the session')
  map('r', function() api.reject() end, 'reject with a reason')
  map('d', function() api.diff() end, 'show the diff')
  map('i', function() api.interrupt() end, 'interrupt the turn')
  map('<C-c>', function() api.interrupt() end, 'interrupt the turn')
  map('q', function() M.close() end, 'close the chat')
  map('g?', function()
    local help = vim.tbl_map(function(k)
      return ('%-9s %s'):format(k[1], k[2])
    end, KEYS)
    vim.notify(table.concat(help, '\n'), vim.log.levels.INFO, { title = 'agent-lsp chat' })
  end, 'show the keys')
end

---@return integer buf
function M.buffer()
  if M.buf and vim.api.nvim_buf_is_valid(M.buf) then
    return M.buf
  end
  local buf = vim.api.nvim_create_buf(false, true)
  M.buf = buf
  vim.api.nvim_buf_set_name(buf, 'agent-lsp://chat')
  vim.bo[buf].buftype = 'prompt'
  vim.bo[buf].bufhidden = 'hide'
  vim.bo[buf].swapfile = false
  vim.bo[buf].filetype = 'agent_lsp_chat'
  vim.fn.prompt_setprompt(buf, PROMPT)
  vim.fn.prompt_setcallback(buf, M.send)
  vim.fn.prompt_setinterrupt(buf, function()
    require('agent_lsp').interrupt()
  end)
  keymaps(buf)
  if not subscribed then
    subscribed = true
    state.subscribe(function(thread_id)
      if thread_id == state.current then
        M.refresh()
      end
    end)
  end
  M.draw()
  return buf
end

---@return integer[] windows of the current tab page showing the chat
local function windows()
  return vim.tbl_filter(function(win)
    return vim.api.nvim_win_get_tabpage(win) == vim.api.nvim_get_current_tabpage()
  end, vim.fn.win_findbuf(M.buffer()))
end

--- Shows the chat in a split (unless it is already visible in this tab page).
---@param focus boolean move the cursor to the prompt
function M.open(focus)
  local buf = M.buffer()
  local win = windows()[1]
  if not win then
    local previous = vim.api.nvim_get_current_win()
    vim.cmd(require('agent_lsp').config.chat.split)
    win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(win, buf)
    vim.wo[win].wrap = true
    vim.wo[win].linebreak = true
    vim.wo[win].number = false
    vim.wo[win].relativenumber = false
    vim.wo[win].signcolumn = 'no'
    vim.wo[win].winfixwidth = true
    fold(win, {})
    vim.api.nvim_win_set_cursor(win, { vim.api.nvim_buf_line_count(buf), 0 })
    if not focus then
      vim.api.nvim_set_current_win(previous)
    end
  end
  if focus then
    vim.api.nvim_set_current_win(win)
    if require('agent_lsp').config.chat.insert then
      vim.cmd('startinsert!')
    end
  end
end

function M.close()
  for _, win in ipairs(windows()) do
    if #vim.api.nvim_tabpage_list_wins(0) > 1 then
      vim.api.nvim_win_close(win, false)
    end
  end
end

function M.toggle()
  if #windows() > 0 then
    M.close()
  else
    M.open(true)
  end
end

return M

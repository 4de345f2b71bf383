---@brief The chat's prompt: what is typed below the drawn thread, the context it names, and
--- its history.
---
--- `#buffer` in a prompt sends the source buffer (the file window the chat was opened from)
--- along with it, `@path` the file at `path` (relative to the workspace); each goes to the agent
--- as a selection of the whole file. <Up> / <Down> on the prompt walk the prompts sent before:
--- those of the followed thread, then the ones sent in this session.

local M = {}

M.PROMPT = '> '

--- Marks the prompt's first line in the chat buffer (it moves with the text around it).
local prompt_ns = vim.api.nvim_create_namespace('agent_lsp.chat.prompt')

---@type string[] prompts sent from this Neovim, oldest first
local sent = {}

---@type { items: string[], at: integer, draft: string }? the walk in progress (<Up>/<Down>)
local walk = nil

---@class agent_lsp.ContextPart
---@field uri string
---@field range lsp.Range
---@field label string what the prompt named (`#buffer`, `@calc.py`)

--- The whole of a document as an LSP range (the server reads the text itself).
---@param line_count integer
---@return lsp.Range
local function whole(line_count)
  return { start = { line = 0, character = 0 }, ['end'] = { line = line_count, character = 0 } }
end

--- The file buffer the chat works with: the previous window's, else the first file window's.
---@return integer?
function M.source_buffer()
  local function file_buf(win)
    local buf = win and win > 0 and vim.api.nvim_win_is_valid(win) and vim.api.nvim_win_get_buf(win) or nil
    if buf and vim.bo[buf].buftype == '' and vim.api.nvim_buf_get_name(buf) ~= '' then
      return buf
    end
  end
  local found = file_buf(vim.fn.win_getid(vim.fn.winnr('#')))
  if found then
    return found
  end
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    found = file_buf(win)
    if found then
      return found
    end
  end
end

--- The context a prompt names: `#buffer` and `@path` (relative to `root`, or absolute).
--- Problems (no source buffer, no such file) are returned as messages to show.
---@param text string
---@param root string
---@return agent_lsp.ContextPart[] parts, string[] problems
function M.context(text, root)
  local parts, problems, seen = {}, {}, {} ---@type agent_lsp.ContextPart[], string[], table<string, true>
  local function add(uri, line_count, label)
    if not seen[uri] then
      seen[uri] = true
      parts[#parts + 1] = { uri = uri, range = whole(line_count), label = label }
    end
  end
  if text:find('#buffer', 1, true) then
    local buf = M.source_buffer()
    if buf then
      add(vim.uri_from_bufnr(buf), vim.api.nvim_buf_line_count(buf), '#buffer')
    else
      problems[#problems + 1] = '#buffer: no file window to take it from'
    end
  end
  for name in text:gmatch('@([^%s`]+)') do
    name = name:gsub('[%.,;:!?%)]+$', '')
    local path = vim.fs.normalize(vim.startswith(name, '/') and name or vim.fs.joinpath(root, name))
    local buf = vim.fn.bufnr(path)
    if buf ~= -1 and vim.api.nvim_buf_is_loaded(buf) then
      add(vim.uri_from_bufnr(buf), vim.api.nvim_buf_line_count(buf), '@' .. name)
    elseif vim.fn.filereadable(path) == 1 then
      add(vim.uri_from_fname(path), #vim.fn.readfile(path), '@' .. name)
    else
      problems[#problems + 1] = ('@%s: no such file in %s'):format(name, root)
    end
  end
  return parts, problems
end

--- Remembers a prompt that was sent.
---@param text string
function M.remember(text)
  if sent[#sent] ~= text then
    sent[#sent + 1] = text
  end
  walk = nil
end

--- The prompts to walk: the followed thread's, then this session's, without repeats.
---@param t agent_lsp.Thread?
---@return string[]
local function history(t)
  local items, seen = {}, {} ---@type string[], table<string, true>
  local function add(text)
    if text and text ~= '' and not seen[text] then
      seen[text] = true
      items[#items + 1] = text
    end
  end
  for _, entry in ipairs(t and t.entries or {}) do
    local item = entry.kind == 'item' and t.items[entry.id]
    if item and item.type == 'userMessage' then
      for _, part in ipairs(item.content or {}) do
        if part.type == 'text' then
          add(part.text)
        end
      end
    end
  end
  for _, text in ipairs(sent) do
    add(text)
  end
  return items
end

--- One step through the history (`-1` older, `1` newer) from `current` (what is typed now):
--- the text to put on the prompt, or nil when there is nothing further that way.
---@param t agent_lsp.Thread?
---@param current string
---@param direction -1|1
---@return string?
function M.step(t, current, direction)
  if not walk or walk.items[walk.at] ~= current then
    local items = history(t)
    walk = { items = items, at = #items + 1, draft = current }
  end
  local at = walk.at + direction
  if at < 1 or at > #walk.items + 1 then
    return nil
  end
  walk.at = at
  return walk.items[at] or walk.draft
end

--- The first line of the prompt (0-based): where the prompt mark is, else the last line.
---@param buf integer
---@return integer
function M.row(buf)
  local mark = vim.api.nvim_buf_get_extmarks(buf, prompt_ns, 0, -1, { limit = 1 })[1]
  local last = vim.api.nvim_buf_line_count(buf) - 1
  return mark and math.min(mark[2], last) or last
end

--- Puts the prompt mark on `row` (the prompt's first line).
---@param buf integer
---@param row integer
function M.mark(buf, row)
  vim.api.nvim_buf_clear_namespace(buf, prompt_ns, 0, -1)
  vim.api.nvim_buf_set_extmark(buf, prompt_ns, row, 0, { right_gravity = false })
end

--- What is typed on the prompt (every prompt line, the "> " taken off the first).
---@param buf integer
---@return string
function M.typed(buf)
  local lines = vim.api.nvim_buf_get_lines(buf, M.row(buf), -1, false)
  if lines[1] and vim.startswith(lines[1], M.PROMPT) then
    lines[1] = lines[1]:sub(#M.PROMPT + 1)
  elseif lines[1] and vim.startswith(lines[1], vim.trim(M.PROMPT)) then
    lines[1] = lines[1]:sub(#vim.trim(M.PROMPT) + 1)
  end
  return table.concat(lines, '\n')
end

--- Replaces the prompt with `text` and puts the cursor at its end (in every chat window).
---@param buf integer
---@param text string
function M.set(buf, text)
  local row = M.row(buf)
  local lines = vim.split(M.PROMPT .. text, '\n', { plain = true })
  vim.api.nvim_buf_set_lines(buf, row, -1, false, lines)
  M.mark(buf, row)
  local last = vim.api.nvim_buf_line_count(buf)
  for _, win in ipairs(vim.fn.win_findbuf(buf)) do
    vim.api.nvim_win_set_cursor(win, { last, #lines[#lines] })
  end
end

--- 'omnifunc' of the chat (|i_CTRL-X_CTRL-O|): `#buffer` and `@` file names.
---@param findstart integer
---@param base string
---@return integer|string[]
function M.omnifunc(findstart, base)
  if findstart == 1 then
    local before = vim.api.nvim_get_current_line():sub(1, vim.fn.col('.') - 1)
    local at = before:find('[@#][^%s]*$')
    return at and at - 1 or -3
  end
  if vim.startswith(base, '#') then
    return vim.startswith('#buffer', base) and { '#buffer' } or {}
  end
  return vim.tbl_map(function(path)
    return '@' .. path
  end, vim.fn.getcompletion(base:sub(2), 'file'))
end

return M

---@brief The chat buffer: the followed thread as drawn by |agent_lsp.render| (Markdown, so
--- treesitter highlights it), and below it the prompt (|agent_lsp.prompt|), from the line that
--- starts with "> " to the end. It is redrawn (at most once per event-loop tick) whenever the
--- thread changes; the prompt, and anything typed on it, is kept. The buffer is 'nofile', so
--- it never keeps |:qa| from quitting. When it opens with nothing to show, it follows the
--- thread the workspace's chat followed last (also in an earlier Neovim), replayed by resume.
--- A compaction is a fold ('foldexpr' from what is drawn), closed until the user opens it
--- (|zo|, |za|); every window showing the chat keeps the folds the user opened across redraws.
--- So is each subagent: one line ("▸ subagent explore tests — Reading src/x.py") folded over
--- the child thread's transcript (loaded by resume when it is opened and not known yet), its
--- pending approvals below it; `x` on it cancels that child alone.

local M = {}

local state = require('agent_lsp.state')
local render = require('agent_lsp.render')
local prompt = require('agent_lsp.prompt')
local folds = require('agent_lsp.folds')

local PROMPT = prompt.PROMPT
local ns = vim.api.nvim_create_namespace('agent_lsp.chat')

---@type integer?
M.buf = nil

---@type agent_lsp.Rendered
local shown = { lines = {}, highlights = {}, approvals = {}, folds = {}, subagents = {} }
local scheduled = false
local subscribed = false

local KEYS = {
  { '<CR>', 'send the prompt (Insert or Normal mode; Normal mode after it)' },
  { '<Up> <Down>', 'on the prompt: the prompts sent before' },
  { '#buffer @file', 'in a prompt: send that file along (<C-x><C-o> completes)' },
  { 'a', 'approve the pending change or command under the cursor (else the latest)' },
  { 's', 'approve it, and its kind, for the rest of the session' },
  { 'r', 'reject it, with a reason the agent reads' },
  { 'd', 'show its diff in a split' },
  { 'i  <C-c>', 'interrupt the running turn' },
  { 'za  zo  <CR>', 'on a compaction or subagent line: open or close it (summary, transcript)' },
  { 'x', 'on a subagent line (or its transcript): cancel that subagent alone' },
  { 'A  o  I', 'go to the prompt (Insert mode)' },
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

--- The child thread drawn on the cursor line of the chat (a subagent's line or transcript).
---@return string?
function M.subagent_at_cursor()
  if vim.api.nvim_get_current_buf() ~= M.buf then
    return nil
  end
  return shown.subagents[vim.api.nvim_win_get_cursor(0)[1] - 1]
end

--- What a closed fold of the chat shows ('foldtext'): its title line, "▾" turned to "▸".
M.foldtext = folds.text

--- 'foldexpr' of the chat windows: the folds of what is drawn, a subagent's folds inside its own.
---@param lnum integer
---@return string
function M.foldexpr(lnum)
  return folds.expr(shown.folds, lnum)
end

--- Redraws the chat now.
function M.draw()
  scheduled = false
  local buf = M.buf
  if not buf or not vim.api.nvim_buf_is_valid(buf) then
    return
  end
  local t = state.current and state.threads[state.current] or nil
  local r = render.thread(t, state.answered, t and state.others(t) or nil, state.threads)
  local open_by_win = {} ---@type table<integer, table<string, true>>
  for _, win in ipairs(vim.fn.win_findbuf(buf)) do
    open_by_win[win] = folds.opened(win, shown.folds)
  end
  vim.api.nvim_buf_set_lines(buf, 0, prompt.row(buf), false, r.lines)
  prompt.mark(buf, #r.lines)
  vim.api.nvim_buf_clear_namespace(buf, ns, 0, -1)
  for _, h in ipairs(r.highlights) do
    local opts = h.line and { line_hl_group = h.group }
      or { end_row = h.row, end_col = #r.lines[h.row + 1], hl_group = h.group }
    vim.api.nvim_buf_set_extmark(buf, ns, h.row, 0, opts)
  end
  vim.bo[buf].modified = false
  shown = r
  for win, open in pairs(open_by_win) do
    if vim.api.nvim_win_is_valid(win) then
      folds.apply(win, shown.folds, open)
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

--- Sends a prompt, with the context it names (`#buffer`, `@file`).
---@param text string
function M.send(text)
  text = vim.trim(text)
  if text == '' then
    return
  end
  prompt.remember(text)
  local api = require('agent_lsp')
  local client = require('agent_lsp.client').ensure(prompt.source_buffer())
  local parts, problems = prompt.context(text, client and client.root_dir or vim.fn.getcwd())
  for _, problem in ipairs(problems) do
    vim.notify('agent-lsp: ' .. problem, vim.log.levels.WARN)
  end
  api.ask({ prompt = text, bufnr = prompt.source_buffer(), context = parts })
end

--- <CR>: send what is typed on the prompt, clear it, and be in Normal mode.
local function send_prompt()
  local buf = assert(M.buf)
  local text = prompt.typed(buf)
  prompt.set(buf, '')
  if vim.api.nvim_get_mode().mode:sub(1, 1) == 'i' then
    vim.cmd.stopinsert()
  end
  M.send(text)
end

--- Moves the cursor to the end of the prompt.
function M.to_prompt()
  local buf = M.buffer()
  local last = vim.api.nvim_buf_line_count(buf)
  local line = vim.api.nvim_buf_get_lines(buf, last - 1, last, false)[1] or ''
  if vim.api.nvim_get_current_buf() == buf then
    vim.api.nvim_win_set_cursor(0, { last, #line })
  end
end

--- <Up> / <Down> on the prompt: the prompts sent before; elsewhere, the cursor moves.
---@param direction -1|1
---@param key string
local function history_key(direction, key)
  local buf = assert(M.buf)
  if vim.api.nvim_win_get_cursor(0)[1] - 1 < prompt.row(buf) then
    return vim.api.nvim_feedkeys(vim.keycode(key), 'n', false)
  end
  local text = prompt.step(state.current and state.threads[state.current] or nil, prompt.typed(buf), direction)
  if text then
    prompt.set(buf, text)
  end
end

--- zo / za / <CR> on a fold: opens (or toggles) it, loading a subagent's transcript first.
---@param keys string the Normal-mode fold command
---@return boolean done false when the cursor is on no fold
local function fold_key(keys)
  local row = vim.api.nvim_win_get_cursor(0)[1]
  if vim.fn.foldlevel(row) == 0 then
    return false
  end
  require('agent_lsp.subagents').load(M.subagent_at_cursor())
  vim.cmd('silent! normal! ' .. vim.v.count1 .. keys)
  return true
end

---@param buf integer
local function keymaps(buf)
  local api = require('agent_lsp')
  local function map(lhs, fn, desc, modes)
    vim.keymap.set(modes or 'n', lhs, fn, { buffer = buf, nowait = true, desc = 'agent-lsp: ' .. desc })
  end
  map('<CR>', send_prompt, 'send the prompt', 'i')
  map('<CR>', function()
    if vim.api.nvim_win_get_cursor(0)[1] - 1 >= prompt.row(buf) or not fold_key('za') then
      send_prompt()
    end
  end, 'send the prompt (on a folded line: open or close it)')
  map('zo', function() fold_key('zo') end, 'open the fold (a subagent: its transcript)')
  map('za', function() fold_key('za') end, 'open or close the fold')
  map('x', function() require('agent_lsp.subagents').cancel(M.subagent_at_cursor()) end,
    'cancel the subagent under the cursor')
  map('<Up>', function() history_key(-1, '<Up>') end, 'the previous prompt', { 'n', 'i' })
  map('<Down>', function() history_key(1, '<Down>') end, 'the next prompt', { 'n', 'i' })
  for _, lhs in ipairs({ 'A', 'o', 'I' }) do
    map(lhs, '<Cmd>lua require("agent_lsp.chat").to_prompt()<CR>A', 'go to the prompt')
  end
  map('a', function() api.approve('approve') end, 'approve')
  map('s', function() api.approve('approveForSession') end, 'approve for the session')
  map('r', function() api.reject() end, 'reject with a reason')
  map('d', function() api.diff() end, 'show the diff')
  map('i', function() api.interrupt() end, 'interrupt the turn')
  map('<C-c>', function() api.interrupt() end, 'interrupt the turn', { 'n', 'i' })
  map('q', function() M.close() end, 'close the chat')
  map('g?', function()
    local help = vim.tbl_map(function(k)
      return ('%-13s %s'):format(k[1], k[2])
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
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = 'hide'
  vim.bo[buf].swapfile = false
  vim.bo[buf].filetype = 'markdown'
  vim.bo[buf].omnifunc = "v:lua.require'agent_lsp.prompt'.omnifunc"
  pcall(vim.treesitter.start, buf, 'markdown')
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, { PROMPT })
  prompt.mark(buf, 0)
  keymaps(buf)
  if not subscribed then
    subscribed = true
    state.subscribe(function(thread_id)
      if thread_id == state.current or state.root_of(thread_id) == state.current then
        M.refresh()
      end
    end)
  end
  M.draw()
  return buf
end

--- With no thread followed yet, follows the workspace's last one (remembered from an
--- earlier session, else the newest the server lists) and replays it.
local function restore()
  if state.current then
    return
  end
  local clients = require('agent_lsp.client')
  local client = clients.ensure(prompt.source_buffer())
  if not client then
    return
  end
  local function follow(id, title)
    if state.current then
      return -- a turn started meanwhile: the chat follows that
    end
    local t = state.thread(id, client.root_dir)
    t.title = t.title or title
    state.follow(id)
    state.resume(client, id)
  end
  local remembered = client.root_dir and state.last_thread(client.root_dir)
  if remembered then
    return follow(remembered)
  end
  clients.request(client, 'agent/thread/list', vim.empty_dict(), function(result)
    local newest = result.threads and result.threads[1]
    if newest then
      follow(newest.id, newest.title)
    end
  end)
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
  restore()
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
    vim.wo[win].conceallevel = 0
    folds.apply(win, shown.folds, {})
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

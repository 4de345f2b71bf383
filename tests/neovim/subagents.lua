-- Subagents in the chat (issue 13 item 6): the model spawns two children; the chat shows one
-- folded line per child under the parent's turn; the child asking to edit is answered with `a`
-- from the parent's chat; `x` on the other child's line cancels it alone (its line ends
-- "interrupted", the parent's turn completes); <CR> opens a child's transcript; :AgentThreads
-- lists both children indented under their parent.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'helpers.lua'))
local state = require('agent_lsp.state')

H.open('calc.py')
vim.cmd('AgentChat')
local chat = require('agent_lsp.chat')
H.chat_send('MAIN: fix calc and look around')

--- The 1-based chat line that contains `text`, or nil.
---@param text string
---@return integer?
local function line_of(text)
  for i, line in ipairs(H.chat_lines()) do
    if line:find(text, 1, true) then
      return i
    end
  end
end

--- How many chat lines start with `text` (the parent's own lines, not a child's transcript).
---@param text string
---@return integer
local function top_count(text)
  return #vim.tbl_filter(function(line)
    return vim.startswith(line, text)
  end, H.chat_lines())
end

---@return integer
local function chat_win()
  local win = assert(vim.fn.win_findbuf(chat.buf)[1], 'the chat window is open')
  return win
end

--- The text the chat window shows for line `lnum`: the fold's text when it is folded.
---@param lnum integer
---@return string
local function displayed(lnum)
  return vim.api.nvim_win_call(chat_win(), function()
    if vim.fn.foldclosed(lnum) == -1 then
      return vim.fn.getline(lnum)
    end
    vim.v.foldstart = vim.fn.foldclosed(lnum)
    return chat.foldtext()
  end)
end

H.wait('the child asking to edit, and the other at work', function()
  return line_of('? Approve: Subagent \'fix calc\': Edit calc.py')
    and (line_of('▾ subagent explore tests — Reading calc.py') or line_of('▾ subagent explore tests — Writing'))
end)
local main = H.thread()
H.check(not state.is_subagent(main), 'the chat follows the parent, not a child')
H.check(main.title ~= 'explore tests' and main.title ~= 'fix calc', 'the parent is followed: ' .. tostring(main.title))
H.check(H.chat_count('subagent explore tests') == 1 and H.chat_count('subagent fix calc') == 1,
  'one line per child')
for _, name in ipairs({ 'explore tests', 'fix calc' }) do
  local lnum = assert(line_of('subagent ' .. name))
  vim.api.nvim_win_call(chat_win(), function()
    H.check(vim.fn.foldclosed(lnum) == lnum, name .. ' is a closed fold: ' .. vim.inspect({
      lnum = lnum, closed = vim.fn.foldclosed(lnum), level = vim.fn.foldlevel(lnum), method = vim.wo.foldmethod,
      expr = chat.foldexpr(lnum), folds = vim.wo.foldenable }))
  end)
  H.check(displayed(lnum):sub(1, #'▸ subagent') == '▸ subagent', 'folded, it shows ▸: ' .. displayed(lnum))
end

-- the child's approval is answered from the parent's chat, with the cursor on it
vim.api.nvim_set_current_win(chat_win())
vim.api.nvim_win_set_cursor(0, { assert(line_of('? Approve: Subagent')), 0 })
H.press('a')
H.wait('the approving child done', function()
  return line_of('▾ subagent fix calc — completed')
end)
H.check(H.read('calc.py') == 'def add(a, b):\n    return a + b\n', 'the child edited calc.py')
H.check(H.chat_count('? Approve:') == 0, 'no approval waits any more')

-- x on the other child's line cancels it alone; the parent's turn completes
H.check(main.running, 'the parent still runs while a child does')
vim.api.nvim_win_set_cursor(0, { assert(line_of('subagent explore tests')), 0 })
H.press('x')
H.wait('the cancelled child, then the parent done', function()
  return line_of('▾ subagent explore tests — interrupted') and top_count('── completed') == 1
end)
H.check(not main.running, 'the parent turn ended')
H.check(main.turn.status == 'completed', 'the parent turn completed: ' .. vim.inspect(main.turn))
H.check(top_count('Agent: One child cancelled') == 1, 'the parent answered after the cancel')

-- <CR> on a child's line opens its transcript, drawn from the child's own events
local fix_line = assert(line_of('subagent fix calc'))
vim.api.nvim_win_set_cursor(0, { fix_line, 0 })
H.press('<CR>')
vim.api.nvim_win_call(chat_win(), function()
  H.check(vim.fn.foldclosed(fix_line) == -1, 'the fold opened')
end)
H.check(line_of('    Agent: B report: add fixed.') ~= nil, 'the child transcript is drawn under its line')
H.check(line_of('    You: CHILD-B: fix add in calc.py') ~= nil, 'the child prompt is in its transcript')
H.check(H.chat_count('B report: add fixed.') == 1, 'the report is drawn once')
vim.api.nvim_win_call(chat_win(), function()
  local explore = assert(line_of('subagent explore tests'))
  H.check(vim.fn.foldclosed(explore) == explore, 'the other child stays folded')
end)

-- :AgentThreads: the two children indented under their parent
local shown
vim.ui.select = function(items, opts, _)
  shown = vim.tbl_map(opts.format_item, items)
end
vim.cmd('AgentThreads')
H.wait(':AgentThreads', function()
  return shown ~= nil
end)
local parent_at
for i, label in ipairs(shown) do
  if label:find(main.title, 1, true) == 1 then
    parent_at = i
  end
end
H.check(parent_at ~= nil, 'the parent is listed: ' .. vim.inspect(shown))
local under = { shown[parent_at + 1] or '', shown[parent_at + 2] or '' }
table.sort(under)
H.check(under[1]:find('^  ↳ subagent explore tests') and under[2]:find('^  ↳ subagent fix calc'),
  'both children under the parent: ' .. vim.inspect(shown))
H.check(#shown == 4, 'a new thread, the parent, its two children: ' .. vim.inspect(shown))
print('ok')

-- A turn, then :AgentCompact with instructions: the compaction is drawn as one closed fold
-- ("▸ Context compacted (about N → M tokens)") over its summary; opened, it stays open
-- across redraws.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'helpers.lua'))

H.open('calc.py')
vim.cmd('AgentChat')
H.chat_send('say hello')
H.wait('the answer', function()
  return H.chat_count('── completed') == 1
end)

vim.cmd('AgentCompact keep the name add')
H.wait('the compaction turn', function()
  return H.chat_count('── completed') == 2 and H.chat_count('Context compacted (about ') == 1
end)

local chat = require('agent_lsp.chat')
local win = assert(vim.fn.win_findbuf(chat.buf)[1], 'the chat window is open')
local row ---@type integer 1-based line of the compaction
for i, line in ipairs(H.chat_lines()) do
  if line:find('Context compacted', 1, true) then
    row = i
  end
end
local entry
for _, e in ipairs(H.thread().entries) do
  entry = e.tokens and e or entry
end
H.check(entry and entry.tokens.before > 0 and entry.tokens.after > 0, -- a tiny thread may grow
  'thread/compacted put the figures on the entry: ' .. vim.inspect(entry))
local render = require('agent_lsp.render')
local expected = ('▸ Context compacted (about %s → %s tokens)'):format(
  render.approx_tokens(entry.tokens.before), render.approx_tokens(entry.tokens.after))

local function fold()
  return vim.api.nvim_win_call(win, function()
    return { closed = vim.fn.foldclosed(row), last = vim.fn.foldclosedend(row), text = vim.fn.foldtextresult(row) }
  end)
end

local f = fold()
H.check(f.closed == row, 'the compaction is a closed fold: ' .. vim.inspect(f))
H.check(f.text == expected, ('the folded line reads %q, not %q'):format(f.text, expected))
local inside = table.concat(vim.list_slice(H.chat_lines(), row + 1, f.last), '\n')
H.check(inside == '  Goal: say hello.\n  Done: said hello.\n  Next: nothing.',
  'the fold holds the summary:\n' .. inside)
H.check(H.chat_count('Agent: Hello.') == 1, 'the conversation before the compaction stays in the chat')

-- opened, it stays open when the chat is redrawn; closed again, it stays closed
vim.api.nvim_win_call(win, function()
  vim.cmd(row .. 'foldopen')
end)
chat.draw()
H.check(fold().closed == -1, 'the opened fold stays open across a redraw')
vim.api.nvim_win_call(win, function()
  vim.cmd(row .. 'foldclose')
end)
chat.draw()
H.check(fold().closed == row, 'the closed fold stays closed across a redraw')
print('ok')

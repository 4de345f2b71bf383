-- :AgentChat, a prompt and <CR>: the answer streams into the chat buffer, and the turn's
-- progress reaches vim.lsp.status().
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'helpers.lua'))

H.open('calc.py')
vim.cmd('AgentChat')
local chat = require('agent_lsp.chat')
H.check(vim.bo[chat.buf].buftype == 'nofile', 'the chat is a nofile buffer (never blocks :qa)')
H.check(vim.bo[chat.buf].filetype == 'markdown', 'the chat is Markdown')
H.check(#vim.fn.win_findbuf(chat.buf) == 1, 'the chat is shown in a split')

local statuses, partials = {}, {}
require('agent_lsp.state').subscribe(function(id)
  for _, item in pairs(require('agent_lsp.state').threads[id].items) do
    if item.type == 'agentMessage' and item.text and item.text:find('^It') then
      partials[#partials + 1] = item.text
    end
  end
end)
H.chat_send('What does add do?')
H.wait('the streamed answer', function()
  statuses[#statuses + 1] = vim.lsp.status()
  local t = require('agent_lsp.state').threads[require('agent_lsp.state').current or '']
  return t and not t.running and #t.entries > 0 and H.chat_count('completed (') == 1
end)

H.check(vim.api.nvim_get_mode().mode == 'n', 'Normal mode after sending: ' .. vim.api.nvim_get_mode().mode)
H.check(H.chat_count('You: What does add do?') == 1, 'the prompt is drawn once')
H.check(H.chat_count('Agent: It subtracts b from a, which is surely a bug.') == 1, 'the answer is drawn once')
H.check(H.chat_count('✓ read_file calc.py') == 1, 'the tool call is drawn')
H.check(vim.tbl_contains(H.chat_lines(), '    [>] Fix add'), 'the todo list is drawn')
H.check(vim.api.nvim_buf_get_lines(chat.buf, -2, -1, false)[1]:sub(1, 2) == '> ', 'the prompt line stays last')

-- the answer arrived in pieces (item/delta) and was drawn from them as it came
local final = 'It subtracts b from a, which is surely a bug.'
local partial = vim.tbl_filter(function(text)
  return #text > 0 and #text < #final and vim.startswith(final, text)
end, partials)
H.check(#partial >= 2, 'the answer was streamed: ' .. vim.inspect(partials))

local seen = table.concat(statuses, '\n')
H.check(seen:find('Agent', 1, true) ~= nil, 'vim.lsp.status() showed the Agent progress: ' .. seen)

-- :'<,'>AgentAsk sends a charwise selection with the prompt (the range in LSP positions)
local calc_win = vim.fn.win_findbuf(vim.fn.bufnr('calc.py'))[1]
vim.api.nvim_set_current_win(calc_win)
vim.api.nvim_win_set_cursor(calc_win, { 2, 11 })
vim.cmd('normal! v4l' .. vim.keycode('<Esc>'))
vim.cmd("'<,'>AgentAsk why minus?")
H.check(vim.api.nvim_get_current_win() == calc_win, ':AgentAsk leaves the cursor in the file')
H.wait('the answer about the selection', function()
  return H.chat_count('── completed') == 2
end)
H.check(H.chat_count('You: why minus?') == 1, 'the prompt is drawn')
H.check(H.chat_count('[selection calc.py:2-2]') == 1, 'the selection is drawn')
local asked
for _, item in pairs(H.thread().items) do
  if item.type == 'userMessage' and item.content[1].text == 'why minus?' then
    asked = item.content[2]
  end
end
H.check(asked and asked.type == 'selection' and asked.uri == vim.uri_from_bufnr(vim.fn.bufnr('calc.py')),
  'the selection part: ' .. vim.inspect(asked))
H.check(vim.deep_equal(asked.range, { start = { line = 1, character = 11 }, ['end'] = { line = 1, character = 16 } }),
  'the selection range: ' .. vim.inspect(asked.range))

-- :AgentChat toggles the window
vim.cmd('AgentChat')
H.check(#vim.fn.win_findbuf(chat.buf) == 0, 'the chat window closed')
vim.cmd('AgentChat')
H.check(#vim.fn.win_findbuf(chat.buf) == 1, 'the chat window opened again')
-- <Up> on the prompt brings back the prompts sent before, newest first; <Down> goes back
vim.api.nvim_set_current_win(vim.fn.win_findbuf(chat.buf)[1])
vim.api.nvim_buf_set_lines(chat.buf, -2, -1, false, { '> draft' })
vim.api.nvim_win_set_cursor(0, { vim.api.nvim_buf_line_count(chat.buf), 3 })
local function prompt_line()
  return vim.api.nvim_buf_get_lines(chat.buf, -2, -1, false)[1]
end
H.press('<Up>')
H.check(prompt_line() == '> why minus?', 'Up: the last prompt: ' .. prompt_line())
H.press('<Up>')
H.check(prompt_line() == '> What does add do?', 'Up again: the one before: ' .. prompt_line())
H.press('<Down><Down>')
H.check(prompt_line() == '> draft', 'Down twice: what was typed: ' .. prompt_line())

-- :qa is never refused because of the chat (it has a typed prompt, even)
local ok, err = pcall(vim.cmd, 'qa')
error(':qa did not quit: ' .. tostring(ok) .. ' ' .. tostring(err))

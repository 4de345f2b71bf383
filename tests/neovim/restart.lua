-- The server stops; while it is down the thread moves on (a turn from the CLI); a new server
-- starts and the chat catches up from the last seq it drew: every line once, none lost.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'helpers.lua'))

local _, first = H.open('calc.py')
vim.cmd('AgentChat')
H.chat_send('first question')
H.wait('the first answer', function()
  return H.chat_count('── completed') == 1
end)
local thread = H.thread()

-- the documented restart (:help lsp-restart), with a turn in between
vim.lsp.enable('agent_lsp', false)
H.wait('the server to stop', function()
  return #vim.lsp.get_clients({ name = 'agent_lsp' }) == 0
end)
local cli = vim.system({ 'agent-lsp', 'ask', '--thread', thread.id, 'second question' },
  { cwd = H.root, text = true }):wait(30000)
H.check(cli.code == 0, 'agent-lsp ask failed: ' .. (cli.stderr or ''))
H.check(H.chat_count('second question') == 0, 'the chat has not seen the second turn yet')

vim.lsp.enable('agent_lsp')
H.wait('the new server', function()
  local client = H.client()
  return client and client.id ~= first.id and client.initialized
end)
H.wait('the missed turn', function()
  return H.chat_count('── completed') == 2
end)
H.check(H.chat_count('Agent: Second answer, while the editor was away.') == 1, 'the missed answer once')

-- <CR> in Normal mode sends what is on the prompt line
local chat = require('agent_lsp.chat').buf
vim.api.nvim_set_current_win(vim.fn.win_findbuf(chat)[1])
vim.api.nvim_buf_set_lines(chat, -2, -1, false, { '> third question' })
H.press('<CR>')
H.wait('the third answer', function()
  return H.chat_count('── completed') == 3
end)
local function once(text)
  H.check(H.chat_count(text) == 1, ('%q is drawn exactly once'):format(text))
end
once('You: first question')
once('Agent: First answer.')
once('You: second question')
once('Agent: Second answer, while the editor was away.')
once('You: third question')
once('Agent: Third answer.')

-- a replayed event (seq already seen) is dropped
local lines = #H.chat_lines()
local client = assert(H.client())
local replay = client:request_sync('agent/thread/resume', { threadId = thread.id, afterSeq = 0 }, 5000)
H.check(replay and replay.result and #replay.result.events > 0, 'resume returned the events')
for _, event in ipairs(replay.result.events) do
  require('agent_lsp.state').on_notification(nil, event, { method = 'agent/event', client_id = client.id })
end
vim.wait(50, function() return false end)
H.check(#H.chat_lines() == lines, 'duplicates changed the chat')
once('Agent: First answer.')
H.check(H.thread().last_seq == replay.result.events[#replay.result.events].seq, 'the last seq is tracked')

-- a fresh session (nothing known) picks the thread with :AgentThreads: resume replays it all
local state = require('agent_lsp.state')
state.threads, state.current = {}, nil
require('agent_lsp.chat').draw()
H.check(H.chat_count('First answer.') == 0, 'the chat was emptied')
local offered
vim.ui.select = function(items, opts, on_choice)
  offered = vim.tbl_map(opts.format_item, items)
  on_choice(vim.iter(items):find(function(t) return t.id == thread.id end))
end
vim.cmd('AgentThreads')
H.wait('the replayed thread', function()
  return H.chat_count('── completed') == 3
end)
H.check(offered[1] == '+ New thread' and offered[2]:find('first question', 1, true), vim.inspect(offered))
once('Agent: First answer.')
once('Agent: Second answer, while the editor was away.')
once('Agent: Third answer.')
print('ok')

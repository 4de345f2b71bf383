-- A turn that streams and then stalls: progress shows in vim.lsp.status(), and `i` in the
-- chat interrupts it.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'helpers.lua'))

H.open('calc.py')
vim.cmd('AgentChat')
H.chat_send('explain everything')
local status = ''
H.wait('the start of the answer, and progress', function()
  local now = vim.lsp.status()
  status = now ~= '' and now or status
  return H.chat_count('Agent: a very') == 1 and status:find('Agent', 1, true)
end)
H.check(H.thread().running, 'the turn is running')
H.check(H.chat_count('working (i or <C-c> interrupts)') == 1, 'the chat says the agent works')

H.press('i')
H.wait('the interrupted turn', function()
  return H.chat_count('── interrupted ──') == 1
end)
H.check(not H.thread().running, 'the turn ended')
H.check(H.chat_count('working (') == 0, 'the chat no longer says the agent works')
H.check(H.chat_count('never ends') == 0, 'the rest of the answer never came')
print('ok')

-- First half of the rejoin case (tests/test_neovim.py runs rejoin_return.lua next, in a new
-- Neovim): a prompt starts a turn in the agent host, the turn stops at an approval, and this
-- Neovim quits with the approval unanswered. The turn goes on waiting in the host.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'helpers.lua'))

H.open('calc.py')
vim.cmd('AgentChat')
H.chat_send('fix add and sub')
H.wait('the approval in the chat', function()
  return H.chat_count('? Approve: Edit calc.py') == 1
end)
H.check(H.thread().running, 'the turn runs, waiting for the approval')
H.check(H.read('calc.py') == 'def add(a, b):\n    return a - b\n', 'nothing is written before an answer')
print('ok')
vim.cmd('qall!') -- quit with the approval waiting

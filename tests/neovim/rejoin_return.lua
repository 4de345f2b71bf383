-- Second half of the rejoin case (after rejoin_leave.lua quit Neovim mid-turn): a new Neovim
-- opens the workspace and finds the turn still waiting, its approval drawn as a diagnostic and
-- in the chat, which replays the turn so far. It approves from here (:AgentApprove on the
-- diagnostic): the edit lands in its buffer. The next is approved with the code action, the
-- last by `agent-lsp attach` in a terminal, and the chat names the terminal (only). Every line
-- of the turn is drawn once.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'helpers.lua'))

local FIXED = 'def add(a, b):\n    return a + b\n'
local TYPED = 'def add(a: int, b: int):\n    return a + b\n'
local calc = H.open('calc.py')
local function agent_diagnostic()
  return vim.tbl_filter(function(d)
    return d.source == 'agent'
  end, vim.diagnostic.get(calc))[1]
end
H.wait('the waiting approval as a diagnostic', agent_diagnostic)
H.check(vim.startswith(agent_diagnostic().message, 'Agent proposes: Edit calc.py\n'), agent_diagnostic().message)

vim.cmd('AgentChat')
H.wait('the running turn replayed in the chat', function()
  return H.chat_count('? Approve: Edit calc.py') == 1
end)
H.check(H.chat_count('You: fix add and sub') == 1, 'the prompt of the turn is drawn')
H.check(H.thread().running, 'the turn is still running')

vim.api.nvim_set_current_win(vim.fn.win_findbuf(calc)[1])
vim.api.nvim_win_set_cursor(0, { agent_diagnostic().lnum + 1, 0 })
vim.cmd('AgentApprove')
H.wait('the edit in the buffer', function()
  return H.text(calc) == FIXED
end)
H.wait('the edit written to disk', function()
  return H.read('calc.py') == FIXED
end)

-- the next approval, answered with the code action on its diagnostic
H.wait('the second approval', function()
  return H.chat_count('? Approve: Edit calc.py') == 1 and agent_diagnostic() ~= nil
end)
vim.api.nvim_set_current_win(vim.fn.win_findbuf(calc)[1])
vim.api.nvim_win_set_cursor(0, { agent_diagnostic().lnum + 1, 0 })
local offered = {}
vim.lsp.buf.code_action({
  apply = true,
  filter = function(action)
    offered[#offered + 1] = action.title
    return vim.startswith(action.title, 'Approve agent edit')
  end,
})
H.wait('the code action applied', function()
  return H.text(calc) == TYPED
end)
H.check(vim.tbl_contains(offered, 'Approve agent edit: Edit calc.py'), vim.inspect(offered))

-- the last approval, answered at a terminal
H.wait('the third approval', function()
  return H.chat_count('? Approve: Edit other.py') == 1
end)
local attach = vim.system({ 'agent-lsp', 'attach', H.thread().id }, { cwd = H.root, stdin = 'y\n', text = true })
H.wait('the end of the turn', function()
  return H.chat_count('── completed') == 1
end, 30000)
local done = attach:wait(15000)
H.check(done.code == 0, ('agent-lsp attach exited %s: %s'):format(done.code, done.stderr))
H.check(H.read('other.py') == 'def sub(a, b):\n    return a - b\n', 'other.py holds the edit')

local function once(text)
  H.check(H.chat_count(text) == 1, ('%q is drawn exactly once'):format(text))
end
once('You: fix add and sub')
once('Agent: Let me fix both.')
H.check(H.chat_count('✓ Edit calc.py (applied)') == 2, 'both changes of calc.py are drawn as applied, once each')
H.check(H.chat_count('✓ Approved: Edit calc.py') == 2, 'both answered here (command, code action): no name')
once('✓ Edit other.py (applied)')
once('✓ Approved by agent-lsp attach: Edit other.py')
once('Agent: Fixed all three.')
H.check(H.read('calc.py') == TYPED, 'calc.py holds both edits')
once('── completed')
H.check(H.chat_count('? Approve') == 0, 'no approval is left waiting')
print('ok')

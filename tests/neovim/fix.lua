-- :AgentFix on a linter's diagnostic, then two approvals (:AgentApprove on the "Agent
-- proposes" diagnostic, `s` in the chat). The edit to a buffer without unsaved changes is
-- written to disk; the edit to a buffer with unsaved changes lands but stays unsaved.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'helpers.lua'))

local FIXED = 'def add(a, b):\n    return a + b\n'

-- other.py has unsaved changes (a note the user typed)
local other = H.open('other.py')
vim.api.nvim_buf_set_lines(other, 0, 0, false, { '# unsaved note' })
H.check(vim.bo[other].modified, 'other.py has unsaved changes')

local calc = H.open('calc.py')
local lint = vim.api.nvim_create_namespace('test.lint')
vim.diagnostic.set(lint, calc, { {
  lnum = 1, col = 4, end_lnum = 1, end_col = 16, severity = vim.diagnostic.severity.WARN,
  message = 'add() subtracts its arguments', source = 'pylint', code = 'W9999',
} })
vim.api.nvim_win_set_cursor(0, { 2, 8 })
vim.cmd('AgentFix')

-- the pending approval is published as a diagnostic (source "agent") on the changed line
local function agent_diagnostic()
  return vim.tbl_filter(function(d)
    return d.source == 'agent'
  end, vim.diagnostic.get(calc))[1]
end
H.wait('the approval diagnostic', agent_diagnostic)
H.check(vim.startswith(agent_diagnostic().message, 'Agent proposes: Edit calc.py\n'), 'approval diagnostic message')
H.check(H.chat_count('? Approve: Edit calc.py') == 1, 'the chat draws the pending approval')
H.check(H.chat_count('+    return a + b') == 1, 'the chat draws the diff once')
vim.api.nvim_win_set_cursor(0, { agent_diagnostic().lnum + 1, 0 })
vim.cmd('AgentApprove')

H.wait('the edit written to disk', function()
  return H.read('calc.py') == FIXED
end)
H.check(H.text(calc) == FIXED, 'the buffer holds the edit')
H.check(not vim.bo[calc].modified, 'calc.py was written')
H.check(agent_diagnostic() == nil, 'the approval diagnostic is gone')

-- second approval, answered from the chat with `s` (approve for the session)
H.wait('the second approval', function()
  return H.chat_count('? Approve: Edit other.py') == 1
end)
vim.api.nvim_set_current_win(vim.fn.win_findbuf(require('agent_lsp.chat').buf)[1])
H.press('s')
H.wait('the end of the turn', function()
  return H.chat_count('── completed') == 1
end)
H.check(H.chat_count('✓ Edit calc.py (applied)') == 1, 'the first change is drawn as applied')
H.check(H.chat_count('✓ Edit other.py (applied)') == 1, 'the second change is drawn as applied')
H.check(H.chat_count('✓ Approved: Edit other.py') == 1, 'the chat shows the approval resolved')
local decisions = vim.tbl_map(function(a)
  return a.resolved and a.resolved.decision
end, vim.tbl_values(H.thread().approvals))
table.sort(decisions)
H.check(vim.deep_equal(decisions, { 'approve', 'approveForSession' }), vim.inspect(decisions))
H.check(H.text(other) == '# unsaved note\ndef sub(a, b):\n    return a - b\n', 'other.py holds the edit')
H.check(vim.bo[other].modified, 'other.py still has unsaved changes')
H.check(H.read('other.py') == 'def sub(a, b):\n    return a + b\n', 'other.py on disk is untouched')
H.check(H.chat_count('Agent: Fixed both.') == 1, 'the final answer is drawn')
print('ok')

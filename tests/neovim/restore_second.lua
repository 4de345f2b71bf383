-- Second Neovim of the restore case (after restore_first.lua quit): :AgentChat shows the
-- workspace's last thread again. The code-action menu offers "Ask agent to fix" for a linter's
-- diagnostic (not the agent's own source), and a prompt naming #buffer and @other.py sends
-- both files along, in the same thread.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'helpers.lua'))

local calc = H.open('calc.py')
vim.cmd('AgentChat')
H.wait('the last thread restored', function()
  return H.chat_count('Agent: First answer.') == 1
end)
H.check(H.chat_count('You: first question') == 1, 'the first prompt is drawn once')

-- "Ask agent to fix" for a linter's diagnostic, from the code-action menu
local lint = vim.api.nvim_create_namespace('test.lint')
vim.diagnostic.set(lint, calc, { {
  lnum = 1, col = 4, end_lnum = 1, end_col = 16, severity = vim.diagnostic.severity.WARN,
  message = 'add() subtracts its arguments', source = 'pylint', code = 'W9999',
} })
vim.api.nvim_set_current_win(vim.fn.win_findbuf(calc)[1])
vim.api.nvim_win_set_cursor(0, { 2, 8 })
local offered, asked = {}, false
vim.lsp.buf.code_action({
  filter = function(action)
    offered[#offered + 1] = action.title
    asked = true
    return false
  end,
})
H.wait('the code actions', function()
  return asked
end)
H.check(vim.tbl_contains(offered, 'Ask agent to fix: add() subtracts its arguments'), vim.inspect(offered))

-- #buffer and @other.py go along with the prompt
H.chat_send('compare #buffer with @other.py')
H.wait('the second answer', function()
  return H.chat_count('── completed') == 2
end)
local parts
for _, item in pairs(H.thread().items) do
  if item.type == 'userMessage' and item.content[1].text == 'compare #buffer with @other.py' then
    parts = item.content
  end
end
H.check(parts and #parts == 3, 'text and two selections: ' .. vim.inspect(parts))
H.check(parts[2].uri == vim.uri_from_bufnr(calc) and parts[3].uri:sub(-#'/other.py') == '/other.py',
  vim.inspect(parts))
H.check(H.chat_count('Agent: Second answer.') == 1, 'the answer is drawn')
H.check(H.chat_count('You: first question') == 1, 'same thread')
print('ok')

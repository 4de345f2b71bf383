-- A pending edit shown with :AgentDiff, then rejected from the chat with `r`: the reason,
-- typed at vim.ui.input, reaches the model, and the buffer is left alone.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'helpers.lua'))

local REASON = 'keep subtraction, callers rely on it'
local calc = H.open('calc.py')
local before = H.text(calc)
vim.cmd('AgentChat')
H.chat_send('fix add')
H.wait('the approval', function()
  return H.chat_count('? Approve: Edit calc.py') == 1
end)

-- :AgentDiff shows the pending change in a split, as a diff
local chat_win = vim.api.nvim_get_current_win()
vim.cmd('AgentDiff')
local diff = vim.api.nvim_get_current_buf()
H.check(vim.bo[diff].filetype == 'diff', 'the diff buffer has filetype diff')
local lines = vim.api.nvim_buf_get_lines(diff, 0, -1, false)
H.check(vim.tbl_contains(lines, '-    return a - b') and vim.tbl_contains(lines, '+    return a + b'),
  'the diff buffer holds the diff: ' .. vim.inspect(lines))
H.press('q')
H.check(not vim.api.nvim_buf_is_valid(diff), 'q closes the diff')

-- the diff lines in the chat are highlighted as a diff
local chat = require('agent_lsp.chat').buf
local added = vim.fn.index(H.chat_lines(), '+    return a + b')
local marks = vim.api.nvim_buf_get_extmarks(chat, -1, { added, 0 }, { added, -1 }, { details = true })
H.check(#marks > 0 and marks[1][4].line_hl_group == 'DiffAdd', 'added lines are DiffAdd')

local asked
vim.ui.input = function(opts, on_confirm)
  asked = opts.prompt
  on_confirm(REASON)
end
vim.api.nvim_set_current_win(chat_win)
H.press('r')
H.wait('the end of the turn', function()
  return H.chat_count('── completed') == 1
end)
H.check(asked and asked:find('Reason', 1, true), 'r asked for a reason')
H.check(H.chat_count('✗ Rejected: Edit calc.py') == 1, 'the chat shows the rejection')
H.check(H.chat_count('Edit calc.py (rejected)') == 1, 'the change is drawn as rejected')
H.check(H.chat_count('Agent: Understood, leaving add alone.') == 1, 'the answer is drawn')
H.check(H.text(calc) == before and not vim.bo[calc].modified, 'the buffer is untouched')
print('ok')

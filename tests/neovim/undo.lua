-- :AgentUndo after the user changed one of the agent's lines: the agent's other change is
-- reverted in the buffer, the user's line stays, and Neovim says the file was only partly undone.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'helpers.lua'))

local big = H.open('big.py')
local source_win = vim.api.nvim_get_current_win()
vim.cmd('AgentChat')
H.chat_send('tidy big.py')
local review = vim.api.nvim_create_namespace('agent_lsp.review')
H.wait('the change drawn in big.py', function()
  return #vim.api.nvim_buf_get_extmarks(big, review, 0, -1, {}) > 0
end)
vim.api.nvim_set_current_win(source_win)
vim.api.nvim_win_set_cursor(0, { 3, 0 })
H.press('gA') -- the whole change
H.wait('the end of the turn', function()
  return H.chat_count('── completed') == 1
end)
local line = function(n)
  return vim.api.nvim_buf_get_lines(big, n - 1, n, false)[1]
end
H.check(line(3) == '    return a + b' and line(20) == '    return a ** b', 'both hunks applied')

-- the user changes the agent's second line, and saves
vim.api.nvim_buf_set_lines(big, 19, 20, false, { '    return a // b' })
vim.cmd('write')

local notes = {}
vim.notify = function(msg, level)
  notes[#notes + 1] = { msg = msg, level = level }
end
vim.cmd('AgentUndo')
H.wait('the undo result', function()
  return vim.iter(notes):any(function(n) return n.msg:find('undone', 1, true) ~= nil end)
end)
H.wait('the agent line reverted in the buffer', function()
  return line(3) == '    return a - b'
end)
H.check(line(20) == '    return a // b', 'the line the user changed is left alone: ' .. line(20))
local note = vim.iter(notes):find(function(n) return n.msg:find('undone', 1, true) ~= nil end)
H.check(note.msg:find('big.py: partly', 1, true) and note.level == vim.log.levels.WARN, vim.inspect(notes))
H.wait('the undo written to disk', function()
  return H.read('big.py'):find('return a - b', 1, true) ~= nil
end)
H.check(H.read('big.py'):find('return a // b', 1, true), 'the user line on disk: ' .. H.read('big.py'))
print('ok')

-- First Neovim of the restore case: one turn in the chat, then :qa (never refused by the chat).
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'helpers.lua'))

H.open('calc.py')
vim.cmd('AgentChat')
H.chat_send('first question')
H.wait('the first answer', function()
  return H.chat_count('── completed') == 1
end)
vim.api.nvim_buf_set_lines(require('agent_lsp.chat').buf, -2, -1, false, { '> typed, never sent' })
print('quitting')
local ok, err = pcall(vim.cmd, 'qa')
error(':qa did not quit: ' .. tostring(ok) .. ' ' .. tostring(err))

-- Inline review: a pending write of big.py (two hunks) is drawn in the source buffer, in both
-- windows that show it at once; `agent-lsp attach` joins and the chat's header names it. `ga`
-- accepts the first hunk, `gr` rejects the second: the file gets only the accepted one.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'helpers.lua'))

vim.o.timeoutlen = 50 -- `gr` waits for Neovim's own grn / grr / gra
local big = H.open('big.py')
vim.cmd('vsplit') -- a second window on the same buffer
local source_win = vim.api.nvim_get_current_win()
vim.cmd('AgentChat')
H.chat_send('tidy big.py')
H.wait('the approval', function()
  return H.chat_count('? Approve: Write big.py') == 1
end)

local review_ns = vim.api.nvim_get_namespaces()['agent_lsp.review']
local function headers()
  local found = {}
  for _, m in ipairs(vim.api.nvim_buf_get_extmarks(big, review_ns or -1, 0, -1, { details = true })) do
    for _, line in ipairs(m[4].virt_lines or {}) do
      if line[1][1]:find('Agent proposes', 1, true) then
        found[#found + 1] = table.concat(vim.tbl_map(function(c) return c[1] end, line))
      end
    end
  end
  return found
end
H.wait('the hunks drawn in the buffer', function()
  review_ns = vim.api.nvim_get_namespaces()['agent_lsp.review']
  return review_ns and #headers() == 2
end)
H.check(headers()[1]:find('Agent proposes: Write big.py, hunk 1 of 2', 1, true), vim.inspect(headers()))

--- The screen's text, row by row (headless Neovim still draws its grid).
local function screen()
  vim.cmd('redraw!')
  local rows = {}
  for row = 1, vim.o.lines do
    local chars = {}
    for col = 1, vim.o.columns do
      chars[#chars + 1] = vim.fn.screenstring(row, col)
    end
    rows[#rows + 1] = table.concat(chars)
  end
  return table.concat(rows, '\n')
end
local _, drawn = screen():gsub('Agent proposes', '')
H.check(drawn >= 2, 'the marker is drawn in both windows of big.py:\n' .. screen())
local _, added = screen():gsub('return a %+ b', '')
H.check(added >= 2, 'the added line is drawn in place in both windows:\n' .. screen())

-- another surface joins: the chat's header says so (not this Neovim itself)
local attach = vim.system({ 'agent-lsp', 'attach', H.thread().id }, { cwd = H.root, stdin = true, text = true })
H.wait('the header naming agent-lsp attach', function()
  return H.chat_lines()[1]:find('also here: agent-lsp attach', 1, true) ~= nil
end)
H.check(not H.chat_lines()[1]:find('Neovim', 1, true), 'this Neovim is not listed: ' .. H.chat_lines()[1])

-- ga on hunk 1 (line 3), gr on hunk 2 (line 20)
vim.api.nvim_set_current_win(source_win)
vim.api.nvim_win_set_cursor(0, { 3, 0 })
H.press('ga')
H.wait('hunk 1 marked accepted', function()
  return (headers()[1] or ''):find('accepted', 1, true) ~= nil
end)
vim.api.nvim_win_set_cursor(0, { 20, 0 })
H.press('gr')
H.wait('the end of the turn', function()
  return H.chat_count('── completed') == 1
end)
local want = H.read('big.py')
H.check(want:find('return a + b', 1, true) and want:find('return a * b', 1, true), 'only hunk 1 landed: ' .. want)
H.check(not want:find('return a ** b', 1, true), 'hunk 2 was not applied: ' .. want)
H.wait('the marks cleared', function()
  return #headers() == 0
end)
H.check(vim.fn.maparg('ga', 'n', false, true).buffer ~= 1, 'the review keys are gone')
H.check(H.chat_count('✓ Approved: Write big.py') == 1, 'answered here: no name')

attach:kill('sigterm')
H.wait('the header without agent-lsp attach', function()
  return not H.chat_lines()[1]:find('also here', 1, true)
end)
print('ok')

-- Neovim 0.11 WITHOUT the agent-lsp plugin: only vim.lsp.config and built-in commands.
-- Run by tests/test_plain_lsp_editors.py as `nvim --headless --clean -l plain_chat.lua` with
-- AGENT_LSP_TEST_ROOT (a workspace with .git and calc.py) and the fake model API scripted.
-- A conversation in the chat file, an approval from the code-action menu, an ask from a
-- comment line. Any failed check exits 1; every wait is bounded well below 120 s.
local root = assert(os.getenv('AGENT_LSP_TEST_ROOT'), 'AGENT_LSP_TEST_ROOT is not set')
vim.g.loaded_python3_provider = 0

vim.lsp.config('agent', {
  cmd = { 'agent-lsp', 'serve' },
  filetypes = { 'python', 'markdown' },
  root_markers = { '.git' },
})
vim.lsp.enable('agent')

local function check(ok, what)
  if not ok then
    error('check failed: ' .. what, 2)
  end
end

local function wait(what, predicate, ms)
  local started = vim.uv.hrtime()
  if not vim.wait(ms or 10000, predicate, 10) then
    local buffers = {}
    for _, buf in ipairs(vim.api.nvim_list_bufs()) do
      table.insert(buffers, ('--- %s\n%s'):format(vim.api.nvim_buf_get_name(buf),
        table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n')))
    end
    error('timed out waiting for ' .. what .. '\n' .. table.concat(buffers, '\n'), 2)
  end
  return (vim.uv.hrtime() - started) / 1e9
end

local function attached(buf)
  local client = vim.lsp.get_clients({ name = 'agent', bufnr = buf })[1]
  return client and client.initialized
end

local function text(buf)
  return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n')
end

--- The built-in code action menu, answered with the first action whose title starts with `prefix`.
local function code_action(prefix)
  local seen = {}
  vim.lsp.buf.code_action({
    apply = true,
    filter = function(action)
      table.insert(seen, action.title)
      return vim.startswith(action.title, prefix)
    end,
  })
  return seen
end

local messages = {}
local show_message = vim.lsp.handlers['window/showMessage']
vim.lsp.handlers['window/showMessage'] = function(err, result, ctx, config)
  table.insert(messages, result.message)
  return show_message(err, result, ctx, config)
end

-- 1. open a source file, then "New agent chat" from its code-action menu
vim.cmd.edit(vim.fs.joinpath(root, 'calc.py'))
local calc = vim.api.nvim_get_current_buf()
wait('the server on calc.py', function() return attached(calc) end)
code_action('New agent chat')
wait('the chat file shown', function()
  return vim.api.nvim_buf_get_name(0):find('.agent-lsp/chats/', 1, true) ~= nil
end)
local chat = vim.api.nvim_get_current_buf()
wait('the server on the chat file', function() return attached(chat) end)
check(text(chat):find('## You', 1, true), 'the chat file has a prompt heading')

-- 2. type a prompt at its end and "Send to agent"; the answer streams into the buffer
vim.api.nvim_buf_set_lines(chat, -2, -1, false, { 'What does add do?' })
code_action('Send to agent')
wait('the streamed answer', function() return text(chat):find('It subtracts b from a.', 1, true) end)
wait('the end of the first turn', function()
  local _, n = text(chat):gsub('\n## You\n', '')
  return n == 2
end)

-- 3. a second prompt: the agent proposes an edit, approved from the chat's code-action menu
vim.api.nvim_buf_set_lines(chat, -2, -1, false, { 'Please fix it.' })
code_action('Send to agent')
wait('the approval in the chat', function() return text(chat):find('Approval needed: Edit calc.py', 1, true) end)
check(text(chat):find('+    return a + b', 1, true), 'the chat shows the diff')
local diags = vim.diagnostic.get(calc)
check(#diags == 1 and diags[1].message:find('+    return a + b', 1, true), 'the approval diagnostic holds the diff')
local approved = vim.uv.hrtime()
code_action('Approve agent edit')
wait('the edit in calc.py', function() return text(calc) == 'def add(a, b):\n    return a + b' end, 5000)
local landed = (vim.uv.hrtime() - approved) / 1e9
check(landed < 1.0, ('the edit landed %.2f s after the approval'):format(landed))
wait('the end of the second turn', function() return text(chat):find('Fixed.', 1, true) end)

-- 4. ask from a comment line in calc.py
vim.api.nvim_set_current_buf(calc)
vim.api.nvim_buf_set_lines(calc, 0, 0, false, { '# agent: is add tested?' })
vim.api.nvim_win_set_cursor(0, { 1, 0 })
code_action('Ask agent: is add tested?')
wait('the answer diagnostic on the comment line', function()
  for _, d in ipairs(vim.diagnostic.get(calc)) do
    if d.lnum == 0 and d.message:find('No tests yet.', 1, true) then
      return true
    end
  end
end)
wait('the answer in the chat file', function() return text(chat):find('No tests yet.', 1, true) end)
local shown = table.concat(messages, '\n')
check(shown:find('No tests yet.', 1, true) and shown:find('.agent-lsp/chats/', 1, true),
  'the end of the turn is shown with the chat path: ' .. shown)
print(('ok (approval landed in %.2f s)'):format(landed))

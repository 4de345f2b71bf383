-- Shared by the cases in this folder. Each case runs as
--   nvim --headless --clean -l tests/neovim/<case>.lua
-- with AGENT_LSP_PLUGIN (editors/neovim) and AGENT_LSP_TEST_ROOT (a workspace with .git)
-- set by tests/test_neovim.py, which also runs the fake model API. A Lua error exits 1.
local H = {}

H.root = assert(os.getenv('AGENT_LSP_TEST_ROOT'), 'AGENT_LSP_TEST_ROOT is not set')

vim.g.loaded_python3_provider = 0
vim.g.loaded_node_provider = 0
vim.g.loaded_perl_provider = 0
vim.g.loaded_ruby_provider = 0
vim.opt.rtp:append(assert(os.getenv('AGENT_LSP_PLUGIN'), 'AGENT_LSP_PLUGIN is not set'))
vim.cmd.runtime('plugin/agent_lsp.lua')
vim.lsp.enable('agent_lsp')
require('agent_lsp').setup({ chat = { insert = false } })

--- Waits (processing events) until `predicate` holds, or fails the case.
---@param what string
---@param predicate fun(): any
---@param ms? integer
function H.wait(what, predicate, ms)
  if not vim.wait(ms or 15000, predicate, 10) then
    local chat = package.loaded['agent_lsp.chat'] and require('agent_lsp.chat').buf
    local shown = chat and vim.api.nvim_buf_is_valid(chat)
      and table.concat(vim.api.nvim_buf_get_lines(chat, 0, -1, false), '\n') or '(not open)'
    error('timed out waiting for ' .. what .. '\n--- chat ---\n' .. shown, 2)
  end
end

---@return vim.lsp.Client?
function H.client()
  return vim.lsp.get_clients({ name = 'agent_lsp' })[1]
end

--- Opens a workspace file and waits for the server to attach and initialize.
---@param rel string
---@return integer bufnr, vim.lsp.Client
function H.open(rel)
  vim.cmd.edit(vim.fs.joinpath(H.root, rel))
  local buf = vim.api.nvim_get_current_buf()
  H.wait('the agent_lsp client', function()
    local client = vim.lsp.get_clients({ name = 'agent_lsp', bufnr = buf })[1]
    return client and client.initialized
  end)
  return buf, assert(H.client())
end

---@param path string
---@return string
function H.read(path)
  local file = assert(io.open(vim.fs.joinpath(H.root, path), 'rb'))
  local text = file:read('*a')
  file:close()
  return text
end

---@param buf integer
---@return string
function H.text(buf)
  return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n') .. '\n'
end

--- The chat buffer's lines (the chat must have been opened).
---@return string[]
function H.chat_lines()
  local buf = assert(require('agent_lsp.chat').buf, 'the chat is not open')
  return vim.api.nvim_buf_get_lines(buf, 0, -1, false)
end

--- How many chat lines contain `text` (plain).
---@param text string
---@return integer
function H.chat_count(text)
  local n = 0
  for _, line in ipairs(H.chat_lines()) do
    if line:find(text, 1, true) then
      n = n + 1
    end
  end
  return n
end

--- Types a prompt in the chat and presses <CR>, as a user would.
---@param text string
function H.chat_send(text)
  local win = vim.fn.win_findbuf(require('agent_lsp.chat').buf)[1]
  assert(win, 'the chat window is not open')
  vim.api.nvim_set_current_win(win)
  vim.api.nvim_feedkeys('A' .. text .. vim.keycode('<CR>'), 'xt', false)
end

--- Presses keys in Normal mode in the current window (mappings apply).
---@param keys string
function H.press(keys)
  vim.api.nvim_feedkeys(vim.keycode(keys), 'xt', false)
end

--- The followed thread's state.
---@return agent_lsp.Thread
function H.thread()
  local state = require('agent_lsp.state')
  return assert(state.current and state.threads[state.current], 'no followed thread')
end

--- Fails with the chat's content when `ok` is false.
---@param ok any
---@param message string
function H.check(ok, message)
  if not ok then
    local chat = package.loaded['agent_lsp.chat'] and require('agent_lsp.chat').buf
    local shown = chat and table.concat(H.chat_lines(), '\n') or '(not open)'
    error(message .. '\n--- chat ---\n' .. shown, 2)
  end
end

return H

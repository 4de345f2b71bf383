-- :checkhealth agent_lsp: every check passes with the server on PATH, a key and a state dir.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'helpers.lua'))

vim.cmd('checkhealth agent_lsp')
local report = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
local function expect(text)
  if not report:find(text, 1, true) then
    error(('missing %q in the report:\n%s'):format(text, report))
  end
end
expect('agent-lsp')
expect('server executable: ')
expect('server version: agent-lsp ')
expect('ANTHROPIC_API_KEY is set')
expect('is writable')
expect("vim.lsp.enable('agent_lsp') was called")
if report:find('ERROR', 1, true) or report:find('WARNING', 1, true) then
  error('the report has problems:\n' .. report)
end

-- the help file is a valid vim help file: :helptags accepts it (no duplicate tags) and
-- :help finds the commands
local docs = vim.fn.tempname()
vim.fn.mkdir(docs .. '/doc', 'p')
vim.uv.fs_copyfile(vim.fs.joinpath(os.getenv('AGENT_LSP_PLUGIN'), 'doc', 'agent_lsp.txt'), docs .. '/doc/agent_lsp.txt')
vim.cmd.helptags(docs .. '/doc')
vim.opt.rtp:append(docs)
for _, tag in ipairs({ 'agent_lsp', ':AgentChat', ':AgentAsk', ':AgentFix', ':AgentApprove', ':AgentReject',
                       ':AgentInterrupt', ':AgentThreads', ':AgentDiff', 'agent_lsp-chat-keys' }) do
  vim.cmd.help(tag)
  H.check(vim.fs.basename(vim.api.nvim_buf_get_name(0)) == 'agent_lsp.txt', 'help for ' .. tag)
  vim.cmd.close()
end
print('ok')

-- The agent sees what the editor sees (issue 20): a second language server (fixture_server.py)
-- lints calc.py and answers definition. The agent's edit introduces the linted name; the plugin
-- forwards the fixture's diagnostic and the edit's tool result names it (checked in Python);
-- the model's `definition` call is answered by the fixture through agent/editor/query.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'helpers.lua'))
local here = vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2))

local calc, agent = H.open('calc.py')
H.check(agent.config.capabilities.experimental.agentLsp.editorQueries == true, 'editorQueries announced')
local fixture = assert(vim.lsp.start({
  name = 'fixture-lint',
  cmd = { 'python', vim.fs.joinpath(here, 'fixture_server.py') },
  root_dir = H.root,
}, { bufnr = calc }))
H.wait('the fixture server', function()
  local client = vim.lsp.get_client_by_id(fixture)
  return client and client.initialized
end)

vim.cmd('AgentChat')
H.chat_send('use add')
H.wait('the approval', function()
  return H.chat_count('? Approve: Edit calc.py') == 1
end)
H.press('a')
H.wait('the edit in the buffer', function()
  return H.text(calc):find('undefined_name', 1, true) ~= nil
end)
H.wait('the fixture diagnostic in Neovim', function()
  return #vim.diagnostic.get(calc, { severity = vim.diagnostic.severity.ERROR }) > 0
end)
H.wait('the end of the turn', function()
  return H.chat_count('── completed') == 1
end, 30000)

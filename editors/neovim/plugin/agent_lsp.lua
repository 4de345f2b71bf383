-- agent-lsp: the :Agent* commands. Modules load on first use; the server itself is started by
-- `vim.lsp.enable('agent_lsp')` (see lsp/agent_lsp.lua and :help agent_lsp).
if vim.g.loaded_agent_lsp then
  return
end
vim.g.loaded_agent_lsp = true

local function api()
  return require('agent_lsp')
end

local command = vim.api.nvim_create_user_command

command('AgentChat', function()
  api().chat()
end, { desc = 'agent-lsp: toggle the chat' })

command('AgentAsk', function(opts)
  api().ask_command(opts)
end, { nargs = '+', range = true, desc = 'agent-lsp: ask the agent (a range sends the selection)' })

command('AgentFix', function()
  api().fix()
end, { desc = 'agent-lsp: ask the agent to fix the diagnostic under the cursor' })

command('AgentApprove', function()
  api().approve('approve')
end, { desc = 'agent-lsp: approve the pending change or command' })

command('AgentReject', function(opts)
  api().reject(opts.args)
end, { nargs = '?', desc = 'agent-lsp: reject the pending change or command, with a reason' })

command('AgentInterrupt', function()
  api().interrupt()
end, { desc = 'agent-lsp: interrupt the running turn' })

command('AgentCompact', function(opts)
  api().compact(opts.args)
end, { nargs = '?', desc = "agent-lsp: compact the chat's conversation (optional instructions for the summary)" })

command('AgentThreads', function()
  api().threads()
end, { desc = 'agent-lsp: pick a thread to show in the chat' })

command('AgentUndo', function(opts)
  api().undo(opts.args)
end, { nargs = '?', desc = "agent-lsp: undo the file changes of the chat's last turn (or of TURN_ID)" })

command('AgentDiff', function()
  api().diff()
end, { desc = "agent-lsp: show a pending change's diff" })

-- The editor's diagnostics go to agent-lsp once it attaches (lua/agent_lsp/intel.lua).
vim.api.nvim_create_autocmd('LspAttach', {
  group = vim.api.nvim_create_augroup('agent_lsp.intel.load', { clear = true }),
  callback = function(args)
    local client = vim.lsp.get_client_by_id(args.data.client_id)
    if client and client.name == 'agent_lsp' then
      require('agent_lsp.intel').setup()
      require('agent_lsp.intel').send(args.buf)
    end
  end,
})

-- An approval answered with the server's code actions is this Neovim's answer too.
for _, name in ipairs({ 'agent.approve', 'agent.reject' }) do
  vim.lsp.commands[name] = vim.lsp.commands[name] or function(cmd, ctx)
    api().server_command(cmd, ctx)
  end
end

-- A new server (after a restart) catches the chat up from the last event it drew; the code
-- actions of every client get the diagnostics of every source.
vim.api.nvim_create_autocmd('LspAttach', {
  group = vim.api.nvim_create_augroup('agent_lsp', { clear = true }),
  callback = function(args)
    local client = vim.lsp.get_client_by_id(args.data.client_id)
    if client and client.name == 'agent_lsp' then
      require('agent_lsp.client').share_diagnostics(client) -- "Ask agent to fix" for every source
      if package.loaded['agent_lsp.state'] then
        require('agent_lsp.state').on_attach(client)
      end
    end
  end,
})

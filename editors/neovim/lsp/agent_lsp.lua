-- The agent-lsp language server, for `vim.lsp.enable('agent_lsp')` (Neovim >= 0.11).
--
-- Override any field with `vim.lsp.config('agent_lsp', {...})`, e.g.
-- `init_options = { permissionMode = 'acceptEdits' }` or `settings = { agentLsp = {...} }`.
-- The handlers only require the plugin's modules when the server first calls them.

---@type vim.lsp.Config
return {
  cmd = { 'agent-lsp', 'serve' },
  -- filetypes = nil: the agent works on files of any language.
  root_markers = { { '.agent-lsp', '.git' }, 'pyproject.toml', 'package.json', 'Cargo.toml', 'go.mod' },
  -- the plugin answers agent/editor/query from the other language servers (lua/agent_lsp/intel.lua)
  capabilities = { experimental = { agentLsp = { editorQueries = true } } },
  handlers = {
    ['agent/editor/query'] = function(_, params)
      return require('agent_lsp.intel').query(params)
    end,
    ['agent/event'] = function(err, params, ctx)
      require('agent_lsp.review').watch() -- pending changes drawn in their buffers
      require('agent_lsp.state').on_notification(err, params, ctx)
    end,
    ['workspace/applyEdit'] = function(err, params, ctx)
      return require('agent_lsp.edits').apply(err, params, ctx)
    end,
  },
}

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
  handlers = {
    ['agent/event'] = function(err, params, ctx)
      require('agent_lsp.state').on_notification(err, params, ctx)
    end,
    ['workspace/applyEdit'] = function(err, params, ctx)
      return require('agent_lsp.edits').apply(err, params, ctx)
    end,
  },
}

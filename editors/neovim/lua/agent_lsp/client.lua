---@brief Finding (or starting) the `agent_lsp` client, and sending it requests.

local M = {}

M.name = 'agent_lsp'

---@type integer? the client the plugin used last
local last_id

---@param client vim.lsp.Client?
---@return boolean
local function usable(client)
  return client ~= nil and not client:is_stopped()
end

--- Calls `fn` once `client` has finished `initialize`.
---@param client vim.lsp.Client
---@param fn fun()
local function when_ready(client, fn)
  if client.initialized then
    return fn()
  end
  local timer = assert(vim.uv.new_timer())
  local started = vim.uv.now()
  timer:start(10, 10, vim.schedule_wrap(function()
    if timer:is_closing() then
      return
    end
    if client.initialized or client:is_stopped() or vim.uv.now() - started > 30000 then
      timer:close()
      if client.initialized then
        fn()
      end
    end
  end))
end

--- The agent_lsp client for `bufnr`: the one attached to it, else the one used last, else any.
---@param bufnr? integer
---@return vim.lsp.Client?
function M.get(bufnr)
  local attached = vim.lsp.get_clients({ name = M.name, bufnr = bufnr or 0 })[1]
  if usable(attached) then
    return attached
  end
  local last = last_id and vim.lsp.get_client_by_id(last_id)
  if usable(last) then
    return last
  end
  for _, client in ipairs(vim.lsp.get_clients({ name = M.name })) do
    if usable(client) then
      return client
    end
  end
end

--- Like |agent_lsp.client.get()|, but starts a server (rooted at the current buffer's
--- project, else the working directory) when none runs.
---@param bufnr? integer
---@return vim.lsp.Client?
function M.ensure(bufnr)
  local client = M.get(bufnr)
  if client then
    last_id = client.id
    return client
  end
  local config = vim.deepcopy(vim.lsp.config[M.name])
  if not config then
    vim.notify('agent-lsp: no `agent_lsp` LSP config; add editors/neovim to the runtimepath',
      vim.log.levels.ERROR)
    return nil
  end
  config.root_dir = config.root_dir
    or vim.fs.root(bufnr or 0, config.root_markers or { '.git' })
    or vim.fn.getcwd()
  local id = vim.lsp.start(config, { attach = false })
  last_id = id
  client = id and vim.lsp.get_client_by_id(id) or nil
  if client then
    local started = client
    when_ready(started, function() -- a new server: catch the chat up, as on LspAttach
      if package.loaded['agent_lsp.state'] then
        require('agent_lsp.state').on_attach(started)
      end
    end)
  end
  return client
end

--- The client that serves `root` (a thread's workspace), else |agent_lsp.client.get()|.
---@param root string?
---@return vim.lsp.Client?
function M.for_root(root)
  for _, client in ipairs(vim.lsp.get_clients({ name = M.name })) do
    if usable(client) and client.root_dir == root then
      return client
    end
  end
  return M.get()
end

--- Sends a request; errors are shown with |vim.notify()|, results go to `on_result`.
---@param client vim.lsp.Client
---@param method string
---@param params table
---@param on_result? fun(result: any)
function M.request(client, method, params, on_result)
  last_id = client.id
  when_ready(client, function()
    client:request(method, params, function(err, result)
      if err then
        vim.notify(('agent-lsp: %s'):format(err.message or vim.inspect(err)), vim.log.levels.ERROR)
      elseif on_result then
        on_result(result)
      end
    end)
  end)
end

--- Runs one of the server's `agent.*` commands (`workspace/executeCommand`).
---@param client vim.lsp.Client
---@param command string
---@param arguments any[]
---@param on_result? fun(result: any)
function M.command(client, command, arguments, on_result)
  M.request(client, 'workspace/executeCommand', { command = command, arguments = arguments }, on_result)
end

---@param line string
---@param encoding string
---@param col integer? byte column (nil: 0)
---@return integer
local function character(line, encoding, col)
  return vim.str_utfindex(line, encoding, math.min(col or 0, #line), false)
end

--- The LSP form of a |vim.Diagnostic|: the server's own when it came from LSP.
--- (Also what lua/agent_lsp/intel.lua forwards as `agent/editor/diagnostics`, in UTF-16.)
---@param d vim.Diagnostic
---@param bufnr integer
---@param encoding string
---@return lsp.Diagnostic
function M.lsp_diagnostic(d, bufnr, encoding)
  if d.user_data and d.user_data.lsp and d.user_data.lsp.range then
    return d.user_data.lsp
  end
  local function position(lnum, col)
    local line = vim.api.nvim_buf_get_lines(bufnr, lnum, lnum + 1, false)[1] or ''
    return { line = lnum, character = character(line, encoding, col) }
  end
  return {
    range = { start = position(d.lnum, d.col), ['end'] = position(d.end_lnum or d.lnum, d.end_col or d.col) },
    severity = d.severity,
    message = d.message,
    source = d.source,
    code = d.code,
  }
end

--- "Ask agent to fix" for every diagnostic: Neovim puts only a server's own diagnostics in
--- the context of its `textDocument/codeAction` requests, so this client's requests get the
--- diagnostics of every other source on the requested lines added (linters, other servers).
---@param client vim.lsp.Client
function M.share_diagnostics(client)
  if rawget(client, 'agent_lsp_shares') then
    return
  end
  rawset(client, 'agent_lsp_shares', true)
  local request = client.request
  local own = {
    [vim.lsp.diagnostic.get_namespace(client.id, false)] = true,
    [vim.lsp.diagnostic.get_namespace(client.id, true)] = true,
  }
  ---@diagnostic disable-next-line: duplicate-set-field
  client.request = function(self, method, params, handler, bufnr)
    local context = type(params) == 'table' and params.context
    if method == 'textDocument/codeAction' and type(context) == 'table' and params.range then
      local buf = (bufnr and bufnr ~= 0) and bufnr or vim.uri_to_bufnr(params.textDocument.uri)
      local first, last = params.range.start.line, params.range['end'].line
      local diagnostics = vim.list_extend({}, context.diagnostics or {})
      for _, d in ipairs(vim.diagnostic.get(buf)) do
        if not own[d.namespace] and d.lnum <= last and (d.end_lnum or d.lnum) >= first then
          diagnostics[#diagnostics + 1] = M.lsp_diagnostic(d, buf, client.offset_encoding)
        end
      end
      params = vim.tbl_extend('force', params, { context = vim.tbl_extend('force', context, {
        diagnostics = diagnostics,
      }) })
    end
    return request(self, method, params, handler, bufnr)
  end
end

return M

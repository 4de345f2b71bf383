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

return M

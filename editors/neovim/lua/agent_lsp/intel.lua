---@brief The agent sees what the editor sees (issue 20): Neovim's side.
---
--- Forwards every diagnostic Neovim shows for a file buffer (every source but agent-lsp's own)
--- to agent-lsp as `agent/editor/diagnostics`, on each `DiagnosticChanged` and when agent-lsp
--- attaches; and answers the server's `agent/editor/query` (definition, references,
--- workspaceSymbols, hover) with `request_sync` to every OTHER language server attached to the
--- buffer. Positions on the wire are 0-based lines and UTF-16 characters.

local clients = require('agent_lsp.client')

local M = {}

local NAME = 'agent_lsp'
local TIMEOUT_MS = 5000

---@return vim.lsp.Client[]
local function agents()
  return vim.lsp.get_clients({ name = NAME })
end

---@param bufnr integer
---@return table<integer, boolean>
local function own_namespaces()
  local own = {}
  for _, client in ipairs(agents()) do
    own[vim.lsp.diagnostic.get_namespace(client.id, false)] = true
    own[vim.lsp.diagnostic.get_namespace(client.id, true)] = true
  end
  return own
end

---@param bufnr integer
---@param lnum integer
---@return string
local function line_of(bufnr, lnum)
  return vim.api.nvim_buf_get_lines(bufnr, lnum, lnum + 1, false)[1] or ''
end

--- Sends the buffer's diagnostics (all but agent-lsp's) to every agent-lsp client.
---@param bufnr integer
function M.send(bufnr)
  if not vim.api.nvim_buf_is_valid(bufnr) or vim.bo[bufnr].buftype ~= '' then
    return
  end
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == '' then
    return
  end
  local own = own_namespaces()
  local diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    if not own[d.namespace] then
      diagnostics[#diagnostics + 1] = clients.lsp_diagnostic(d, bufnr, 'utf-16')
    end
  end
  local params = { uri = vim.uri_from_bufnr(bufnr), version = vim.lsp.util.buf_versions[bufnr],
                   diagnostics = diagnostics }
  for _, client in ipairs(agents()) do
    if client.initialized and not client:is_stopped() then
      client:notify('agent/editor/diagnostics', params)
    end
  end
end

--- Starts forwarding (once per Neovim).
function M.setup()
  if M.group then
    return
  end
  M.group = vim.api.nvim_create_augroup('agent_lsp.intel', { clear = true })
  vim.api.nvim_create_autocmd('DiagnosticChanged', {
    group = M.group,
    callback = function(args)
      M.send(args.buf)
    end,
  })
  vim.api.nvim_create_autocmd('LspAttach', { -- a new agent-lsp client learns what is shown now
    group = M.group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == NAME then
        M.send(args.buf)
      end
    end,
  })
end

-- --- queries ---------------------------------------------------------------------------------

---@param uri string
---@param character integer UTF-16
---@param line integer
---@param encoding string
---@return integer
local function convert(uri, line, character, encoding)
  if encoding == 'utf-16' then
    return character
  end
  local bufnr = vim.uri_to_bufnr(uri)
  vim.fn.bufload(bufnr)
  local text = line_of(bufnr, line)
  local byte = vim.str_byteindex(text, 'utf-16', math.min(character, vim.str_utfindex(text, 'utf-16')), false)
  return vim.str_utfindex(text, encoding, byte, false)
end

---@param result any a Location, Location[], LocationLink[] or nil
---@param out table[]
local function locations(result, out)
  if type(result) ~= 'table' then
    return
  end
  if result.uri or result.targetUri then
    result = { result }
  end
  for _, l in ipairs(result) do
    local uri = l.targetUri or l.uri
    local range = l.targetSelectionRange or l.targetRange or l.range
    if uri and range then
      out[#out + 1] = { uri = uri, range = range }
    end
  end
end

---@param contents any MarkedString | MarkedString[] | MarkupContent
---@return string
local function hover_text(contents)
  local lines = vim.lsp.util.convert_input_to_markdown_lines(contents or '')
  return vim.trim(table.concat(lines, '\n'))
end

local METHODS = {
  definition = 'textDocument/definition',
  references = 'textDocument/references',
  hover = 'textDocument/hover',
  workspaceSymbols = 'workspace/symbol',
}

--- The language servers to ask: those attached to the buffer (any for workspace symbols),
--- never agent-lsp itself.
---@param method string
---@param bufnr integer?
---@return vim.lsp.Client[]
local function servers(method, bufnr)
  local found = {}
  for _, client in ipairs(vim.lsp.get_clients(bufnr and { bufnr = bufnr } or {})) do
    if client.name ~= NAME and not client:is_stopped() and client:supports_method(method, bufnr) then
      found[#found + 1] = client
    end
  end
  return found
end

--- Answers `agent/editor/query` from the other language servers: `{results = {{uri, range, text?}}}`.
---@param params { kind: string, uri?: string, position?: lsp.Position, query?: string }
---@return table? result, table? error
function M.query(params)
  local method = METHODS[params.kind]
  if not method then
    return nil, { code = -32602, message = 'unknown query kind ' .. tostring(params.kind) }
  end
  local bufnr = params.uri and vim.uri_to_bufnr(params.uri) or nil
  local results = {}
  for _, client in ipairs(servers(method, bufnr)) do
    local request
    if params.kind == 'workspaceSymbols' then
      request = { query = params.query or '' }
    else
      local position = params.position or { line = 0, character = 0 }
      request = {
        textDocument = { uri = params.uri },
        position = { line = position.line,
                     character = convert(params.uri, position.line, position.character, client.offset_encoding) },
      }
      if params.kind == 'references' then
        request.context = { includeDeclaration = true }
      end
    end
    local answer = client:request_sync(method, request, TIMEOUT_MS, bufnr)
    local result = answer and not answer.err and answer.result or nil
    if params.kind == 'hover' then
      local text = result and hover_text(result.contents) or ''
      if text ~= '' then
        results[#results + 1] = { uri = params.uri, range = result.range or
          { start = params.position, ['end'] = params.position }, text = text }
      end
    elseif params.kind == 'workspaceSymbols' then
      for _, symbol in ipairs(result or {}) do
        local where = symbol.location or {}
        if where.uri and where.range then
          local kind = vim.lsp.protocol.SymbolKind[symbol.kind] or ''
          results[#results + 1] = { uri = where.uri, range = where.range,
                                    text = symbol.name .. (kind ~= '' and (' (' .. kind .. ')') or '') }
        end
      end
    else
      locations(result, results)
    end
  end
  return { results = results }
end

return M

-- The shared reducer vectors (spec/reducer/vectors/*.json) against the plugin's reducer,
-- `require('agent_lsp.state').apply`. No server and no model: run by
-- tests/test_reducer_vectors.py as `nvim --headless --clean -l tests/neovim/reducer_vectors.lua`
-- with AGENT_LSP_PLUGIN (editors/neovim) and AGENT_LSP_VECTORS (the vectors folder) set.
-- Prints one line per vector and exits 1 when any of them disagrees.
vim.opt.rtp:append(assert(os.getenv('AGENT_LSP_PLUGIN'), 'AGENT_LSP_PLUGIN is not set'))
local dir = assert(os.getenv('AGENT_LSP_VECTORS'), 'AGENT_LSP_VECTORS is not set')
local state = require('agent_lsp.state')

---@param path string
---@return table
local function load(path)
  local file = assert(io.open(path, 'rb'))
  local text = file:read('*a')
  file:close()
  return vim.json.decode(text)
end

--- What the vector's `expect` describes, read from the reducer's thread.
---@param t agent_lsp.Thread
---@return table
local function observed(t)
  local items, pending = {}, {}
  for _, entry in ipairs(t.entries) do
    if entry.kind == 'item' then
      items[#items + 1] = t.items[entry.id]
    end
  end
  for _, approval in ipairs(state.pending(t.id)) do
    pending[#pending + 1] = approval.id
  end
  return {
    lastSeq = t.last_seq,
    items = items,
    pendingApprovals = pending,
    turn = t.turn and { id = t.turn.id, status = t.turn.status } or vim.NIL,
    attached = t.attached or {},
    usage = { costUsd = t.cost, turnCostUsd = t.turn_cost, cacheMiss = t.cache_miss or vim.NIL },
  }
end

local paths = vim.fn.glob(vim.fs.joinpath(dir, '*.json'), false, true)
table.sort(paths)
assert(#paths >= 12, 'expected at least 12 vectors in ' .. dir .. ', found ' .. #paths)
local failed = 0
for _, path in ipairs(paths) do
  local vector = load(path)
  local thread_id = vector.events[1].threadId
  state.threads[thread_id] = nil -- each vector starts from an empty thread
  local t = state.thread(thread_id)
  for _, event in ipairs(vector.events) do
    state.apply(t, vim.deepcopy(event))
  end
  local got = observed(t)
  local problems = {}
  for _, key in ipairs({ 'lastSeq', 'items', 'pendingApprovals', 'turn', 'usage', 'attached' }) do
    local optional = key == 'usage' or key == 'attached'
    if (not optional or vector.expect[key] ~= nil) and not vim.deep_equal(got[key], vector.expect[key]) then
      problems[#problems + 1] = ('  %s: expected %s\n  %s:      got %s'):format(
        key, vim.inspect(vector.expect[key]), key, vim.inspect(got[key]))
    end
  end
  if #problems == 0 then
    print('ok   ' .. vector.name)
  else
    failed = failed + 1
    print('FAIL ' .. vector.name .. '\n' .. table.concat(problems, '\n'))
  end
end
state.threads = {}
if failed > 0 then
  print(('%d of %d vectors failed'):format(failed, #paths))
  os.exit(1)
end
print(('all %d vectors pass'):format(#paths))

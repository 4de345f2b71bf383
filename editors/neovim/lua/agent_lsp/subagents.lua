---@brief Subagents from Neovim: loading a child thread's transcript, cancelling one child
--- alone, and the thread tree of |:AgentThreads| (children indented under their parent).
---
--- A subagent is a child thread the model's `spawn_agent` started. Its events arrive with its
--- own threadId (|agent_lsp.state| keeps a state per child and links it to its parent); the
--- chat draws it as one folded line under the parent's `subagent` item.

local M = {}

local state = require('agent_lsp.state')
local clients = require('agent_lsp.client')

--- The client serving the workspace of `thread_id` (its parent's, for a child not known yet).
---@param thread_id string
---@return vim.lsp.Client?
local function client_for(thread_id)
  local t = state.threads[thread_id]
  local root = t and t.root
  if not root and t and t.parent and state.threads[t.parent] then
    root = state.threads[t.parent].root
  end
  return clients.for_root(root)
end

--- Replays a child thread's events (`agent/thread/resume`) unless they are known already.
---@param child_id string?
function M.load(child_id)
  if not child_id then
    return
  end
  local child = state.threads[child_id]
  if child and (child.last_seq > 0 or child.resuming) then
    return
  end
  local client = client_for(child_id)
  if client then
    state.resume(client, child_id)
  end
end

--- Cancels one subagent alone (`agent/turn/interrupt` on its thread): its parent's turn goes
--- on, and the model is told the subagent was cancelled and what it had done.
---@param child_id string?
function M.cancel(child_id)
  if not child_id then
    vim.notify('agent-lsp: no subagent on this line (x cancels the subagent under the cursor)',
      vim.log.levels.WARN)
    return
  end
  local client = client_for(child_id)
  if not client then
    vim.notify('agent-lsp: the server is not running', vim.log.levels.ERROR)
    return
  end
  clients.request(client, 'agent/turn/interrupt', { threadId = child_id }, function(result)
    if not (type(result) == 'table' and result.interrupted) then
      vim.notify('agent-lsp: that subagent is not running any more', vim.log.levels.INFO)
    end
  end)
end

---@class agent_lsp.ThreadRow a Thread of `agent/thread/list` (id, title, status, ...), and:
---@field depth integer 0 for a main thread, 1 for its subagents, ...

--- Every thread of the workspace with its subagents under it, depth first: `agent/thread/list`,
--- then `agent/thread/list {parentThreadId}` for each thread listed.
---@param client vim.lsp.Client
---@param done fun(rows: agent_lsp.ThreadRow[])
function M.tree(client, done)
  local children = {} ---@type table<string, table[]>
  local waiting = 0
  local roots ---@type table[]
  local function finish()
    local rows = {} ---@type agent_lsp.ThreadRow[]
    local function add(thread, depth)
      rows[#rows + 1] = vim.tbl_extend('force', thread, { depth = depth })
      for _, child in ipairs(children[thread.id] or {}) do
        add(child, depth + 1)
      end
    end
    for _, thread in ipairs(roots) do
      add(thread, 0)
    end
    done(rows)
  end
  local list
  ---@param threads table[]
  local function below(threads)
    for _, thread in ipairs(threads) do
      list(thread.id)
    end
  end
  ---@param parent? string
  list = function(parent)
    waiting = waiting + 1
    local function got(result)
      local threads = type(result) == 'table' and result.threads or {}
      if parent then
        children[parent] = threads
      else
        roots = threads
      end
      below(threads)
      waiting = waiting - 1
      if waiting == 0 then
        finish()
      end
    end
    if parent then -- a thread deleted meanwhile: listed without children
      client:request('agent/thread/list', { parentThreadId = parent }, function(_, result)
        got(result)
      end)
    else
      clients.request(client, 'agent/thread/list', vim.empty_dict(), got)
    end
  end
  list(nil)
end

--- How |:AgentThreads| shows a thread: children indented under their parent with "↳".
---@param row agent_lsp.ThreadRow
---@return string
function M.label(row)
  local t = row
  local when = (t.updatedAt or ''):sub(1, 16)
  if row.depth == 0 then
    return ('%s  [%s, %s]'):format(t.title, t.status, when)
  end
  return ('%s↳ subagent %s  [%s]'):format(('  '):rep(row.depth), t.title, t.status)
end

return M

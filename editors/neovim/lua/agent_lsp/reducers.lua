---@brief The reducer's event handlers: what each `agent/event` type does to a thread.
---
--- One function per event type, each a pure change to |agent_lsp.Thread| (no requests, no
--- listeners). `require('agent_lsp.state').apply` looks them up after its seq check; it is the
--- reducer of spec/reducer/README.md (shared with the store and the VS Code shim), and
--- tests/neovim/reducer_vectors.lua runs its test vectors against it.

--- The field an `item/delta` streams into, by item type.
local streamed = { agentMessage = 'text', reasoning = 'text', commandExecution = 'output' }

---@type table<string, fun(t: agent_lsp.Thread, e: table)>
local M = {
  ['thread/started'] = function(t, e)
    t.title = e.thread.title
    if e.thread.kind == 'subagent' then
      t.kind = 'subagent'
    end
    if type(e.thread.parentThreadId) == 'string' then
      t.parent = e.thread.parentThreadId
    end
  end,
  ['turn/started'] = function(t, e)
    t.running = true
    t.turn = e.turn
    t.turn_cost, t.cache_miss = 0, nil
  end,
  ['turn/usage'] = function(t, e)
    t.cost = (t.cost or 0) + (e.costUsd or 0)
    t.turn_cost = (t.turn_cost or 0) + (e.costUsd or 0)
    if type(e.cacheMiss) == 'table' and e.cacheMiss.reason then
      t.cache_miss = e.cacheMiss.reason
    end
  end,
  ['item/started'] = function(t, e)
    if not t.items[e.item.id] then -- an item already there stays as it is
      t.entries[#t.entries + 1] = { kind = 'item', id = e.item.id }
      t.items[e.item.id] = vim.deepcopy(e.item)
    end
  end,
  ['item/delta'] = function(t, e)
    local item = t.items[e.itemId]
    local field = item and item.status == 'inProgress' and streamed[item.type]
    if field then
      item[field] = (item[field] or '') .. e.text
    end
  end,
  ['item/completed'] = function(t, e)
    local before = t.items[e.item.id]
    local item = vim.deepcopy(e.item)
    if not before then
      t.entries[#t.entries + 1] = { kind = 'item', id = e.item.id }
    elseif item.type == 'commandExecution' and (item.output == nil or item.output == vim.NIL) then
      item.output = before.output -- e.g. interrupted: what it printed is kept
    end
    t.items[e.item.id] = item
  end,
  ['approval/requested'] = function(t, e)
    if not t.approvals[e.approval.id] then
      t.approvals[e.approval.id] = e.approval
      t.entries[#t.entries + 1] = { kind = 'approval', id = e.approval.id }
    end
  end,
  ['approval/resolved'] = function(t, e)
    local approval = t.approvals[e.approvalId]
    if approval and not approval.resolved then -- the first answer wins
      approval.resolved = { decision = e.decision, source = e.source, clientName = e.clientName }
    end
  end,
  ['turn/completed'] = function(t, e)
    t.running = false
    t.turn = e.turn
    for _, approval in pairs(t.approvals) do
      if approval.turnId == e.turn.id and not approval.resolved then
        approval.resolved = { expired = true } -- nothing can answer it any more
      end
    end
    t.entries[#t.entries + 1] = { kind = 'turn', id = e.turn.id, turn = e.turn, usage = e.usage,
      cost = t.turn_cost or 0, cache_miss = t.cache_miss }
  end,
  ['client/attached'] = function(t, e)
    for _, c in ipairs(t.attached) do
      if c.clientId == e.clientId then
        return -- already there
      end
    end
    t.attached[#t.attached + 1] = { clientId = e.clientId, clientName = e.clientName }
  end,
  ['client/detached'] = function(t, e)
    t.attached = vim.tbl_filter(function(c)
      return c.clientId ~= e.clientId
    end, t.attached)
  end,
  ['thread/compacted'] = function(t, e)
    for _, entry in ipairs(t.entries) do -- the item stays as the server sent it
      if entry.kind == 'item' and entry.id == e.itemId then
        entry.tokens = { before = e.tokensBefore, after = e.tokensAfter }
      end
    end
  end,
}

return M

---@brief What the plugin knows about each thread, built only from numbered `agent/event`s.
---
--- Each thread remembers the highest `seq` it has applied. An event at or below it is a
--- duplicate and is dropped; an event past the next `seq` means some were missed, so they
--- are fetched with `agent/thread/resume` (`afterSeq`) and applied in order first. Events
--- that arrive while a resume is in flight wait for it. A new server (a restart) resumes
--- every thread of its workspace the same way, so nothing is drawn twice or lost.
---
--- `M.apply` is the reducer of spec/reducer/README.md (shared with the store and the VS Code
--- shim), with one handler per event type in agent_lsp/reducers.lua;
--- tests/neovim/reducer_vectors.lua runs its test vectors against it.

local M = {}

---@class agent_lsp.Approval
---@field id string
---@field turnId string
---@field itemId string
---@field kind 'fileChange'|'command'
---@field title string
---@field diff? string
---@field command? string
---@field uri? string
---@field range? lsp.Range
---@field locations? { uri: string, range: lsp.Range }[] one per file it touches (v2)
---@field resolved? { decision?: string, source?: string, clientName?: string, expired?: boolean }

---@class agent_lsp.Item
---@field id string
---@field type string
---@field status string
---@field text? string
---@field content? table[]
---@field tool? string
---@field input? table
---@field output? string
---@field changes? { path: string, kind: string, diff: string }[]
---@field outcome? string
---@field command? string
---@field exitCode? integer
---@field todos? { content: string, status: string }[]
---@field description? string
---@field summary? string

---@class agent_lsp.Entry
---@field kind 'item'|'approval'|'turn'
---@field id string item or approval id; for 'turn', the turn id
---@field turn? { id: string, status: string, error?: string }
---@field usage? { inputTokens: integer, outputTokens: integer, cacheReadTokens: integer, cacheCreationTokens: integer }
---@field cost? number for 'turn': the turn's cost in US dollars (its turn/usage events)
---@field cache_miss? string for 'turn': the turn's last cache-miss reason (turn/usage)
---@field tokens? { before: integer, after: integer } for a compaction item: the context's size (thread/compacted)

---@class agent_lsp.Thread
---@field id string
---@field title? string
---@field root? string workspace root of the server that serves it
---@field last_seq integer highest seq applied
---@field running boolean
---@field turn? { id: string, threadId: string, status: string, error?: string } the latest turn
---@field items table<string, agent_lsp.Item>
---@field approvals table<string, agent_lsp.Approval>
---@field entries agent_lsp.Entry[] what the chat draws, in order
---@field resuming boolean
---@field queue table[] events held during a resume
---@field cost number the thread's cost in US dollars so far (turn/usage)
---@field turn_cost number the latest turn's cost (turn/usage since its turn/started)
---@field cache_miss? string the latest turn's last cache-miss reason
---@field attached { clientId: string, clientName: string }[] the surfaces attached now, in the order they came (client/attached, client/detached)
---@field kind? 'main'|'subagent' a subagent's thread belongs to its parent's chat and takes no prompt
---@field parent? string the thread a subagent's thread works for
---@field progress table<string, string> subagent item id -> what its child does now (subagent/progress)

---@type table<string, agent_lsp.Thread>
M.threads = {}

--- The thread the chat shows (the one that ran a turn last, or was picked).
---@type string?
M.current = nil

--- Approvals this Neovim answered (by id): the chat names who answered only the others.
---@type table<string, true>
M.answered = {}

---@type fun(thread_id: string)[]
local listeners = {}

---@param fn fun(thread_id: string)
function M.subscribe(fn)
  listeners[#listeners + 1] = fn
end

---@param thread_id string
local function changed(thread_id)
  for _, fn in ipairs(listeners) do
    fn(thread_id)
  end
end

---@param id string
---@param root? string
---@return agent_lsp.Thread
function M.thread(id, root)
  local t = M.threads[id]
  if not t then
    t = { id = id, root = root, last_seq = 0, running = false, items = {}, approvals = {},
          entries = {}, resuming = false, queue = {}, cost = 0, turn_cost = 0, attached = {}, progress = {} }
    M.threads[id] = t
  end
  t.root = t.root or root
  return t
end

--- Where the followed thread of each workspace is kept across Neovim sessions.
---@return string
function M.memory_file()
  return vim.fs.joinpath(vim.fn.stdpath('state'), 'agent_lsp', 'last_threads.json')
end

---@return table<string, string> workspace root -> the thread its chat followed last
local function memory()
  local ok, text = pcall(vim.fn.readfile, M.memory_file())
  local decoded = ok and select(2, pcall(vim.json.decode, table.concat(text, '\n'))) or nil
  return type(decoded) == 'table' and decoded or {}
end

--- The thread the chat followed last in the workspace `root` (any Neovim session), if known.
---@param root string
---@return string?
function M.last_thread(root)
  local id = memory()[root]
  return type(id) == 'string' and id or nil
end

--- Makes `thread_id` the followed thread and remembers it for its workspace.
---@param thread_id string
local function set_current(thread_id)
  if M.current == thread_id then
    return
  end
  M.current = thread_id
  local t = M.threads[thread_id]
  if not (t and t.root) or M.is_subagent(t) then -- a subagent is reopened from its parent
    return
  end
  local known = memory()
  known[t.root] = thread_id
  local path = M.memory_file()
  vim.fn.mkdir(vim.fs.dirname(path), 'p')
  pcall(vim.fn.writefile, { vim.json.encode(known) }, path)
end

---@param thread_id string
function M.follow(thread_id)
  set_current(thread_id)
  changed(thread_id)
end

--- Our own Neovim's name as the host reports it in `clientName`: the LSP clientInfo Neovim
--- sends, "Neovim 0.11.4+v0.11.4".
---@return string
function M.own_name()
  return 'Neovim ' .. tostring(vim.version())
end

--- Host client ids that are this Neovim (learnt from the server, when it says).
---@type table<string, true>
M.own_ids = {}

--- The names of the other surfaces attached to `t` now, in the order they came: every
--- attached client but this Neovim (its id when known, else one client of this Neovim's name).
---@param t agent_lsp.Thread
---@return string[]
function M.others(t)
  local attached = t.attached or {}
  local mine = vim.iter(attached):any(function(c)
    return M.own_ids[c.clientId] == true
  end)
  local names, skipped, own = {}, false, M.own_name()
  for _, c in ipairs(attached) do
    if M.own_ids[c.clientId] or (not mine and not skipped and c.clientName == own) then
      skipped = true
    else
      names[#names + 1] = c.clientName
    end
  end
  return names
end

--- One function per event type (agent_lsp/reducers.lua).
local reducers = require('agent_lsp.reducers')

--- Applies one event to `t` unless its seq was already applied (then returns false).
--- Unknown event types only advance the seq. No gap handling: that is `feed`'s job.
---@param t agent_lsp.Thread
---@param event table
---@return boolean applied
function M.apply(t, event)
  if event.seq <= t.last_seq then
    return false
  end
  t.last_seq = event.seq
  local fn = reducers[event.type]
  if fn then
    fn(t, event)
  end
  return true
end

--- A subagent's thread: is `t` one (known from its thread/started or its parent's item)?
---@param t agent_lsp.Thread?
---@return boolean
function M.is_subagent(t)
  return t ~= nil and (t.kind == 'subagent' or t.parent ~= nil)
end

--- The main thread `thread_id` belongs to: itself, or its subagent's ancestors' first.
---@param thread_id string
---@return string
function M.root_of(thread_id)
  local seen = {} ---@type table<string, true>
  local id = thread_id
  while M.threads[id] and M.threads[id].parent and not seen[id] do
    seen[id] = true
    id = M.threads[id].parent
  end
  return id
end

--- What the plugin keeps beside the reducer's state: which thread is whose subagent (from the
--- parent's `subagent` item), and each child's latest `subagent/progress` line.
---@param t agent_lsp.Thread
---@param event table
local function note(t, event)
  local item = event.item
  if type(item) == 'table' and item.type == 'subagent' and type(item.childThreadId) == 'string' then
    local child = M.thread(item.childThreadId, t.root)
    child.kind, child.parent = 'subagent', child.parent or t.id
    child.title = child.title or item.description
  elseif event.type == 'subagent/progress' and type(event.itemId) == 'string' then
    t.progress[event.itemId] = event.text
  end
end

local resume

--- Applies one event in seq order: drops duplicates, fetches what a gap skipped.
---@param client vim.lsp.Client
---@param t agent_lsp.Thread
---@param event table
---@param may_resume boolean
local function feed(client, t, event, may_resume)
  if t.resuming then
    t.queue[#t.queue + 1] = event
  elseif event.seq <= t.last_seq then
    return
  elseif event.seq > t.last_seq + 1 and may_resume then
    t.queue[#t.queue + 1] = event
    resume(client, t)
  else
    if M.apply(t, event) then
      note(t, event)
    end
    if event.type == 'turn/started' and M.current ~= t.id and not M.is_subagent(t) then
      set_current(t.id) -- the chat follows the thread the agent works on (a child's is in its parent's)
    end
  end
end

---@param client vim.lsp.Client
---@param t agent_lsp.Thread
---@param done? fun()
resume = function(client, t, done)
  if t.resuming then
    return
  end
  t.resuming = true
  local params = { threadId = t.id, afterSeq = t.last_seq }
  client:request('agent/thread/resume', params, function(err, result)
    t.resuming = false
    local queued = t.queue
    t.queue = {}
    if err then
      vim.notify(('agent-lsp: cannot resume thread %s: %s'):format(t.id, err.message), vim.log.levels.WARN)
    else
      t.title = result.thread.title
      for _, event in ipairs(result.events) do
        feed(client, t, event, false)
      end
    end
    for _, event in ipairs(queued) do
      feed(client, t, event, not err)
    end
    changed(t.id)
    if done then
      done()
    end
  end)
end

--- Resumes a thread from the last seq seen (replays everything the first time).
---@param client vim.lsp.Client
---@param thread_id string
---@param done? fun()
function M.resume(client, thread_id, done)
  resume(client, M.thread(thread_id, client.root_dir), done)
end

--- The `agent/event` handler.
---@param params table
---@param ctx lsp.HandlerContext
function M.on_notification(_, params, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if not client or type(params) ~= 'table' or not params.threadId then
    return
  end
  local t = M.thread(params.threadId, client.root_dir)
  feed(client, t, params, true)
  if not M.current and not M.is_subagent(t) then
    set_current(t.id)
  end
  changed(t.id)
end

---@type table<integer, true>
local synced = {}

--- A client of this config attached: when it is a new server (a restart), catch up on
--- every thread of its workspace, and join the turns that run in the agent host without
--- this Neovim (started by an editor that has gone, or from another surface): their
--- threads are replayed, pending approvals included, and the chat follows one when it has
--- nothing else to show.
---@param client vim.lsp.Client
function M.on_attach(client)
  if synced[client.id] then
    return
  end
  synced[client.id] = true
  for _, t in pairs(M.threads) do
    if t.root == client.root_dir and t.last_seq > 0 then
      resume(client, t)
    end
  end
  client:request('agent/thread/list', vim.empty_dict(), function(err, result)
    if err or type(result) ~= 'table' then
      return
    end
    for _, info in ipairs(result.threads or {}) do
      local known = M.threads[info.id]
      if info.status == 'running' and not (known and known.last_seq > 0) then
        local t = M.thread(info.id, client.root_dir)
        t.title = t.title or info.title
        if not M.current then
          set_current(t.id)
        end
        resume(client, t)
      end
    end
  end)
end

--- Pending approvals, oldest first: of `thread_id` and its subagents, or of every thread.
---@param thread_id? string
---@return agent_lsp.Approval[]
function M.pending(thread_id)
  local found = {} ---@type agent_lsp.Approval[]
  for id, t in pairs(M.threads) do
    if not thread_id or id == thread_id or (M.is_subagent(t) and M.root_of(id) == thread_id) then
      for _, entry in ipairs(t.entries) do
        local approval = entry.kind == 'approval' and t.approvals[entry.id]
        if approval and not approval.resolved then
          found[#found + 1] = approval
        end
      end
    end
  end
  return found
end

---@param approval_id string
---@return agent_lsp.Approval?, agent_lsp.Thread?
function M.approval(approval_id)
  for _, t in pairs(M.threads) do
    if t.approvals[approval_id] then
      return t.approvals[approval_id], t
    end
  end
end

return M

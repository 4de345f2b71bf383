---@brief A thread drawn as text: lines, highlights, and which lines belong to which approval.
--- Pure functions of |agent_lsp.Thread|, drawn on a canvas (agent_lsp/canvas.lua); the chat
--- module puts the result in a buffer.

local M = {}

local canvas = require('agent_lsp.canvas').new

local MARK = { inProgress = '…', completed = '✓', failed = '✗', declined = '✗' }

---@param item agent_lsp.Item
---@return string
local function mark(item)
  return MARK[item.status] or '·'
end

---@param input table
---@return string
local function target(input)
  local shown = input.path or input.pattern or input.command or input.description
  if shown then
    return tostring(shown)
  end
  local text = vim.json.encode(input)
  return #text > 60 and text:sub(1, 57) .. '...' or text
end

---@param part table an InputPart
---@return string
local function input_part(part)
  if part.type == 'text' then
    return part.text
  elseif part.type == 'selection' then
    return ('[selection %s:%d-%d]'):format(vim.fs.basename(vim.uri_to_fname(part.uri)),
      part.range.start.line + 1, part.range['end'].line + 1)
  end
  return ('[diagnostic %s: %s]'):format(vim.fs.basename(vim.uri_to_fname(part.uri)),
    part.diagnostic.message or '')
end

local TODO = { completed = '[x]', in_progress = '[>]', pending = '[ ]' }

--- A token count rounded to two significant digits, with thousands separators.
---@param n integer
---@return string
function M.approx_tokens(n)
  if n >= 100 then
    local scale = 10 ^ (math.floor(math.log10(n)) - 1)
    n = math.floor(n / scale + 0.5) * scale
  end
  local digits = tostring(math.floor(n + 0.5))
  return (digits:reverse():gsub('(%d%d%d)', '%1,'):reverse():gsub('^,', ''))
end

--- The title line of a compaction: "▾ Context compacted (about 52,000 → 9,800 tokens)";
--- its fold, closed, shows it with "▸" (see |agent_lsp.chat| foldtext).
---@param item agent_lsp.Item
---@param entry? agent_lsp.Entry
---@return string
function M.compaction_title(item, entry)
  local title = item.status == 'completed' and 'Context compacted' or 'Context compaction ' .. item.status
  local tokens = entry and entry.tokens
  if tokens then
    title = ('%s (about %s → %s tokens)'):format(title, M.approx_tokens(tokens.before), M.approx_tokens(tokens.after))
  end
  return '▾ ' .. title
end

---@type table<string, fun(c: agent_lsp.Canvas, item: agent_lsp.Item, t: agent_lsp.Thread, entry: agent_lsp.Entry)>
local draw = {
  userMessage = function(c, item)
    c:add(table.concat(vim.tbl_map(input_part, item.content or {}), '\n'), 'Title', 'You: ')
  end,
  agentMessage = function(c, item)
    c:add(item.text or '', nil, 'Agent: ')
  end,
  reasoning = function(c, item)
    c:add(item.text or '', 'Comment', 'Thinking: ')
  end,
  toolCall = function(c, item)
    c:add(('%s %s %s'):format(mark(item), item.tool, target(item.input or {})), 'Comment', '  ')
  end,
  fileChange = function(c, item)
    local paths = vim.tbl_map(function(change)
      return change.path
    end, item.changes or {})
    local outcome = item.outcome and (' (' .. item.outcome .. ')') or ''
    c:add(('%s Edit %s%s'):format(mark(item), table.concat(paths, ', '), outcome), 'Special', '  ')
    for _, change in ipairs(item.changes or {}) do
      c:diff(change.diff)
    end
  end,
  commandExecution = function(c, item)
    local exit = item.exitCode and (' (exit ' .. item.exitCode .. ')') or ''
    c:add(('%s $ %s%s'):format(mark(item), item.command, exit), 'Special', '  ')
    local output = vim.split(vim.trim(item.output or ''), '\n', { plain = true })
    local first = math.max(1, #output - 9)
    for i = first, #output do
      if output[i] ~= '' then
        c:add(output[i], 'Comment', '    │ ')
      end
    end
  end,
  todoList = function(c, item)
    c:add('Plan:', 'Special', '  ')
    for _, todo in ipairs(item.todos or {}) do
      c:add(todo.content, todo.status == 'completed' and 'Comment' or nil,
        '    ' .. (TODO[todo.status] or '[ ]') .. ' ')
    end
  end,
  compaction = function(c, item, _, entry)
    if item.status == 'inProgress' then
      c:add('… Compacting context', 'Comment')
      return
    end
    local first = #c.lines
    c:add(M.compaction_title(item, entry), item.status == 'completed' and 'Special' or 'ErrorMsg')
    local summary = vim.trim(item.summary or '')
    if summary ~= '' then
      c:add(summary, nil, '  ')
      c.folds[#c.folds + 1] = { first = first, last = #c.lines - 1, id = item.id, level = 1 }
    end
  end,
}

--- Who answered an approval, as the chat says it after the verb: " in Neovim 0.11.4" for an
--- editor, " by agent-lsp attach" for the terminal; '' when the host did not say.
---@param client_name? string the `clientName` of `approval/resolved`
---@return string
function M.answerer(client_name)
  if type(client_name) ~= 'string' or client_name == '' then
    return ''
  end
  return (vim.startswith(client_name, 'agent-lsp') and ' by ' or ' in ') .. client_name
end

---@param c agent_lsp.Canvas
---@param t agent_lsp.Thread
---@param approval agent_lsp.Approval
---@param answered? table<string, true> approvals this Neovim answered (no "in ..." for them)
local function draw_approval(c, t, approval, answered)
  if approval.resolved then
    local verb = approval.resolved.expired and '– Unanswered'
      or approval.resolved.decision == 'reject' and '✗ Rejected' or '✓ Approved'
    local who = not (answered and answered[approval.id]) and M.answerer(approval.resolved.clientName) or ''
    c:add(('%s%s: %s'):format(verb, who, approval.title), 'Comment', '  ')
    return
  end
  local first = #c.lines
  c:add(('? Approve: %s   [a]pprove  [s]ession  [r]eject  [d]iff'):format(approval.title), 'WarningMsg', '  ')
  local item = t.items[approval.itemId]
  if approval.command then
    c:add('$ ' .. approval.command, 'Special', '    ')
  elseif approval.diff and not (item and item.changes and #item.changes > 0) then
    c:diff(approval.diff)
  end
  for row = first, #c.lines - 1 do
    c.approvals[row] = approval.id
  end
end

--- The title line of a subagent: "▾ subagent explore tests — Reading src/x.py" while it
--- works (its latest `subagent/progress`), its final status after; folded, it shows "▸".
---@param item agent_lsp.Item
---@param progress? string
---@return string
function M.subagent_title(item, progress)
  local now = item.status == 'inProgress' and (progress or 'starting') or item.status
  return ('▾ subagent %s — %s'):format(item.description or 'subagent', now)
end

local body

--- Pending approvals of `t` and of its subagents, oldest first per thread.
---@param t agent_lsp.Thread
---@param threads table<string, agent_lsp.Thread>
---@param out { thread: agent_lsp.Thread, approval: agent_lsp.Approval }[]
local function pending_in(t, threads, out)
  for _, entry in ipairs(t.entries) do
    local approval = entry.kind == 'approval' and t.approvals[entry.id]
    if approval and not approval.resolved then
      out[#out + 1] = { thread = t, approval = approval }
    end
    local item = entry.kind == 'item' and t.items[entry.id]
    local child = item and item.type == 'subagent' and threads[item.childThreadId]
    if child then
      pending_in(child, threads, out)
    end
  end
  return out
end

--- A subagent: its title line, folded over its transcript (drawn from the child thread's own
--- events, indented); its pending approvals below the fold, answerable like any.
---@param c agent_lsp.Canvas
---@param item agent_lsp.Item
---@param t agent_lsp.Thread
function draw.subagent(c, item, t)
  local threads = c.ctx.threads or {}
  local child = threads[item.childThreadId]
  local first = #c.lines
  local group = (item.status == 'failed' or item.status == 'interrupted') and 'WarningMsg' or 'Special'
  c:add(M.subagent_title(item, t.progress and t.progress[item.id]), group)
  local id = t.id .. ':' .. item.id
  if child and child.last_seq > 0 then
    local inner = canvas({ answered = c.ctx.answered, threads = threads, nested = true })
    body(inner, child)
    c:embed(inner, '    ', id)
  else
    c:add('(its transcript loads when you open this line: zo or <CR>)', 'Comment', '    ')
  end
  if #c.lines - 1 == first then -- a fold of one line never closes ('foldminlines')
    c:add('(nothing yet)', 'Comment', '    ')
  end
  c.folds[#c.folds + 1] = { first = first, last = #c.lines - 1, id = id, level = 1 }
  for row = first, #c.lines - 1 do
    c.subagents[row] = c.subagents[row] or item.childThreadId
  end
  if child and not c.ctx.nested then
    for _, p in ipairs(pending_in(child, threads, {})) do
      draw_approval(c, p.thread, p.approval, c.ctx.answered)
    end
  end
end

--- The words after "cache miss: " for a `cacheMiss.reason`.
---@param reason string
---@return string
function M.miss_reason(reason)
  local words = {
    tools = 'tools changed',
    system = 'system prompt changed',
    model = 'model changed',
    rewritten = 'conversation compacted',
    expired = 'cache expired while idle',
  }
  return words[reason] or reason
end

---@param c agent_lsp.Canvas
---@param entry agent_lsp.Entry
local function draw_turn_end(c, entry)
  local turn, usage = entry.turn or {}, entry.usage or {}
  local text = turn.status
  if turn.status == 'completed' then
    local input = (usage.inputTokens or 0) + (usage.cacheReadTokens or 0) + (usage.cacheCreationTokens or 0)
    local share = input > 0 and math.floor((usage.cacheReadTokens or 0) * 100 / input + 0.5) or 0
    text = ('completed (%d in, %d out, cache %d%%, $%.4f)'):format(input, usage.outputTokens or 0, share,
      entry.cost or 0)
  elseif turn.status == 'failed' then
    text = 'failed: ' .. (turn.error or 'unknown error')
  end
  c:add(('── %s ──'):format(text), turn.status == 'failed' and 'ErrorMsg' or 'NonText')
  if entry.cache_miss then
    c:add(('cache miss: %s'):format(M.miss_reason(entry.cache_miss)), 'WarningMsg')
  end
  c:add('')
end

--- The chat's header line: the thread, and who else is attached to it now.
---@param t agent_lsp.Thread
---@param others? string[] the names of the other surfaces attached (|agent_lsp.state.others()|)
---@return string
function M.header(t, others)
  local line = ('Agent chat: %s  (%s)'):format(t.title or 'thread', t.id)
  if t.parent then
    line = ('%s  · subagent of %s'):format(line, t.parent)
  end
  if others and #others > 0 then
    line = ('%s  · also here: %s'):format(line, table.concat(others, ', '))
  end
  return line
end

--- Draws `t`.
---@param t agent_lsp.Thread?
---@param answered? table<string, true> ids of the approvals this Neovim answered: a resolved
--- approval says who answered only when it was another surface
---@param others? string[] the other surfaces attached to the thread, for the header
---@param threads? table<string, agent_lsp.Thread> every known thread: subagents' transcripts
---@return agent_lsp.Rendered
function M.thread(t, answered, others, threads)
  local c = canvas({ answered = answered, threads = threads })
  if not t then
    c:add('Agent chat: type a prompt below and press <CR> (#buffer, @file add context). Press g? for keys.',
      'Comment')
    return c
  end
  c:add(M.header(t, others), 'Title')
  c:add('')
  body(c, t)
  if t.running then
    c:add('… working (i or <C-c> interrupts)', 'Comment')
  end
  return c
end

--- The thread's entries (in a subagent's transcript, its pending approvals are left to the
--- parent, which draws them outside the fold).
---@param c agent_lsp.Canvas
---@param t agent_lsp.Thread
body = function(c, t)
  for _, entry in ipairs(t.entries) do
    if entry.kind == 'item' then
      local item = t.items[entry.id]
      local fn = item and draw[item.type]
      if fn then
        fn(c, item, t, entry)
      end
    elseif entry.kind == 'approval' then
      local approval = t.approvals[entry.id]
      if not (c.ctx.nested and not approval.resolved) then
        draw_approval(c, t, approval, c.ctx.answered)
      end
    else
      draw_turn_end(c, entry)
    end
  end
end

return M

---@brief agent-lsp for Neovim: the functions behind the `:Agent*` commands.
---
--- The server does the work; this module picks what a command is about (the diagnostic or
--- approval under the cursor, the followed thread) and sends one request. What happens next
--- arrives as `agent/event`s and is drawn by the chat.

local M = {}

local clients = require('agent_lsp.client')
local state = require('agent_lsp.state')

---@class agent_lsp.Config
---@field chat { split: string, insert: boolean }
---@field review agent_lsp.review.Keys the inline review's keys (|agent_lsp-review|)
M.config = {
  chat = {
    split = 'botright vsplit', -- the command that opens the chat window
    insert = true, -- start in Insert mode on the prompt when :AgentChat opens it
  },
  review = vim.deepcopy(require('agent_lsp.review').keys),
}

---@param opts? agent_lsp.Config
function M.setup(opts)
  M.config = vim.tbl_deep_extend('force', M.config, opts or {})
  require('agent_lsp.review').keys = M.config.review
end

--- The client serving the followed thread (or the current buffer).
---@return vim.lsp.Client?
local function thread_client()
  local t = state.current and state.threads[state.current]
  return t and clients.for_root(t.root) or clients.ensure()
end

function M.chat()
  require('agent_lsp.chat').toggle()
end

---@class agent_lsp.AskOpts
---@field prompt string
---@field bufnr? integer
---@field uri? string a selection to send with the prompt...
---@field range? lsp.Range ...and its range
---@field context? agent_lsp.ContextPart[] more documents to send along (`#buffer`, `@file`)

--- `agent.ask` on the followed thread (the server's current thread when there is none); with
--- more than one document to send along, `agent/turn/start` (after `agent/thread/start` when
--- no thread is followed), which takes any number.
---@param opts agent_lsp.AskOpts
function M.ask(opts)
  local client = clients.ensure(opts.bufnr)
  if not client then
    return
  end
  local t = state.current and state.threads[state.current]
  local thread_id = t and t.root == client.root_dir and t.id or nil
  local selections = {} ---@type { uri: string, range: lsp.Range }[]
  if opts.uri and opts.range then
    selections[1] = { uri = opts.uri, range = opts.range }
  end
  for _, part in ipairs(opts.context or {}) do
    selections[#selections + 1] = { uri = part.uri, range = part.range }
  end
  local function followed(id)
    state.thread(id, client.root_dir)
    state.follow(id)
  end
  if #selections <= 1 then
    local spec = { prompt = opts.prompt, threadId = thread_id }
    if selections[1] then
      spec.uri, spec.range = selections[1].uri, selections[1].range
    end
    clients.command(client, 'agent.ask', { spec }, function(result)
      followed(result.threadId)
    end)
  else
    local input = { { type = 'text', text = opts.prompt } }
    for _, s in ipairs(selections) do
      input[#input + 1] = { type = 'selection', uri = s.uri, range = s.range }
    end
    local function start(id)
      followed(id)
      clients.request(client, 'agent/turn/start', { threadId = id, input = input })
    end
    if thread_id then
      start(thread_id)
    else
      clients.request(client, 'agent/thread/start', vim.empty_dict(), function(result)
        start(result.thread.id)
      end)
    end
  end
  require('agent_lsp.chat').open(false)
end

---@param line string
---@param encoding string
---@param col integer byte column
---@return integer
local function character(line, encoding, col)
  return vim.str_utfindex(line, encoding, math.min(col, #line), false)
end

--- `:AgentAsk`: with a range, the selection (charwise after `v`, else whole lines) goes along.
---@param opts vim.api.keyset.create_user_command.command_args
function M.ask_command(opts)
  local ask = { prompt = opts.args, bufnr = vim.api.nvim_get_current_buf() } ---@type agent_lsp.AskOpts
  if opts.range > 0 then
    local client = clients.ensure(ask.bufnr)
    local encoding = client and client.offset_encoding or 'utf-16'
    local lines = vim.api.nvim_buf_get_lines(ask.bufnr, opts.line1 - 1, opts.line2, true)
    local first, last = 0, #lines[#lines]
    local marks = vim.fn.line("'<") == opts.line1 and vim.fn.line("'>") == opts.line2
    if marks and vim.fn.visualmode() == 'v' then
      first = vim.fn.col("'<") - 1
      local col = vim.fn.col("'>")
      last = col + vim.str_utf_end(lines[#lines], col)
    end
    ask.uri = vim.uri_from_bufnr(ask.bufnr)
    ask.range = {
      start = { line = opts.line1 - 1, character = character(lines[1], encoding, first) },
      ['end'] = { line = opts.line2 - 1, character = character(lines[#lines], encoding, last) },
    }
  end
  M.ask(ask)
end

--- The only item, or the one the user picks with vim.ui.select.
---@generic T
---@param items T[]
---@param prompt string
---@param label fun(item: T): string
---@param fn fun(item: T)
local function pick_one(items, prompt, label, fn)
  if #items == 1 then
    return fn(items[1])
  end
  vim.ui.select(items, { prompt = prompt, format_item = label }, function(item)
    if item then
      fn(item)
    end
  end)
end

--- `:AgentFix`: "Ask agent to fix" the diagnostic under the cursor (`agent.fix`).
function M.fix()
  local bufnr = vim.api.nvim_get_current_buf()
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  row = row - 1
  local on_line, under = {}, {} ---@type vim.Diagnostic[], vim.Diagnostic[]
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    local last_row = d.end_lnum or d.lnum
    if d.source ~= 'agent' and d.lnum <= row and row <= last_row then
      on_line[#on_line + 1] = d
      local after_start = d.lnum < row or d.col <= col
      local before_end = last_row > row or col <= (d.end_col or d.col)
      if after_start and before_end then
        under[#under + 1] = d
      end
    end
  end
  local candidates = #under > 0 and under or on_line
  if #candidates == 0 then
    vim.notify('agent-lsp: no diagnostic under the cursor', vim.log.levels.WARN)
    return
  end
  local client = clients.ensure(bufnr)
  if not client then
    return
  end
  local function send(d)
    local args = { vim.uri_from_bufnr(bufnr), clients.lsp_diagnostic(d, bufnr, client.offset_encoding) }
    clients.command(client, 'agent.fix', args, function(result)
      state.thread(result.threadId, client.root_dir)
      state.follow(result.threadId)
    end)
    require('agent_lsp.chat').open(false)
  end
  pick_one(candidates, 'Ask agent to fix', function(d)
    return d.message
  end, send)
end

--- The approval the cursor is on (chat line or "Agent proposes" diagnostic), else the
--- pending one of the followed thread (asking which when there are several).
---@param fn fun(approval_id: string)
local function with_approval(fn)
  local id = require('agent_lsp.chat').approval_at_cursor()
  if not id then
    local row = vim.api.nvim_win_get_cursor(0)[1] - 1
    for _, d in ipairs(vim.diagnostic.get(0)) do
      if d.source == 'agent' and d.code and d.lnum <= row and row <= (d.end_lnum or d.lnum) then
        id = tostring(d.code)
      end
    end
  end
  if id then
    return fn(id)
  end
  local pending = state.pending(state.current)
  pending = #pending > 0 and pending or state.pending()
  if #pending == 0 then
    vim.notify('agent-lsp: no pending approval', vim.log.levels.WARN)
  else
    pick_one(pending, 'Which approval', function(a)
      return a.title
    end, function(a)
      fn(a.id)
    end)
  end
end

---@param approval_id string
---@param decision 'approve'|'approveForSession'|'approveAlways'|'reject'
---@param message? string
---@param hunks? integer[] approve only these hunks of the change (0-based, in diff order)
function M.respond(approval_id, decision, message, hunks)
  local _, t = state.approval(approval_id)
  local client = t and clients.for_root(t.root) or clients.get()
  if not client then
    vim.notify('agent-lsp: the server is not running', vim.log.levels.ERROR)
    return
  end
  local params = { approvalId = approval_id, decision = decision, message = message, hunks = hunks }
  state.answered[approval_id] = true -- before the answer: its approval/resolved may come first
  clients.request(client, 'agent/approval/respond', params, function(result)
    if result.outcome == 'alreadyResolved' then
      state.answered[approval_id] = nil -- another surface was first: the chat names it
      vim.notify('agent-lsp: that approval was already answered', vim.log.levels.INFO)
      require('agent_lsp.chat').refresh()
    end
  end)
end

--- The server's `agent.approve` / `agent.reject` run from a code action ("Approve agent edit:
--- ..."; |vim.lsp.commands|): sent to the server as usual, and remembered as answered by
--- this Neovim, so the chat does not name who answered.
---@param command lsp.Command
---@param ctx { client_id?: integer, bufnr?: integer }
function M.server_command(command, ctx)
  local client = ctx.client_id and vim.lsp.get_client_by_id(ctx.client_id) or clients.get()
  if not client then
    vim.notify('agent-lsp: the server is not running', vim.log.levels.ERROR)
    return
  end
  local id = type(command.arguments) == 'table' and command.arguments[1] or nil
  if type(id) == 'string' then
    state.answered[id] = true
  end
  local params = { command = command.command, arguments = command.arguments }
  client:request('workspace/executeCommand', params, function(err, result)
    if err then
      vim.notify(('agent-lsp: %s'):format(err.message or vim.inspect(err)), vim.log.levels.ERROR)
    end
    local first = not err and not (type(result) == 'table' and result.outcome == 'alreadyResolved')
    if type(id) == 'string' and not first then
      state.answered[id] = nil
      require('agent_lsp.chat').refresh()
    end
  end, ctx.bufnr)
end

--- `:AgentApprove`, chat `a` / `s`.
---@param decision? 'approve'|'approveForSession'|'approveAlways'
---@param approval_id? string
function M.approve(decision, approval_id)
  local function go(id)
    M.respond(id, decision or 'approve')
  end
  if approval_id then
    return go(approval_id)
  end
  with_approval(go)
end

--- `:AgentReject [reason]`, chat `r`: without a reason, asks for one (|vim.ui.input()|).
---@param reason? string
---@param approval_id? string
function M.reject(reason, approval_id)
  local function go(id)
    if reason and reason ~= '' then
      return M.respond(id, 'reject', reason)
    end
    vim.ui.input({ prompt = 'Reason for rejecting (the agent reads it): ' }, function(input)
      if input ~= nil then
        M.respond(id, 'reject', input ~= '' and input or nil)
      end
    end)
  end
  if approval_id then
    return go(approval_id)
  end
  with_approval(go)
end

--- `:AgentInterrupt`, chat `i` / `<C-c>`: interrupts the followed thread's turn.
function M.interrupt()
  local client = thread_client()
  if not client then
    return
  end
  clients.command(client, 'agent.interrupt', { state.current }, function(result)
    if not result.interrupted then
      vim.notify('agent-lsp: no turn is running', vim.log.levels.INFO)
    end
  end)
end

--- `:AgentCompact [instructions]`: compacts the followed thread's context now
--- (`agent/thread/compact`), as a turn of its own; the chat shows it as a folded line.
---@param instructions? string what the summary should keep (optional)
function M.compact(instructions)
  local t = state.current and state.threads[state.current]
  if not t then
    vim.notify('agent-lsp: nothing to compact yet: send the agent a prompt first', vim.log.levels.WARN)
    return
  end
  local client = thread_client()
  if not client then
    return
  end
  instructions = vim.trim(instructions or '')
  local params = { threadId = t.id, instructions = instructions ~= '' and instructions or nil }
  clients.request(client, 'agent/thread/compact', params)
  require('agent_lsp.chat').open(false)
end

--- `:AgentUndo [turnId]`: undoes the file changes of a turn of the followed thread (its last
--- turn without an id) with the server's `agent.undoTurn`, and says what happened to each
--- file. Lines the user changed after the agent are never overwritten: the server leaves
--- them and reports the file as "partly" or "skipped", with the reason.
---@param turn_id? string
function M.undo(turn_id)
  local t = state.current and state.threads[state.current]
  local client = thread_client()
  if not client then
    return
  end
  turn_id = turn_id and vim.trim(turn_id) ~= '' and vim.trim(turn_id) or nil
  local args = t and { t.id, turn_id } or {}
  clients.command(client, 'agent.undoTurn', args, function(result)
    local lines = {} ---@type string[]
    for _, file in ipairs(type(result) == 'table' and result.undone or {}) do
      lines[#lines + 1] = ('%s: %s%s'):format(file.path, file.outcome,
        type(file.reason) == 'string' and (' (' .. file.reason .. ')') or '')
    end
    local partial = vim.iter(type(result) == 'table' and result.undone or {}):any(function(file)
      return file.outcome ~= 'reverted'
    end)
    M.last_undo = result
    vim.notify(#lines == 0 and 'agent-lsp: the turn changed no files' or
      ('agent-lsp: undone\n' .. table.concat(lines, '\n')), partial and vim.log.levels.WARN or vim.log.levels.INFO)
  end)
end

--- `:AgentThreads`: pick a thread (or a new one), subagents indented under their parent; the
--- chat follows it, replayed by resume (a subagent's thread shows its transcript alone).
function M.threads()
  local client = clients.ensure()
  if not client then
    return
  end
  local subagents = require('agent_lsp.subagents')
  subagents.tree(client, function(rows)
    local choices = vim.list_extend({ { new = true } }, rows)
    vim.ui.select(choices, {
      prompt = 'Agent threads',
      format_item = function(row)
        return row.new and '+ New thread' or subagents.label(row)
      end,
    }, function(choice)
      if not choice then
        return
      elseif choice.new then
        clients.request(client, 'agent/thread/start', vim.empty_dict(), function(started)
          state.thread(started.thread.id, client.root_dir).title = started.thread.title
          state.follow(started.thread.id)
        end)
      else
        local t = state.thread(choice.id, client.root_dir)
        t.title = choice.title
        if type(choice.parentThreadId) == 'string' then
          t.kind, t.parent = 'subagent', choice.parentThreadId
        end
        state.follow(t.id)
        state.resume(client, t.id)
      end
      require('agent_lsp.chat').open(true)
    end)
  end)
end

--- `:AgentDiff`: the pending change's diff (else the followed thread's last change) in a split.
function M.diff()
  local function show(name, text, approval_id)
    local buf = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, vim.split(vim.trim(text), '\n', { plain = true }))
    vim.bo[buf].bufhidden = 'wipe'
    vim.bo[buf].modifiable = false
    vim.bo[buf].filetype = 'diff'
    pcall(vim.api.nvim_buf_set_name, buf, name)
    vim.cmd('botright split')
    vim.api.nvim_win_set_buf(0, buf)
    local function map(lhs, fn)
      vim.keymap.set('n', lhs, fn, { buffer = buf, nowait = true })
    end
    map('q', '<Cmd>close<CR>')
    if approval_id then
      map('a', function() M.approve('approve', approval_id) end)
      map('s', function() M.approve('approveForSession', approval_id) end)
      map('r', function() M.reject(nil, approval_id) end)
    end
  end
  local chat_id = require('agent_lsp.chat').approval_at_cursor()
  if chat_id or #state.pending() > 0 then
    return with_approval(function(id)
      local approval = state.approval(id)
      local text = approval and (approval.diff or approval.command and ('$ ' .. approval.command))
      show('agent-lsp://diff/' .. id, text or '(no diff)', id)
    end)
  end
  local t = state.current and state.threads[state.current]
  for i = t and #t.entries or 0, 1, -1 do
    local item = t.items[t.entries[i].id]
    if item and item.type == 'fileChange' then
      local diffs = vim.tbl_map(function(c)
        return c.diff
      end, item.changes)
      return show('agent-lsp://diff/' .. item.id, table.concat(diffs, '\n'))
    end
  end
  vim.notify('agent-lsp: no pending or recent change', vim.log.levels.WARN)
end

return M

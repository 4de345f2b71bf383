---@brief agent-lsp for Neovim: the functions behind the `:Agent*` commands.
---
--- The server does the work; this module picks what a command is about (the diagnostic or
--- approval under the cursor, the followed thread) and sends one request. What happens next
--- arrives as `agent/event`s and is drawn by the chat.

local M = {}

local clients = require('agent_lsp.client')
local state = require('agent_lsp.state')
local approvals = require('agent_lsp.approvals')

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
  approvals.pick_one(candidates, 'Ask agent to fix', function(d)
    return d.message
  end, send)
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

-- Answering approvals (agent_lsp/approvals.lua).
M.respond = approvals.respond
M.server_command = approvals.server_command
M.approve = approvals.approve
M.reject = approvals.reject
M.diff = approvals.diff

return M

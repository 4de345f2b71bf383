---@brief Answering approvals: `:AgentApprove`, `:AgentReject`, `:AgentDiff`, the chat's `a` /
--- `s` / `r` / `d`, and the server's `agent.approve` / `agent.reject` code actions. Which
--- approval a command is about comes from the cursor (a chat line or an "Agent proposes"
--- diagnostic), else the pending ones. Exposed as `require('agent_lsp')` functions (init.lua).

local M = {}

local clients = require('agent_lsp.client')
local state = require('agent_lsp.state')

--- The only item, or the one the user picks with vim.ui.select.
---@generic T
---@param items T[]
---@param prompt string
---@param label fun(item: T): string
---@param fn fun(item: T)
function M.pick_one(items, prompt, label, fn)
  if #items == 1 then
    return fn(items[1])
  end
  vim.ui.select(items, { prompt = prompt, format_item = label }, function(item)
    if item then
      fn(item)
    end
  end)
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
    M.pick_one(pending, 'Which approval', function(a)
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

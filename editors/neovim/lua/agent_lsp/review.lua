---@brief Inline review: a pending file change drawn in the source buffers it changes, as
--- conflict-style hunks, with keys to answer each hunk or the whole change.
---
--- Every hunk of the approval's diff whose file is loaded gets a header line above it ("Agent
--- proposes: Edit calc.py, hunk 1 of 2", the keys), its removed lines highlighted as
--- |hl-DiffDelete| and its added lines as virtual lines (|hl-DiffAdd|) in place. They are
--- extmarks of the buffer, so every window showing it draws them, at once and in any mode
--- (diagnostics wait for the user to leave Insert mode). Keys, buffer-local while a change is
--- pending: `ga` / `gr` accept / reject the hunk under the cursor (the nearest one), `gA` /
--- `gR` the whole change. A hunk answered alone waits for the others; once each has an answer
--- the change is approved with the accepted hunks only (`hunks` of `agent/approval/respond`,
--- indexes in diff order across files), or rejected when none was accepted.

local M = {}

local state = require('agent_lsp.state')

local ns = vim.api.nvim_create_namespace('agent_lsp.review')

---@class agent_lsp.review.Keys
---@field accept_hunk string
---@field reject_hunk string
---@field accept_all string
---@field reject_all string
M.keys = { accept_hunk = 'ga', reject_hunk = 'gr', accept_all = 'gA', reject_all = 'gR' }

---@class agent_lsp.Hunk
---@field index integer 0-based, in diff order across the approval's files
---@field path string workspace-relative
---@field old_start integer 1-based first line of the old text (the line after which it inserts when old_count is 0)
---@field old_count integer
---@field lines string[] the hunk's body (' ', '-', '+' lines)

---@class agent_lsp.DrawnHunk
---@field approval string approval id
---@field index integer
---@field total integer hunks in the approval
---@field first integer 0-based buffer row of its first change
---@field last integer 0-based buffer row of its last change

--- The hunks of a unified diff (several files, `--- a/PATH` / `+++ b/PATH` headers). A hunk
--- ends when its line counts are used up, so a removed "-- comment" is never a header.
---@param diff string
---@return agent_lsp.Hunk[]
function M.hunks(diff)
  local hunks, old_path, path = {}, nil, nil ---@type agent_lsp.Hunk[], string?, string?
  local current, old_left, new_left = nil, 0, 0 ---@type agent_lsp.Hunk?, integer, integer
  for _, line in ipairs(vim.split(diff or '', '\n', { plain = true })) do
    local kind = line:sub(1, 1)
    if current and (old_left > 0 or new_left > 0) and (kind == ' ' or kind == '-' or kind == '+') then
      current.lines[#current.lines + 1] = line
      old_left = old_left - ((kind == ' ' or kind == '-') and 1 or 0)
      new_left = new_left - ((kind == ' ' or kind == '+') and 1 or 0)
    elseif line:match('^%-%-%- ') then
      old_path, current = line:sub(5):gsub('^a/', ''), nil
    elseif line:match('^%+%+%+ ') then
      local b = line:sub(5)
      path = b == '/dev/null' and old_path or b:gsub('^b/', '')
    else
      local os, oc, nc = line:match('^@@ %-(%d+),?(%d*) %+%d+,?(%d*) @@')
      if os then
        old_left, new_left = oc == '' and 1 or tonumber(oc), nc == '' and 1 or tonumber(nc)
        current = { index = #hunks, path = path or old_path or '', old_start = tonumber(os),
                    old_count = old_left, lines = {} }
        hunks[#hunks + 1] = current
      end
    end
  end
  return hunks
end

---@type table<string, table<integer, 'accept'|'reject'>> approval id -> hunk index -> answer so far
M.answers = {}

---@type table<integer, agent_lsp.DrawnHunk[]> buffer -> the hunks drawn in it
local drawn = {}

---@type table<integer, true> buffers with the review keys mapped
local mapped = {}

local scheduled = false

--- The loaded buffer of a workspace file, if any.
---@param root string
---@param rel string
---@return integer?
local function buffer_of(root, rel)
  local path = vim.fs.normalize(vim.fs.joinpath(root, rel))
  local real = vim.uv.fs_realpath(path) or path
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    local name = vim.api.nvim_buf_is_loaded(buf) and vim.api.nvim_buf_get_name(buf) or ''
    if name ~= '' and (name == path or (vim.uv.fs_realpath(name) or name) == real) then
      return buf
    end
  end
end

--- The header's chunks: what is proposed, and the keys (or the answer given so far).
---@param approval agent_lsp.Approval
---@param hunk agent_lsp.Hunk
---@param total integer
---@return table[]
local function header(approval, hunk, total)
  local chunks = { { 'Agent proposes: ' .. approval.title, 'WarningMsg' } }
  if total > 1 then
    chunks[#chunks + 1] = { (', hunk %d of %d'):format(hunk.index + 1, total), 'WarningMsg' }
  end
  local answer = (M.answers[approval.id] or {})[hunk.index]
  if answer then
    chunks[#chunks + 1] = { answer == 'accept' and '  ✓ accepted' or '  ✗ rejected', 'Comment' }
    chunks[#chunks + 1] = { '  (sent once every hunk is answered)', 'Comment' }
  else
    local k = M.keys
    local keys = total > 1 and ('  [%s] accept  [%s] reject  [%s] accept all  [%s] reject all'):format(
      k.accept_hunk, k.reject_hunk, k.accept_all, k.reject_all)
      or ('  [%s] accept  [%s] reject'):format(k.accept_hunk, k.reject_hunk)
    chunks[#chunks + 1] = { keys, 'Comment' }
  end
  return chunks
end

--- Draws one hunk in `buf`; false when the buffer no longer holds the hunk's old lines.
---@param buf integer
---@param approval agent_lsp.Approval
---@param hunk agent_lsp.Hunk
---@param total integer
---@return boolean
local function draw_hunk(buf, approval, hunk, total)
  local count = vim.api.nvim_buf_line_count(buf)
  local row = hunk.old_count == 0 and hunk.old_start or hunk.old_start - 1
  local check = row
  for _, line in ipairs(hunk.lines) do -- the old side must be what the buffer holds
    local kind = line:sub(1, 1)
    if kind ~= '+' then
      if check >= count or vim.api.nvim_buf_get_lines(buf, check, check + 1, false)[1] ~= line:sub(2) then
        return false
      end
      check = check + 1
    end
  end
  local width = math.max(vim.o.columns, 20)
  local first, last ---@type integer?, integer?
  local added = {} ---@type string[]
  local rejected = (M.answers[approval.id] or {})[hunk.index] == 'reject'
  local function flush()
    if #added == 0 then
      return
    end
    local virt = vim.tbl_map(function(text)
      return { { text .. (' '):rep(math.max(0, width - vim.fn.strdisplaywidth(text))),
                 rejected and 'NonText' or 'DiffAdd' } }
    end, added)
    local above = row < count
    vim.api.nvim_buf_set_extmark(buf, ns, above and row or count - 1, 0,
      { virt_lines = virt, virt_lines_above = above })
    first = first or math.min(row, count - 1)
    last = math.min(row, count - 1)
    added = {}
  end
  for _, line in ipairs(hunk.lines) do
    local kind, text = line:sub(1, 1), line:sub(2)
    if kind == '+' then
      added[#added + 1] = text
    else
      flush()
      if kind == '-' then
        vim.api.nvim_buf_set_extmark(buf, ns, row, 0, { line_hl_group = rejected and 'Comment' or 'DiffDelete',
          sign_text = '-', sign_hl_group = 'DiffDelete' })
        first = first or row
        last = row
      end
      row = row + 1
    end
  end
  flush()
  first = first or math.min(row, count - 1)
  -- above the first line a window shows virtual lines only once scrolled up: there the
  -- header goes at the end of the line as well
  vim.api.nvim_buf_set_extmark(buf, ns, first, 0, { virt_lines = { header(approval, hunk, total) },
    virt_lines_above = true, priority = 200, virt_text = first == 0 and header(approval, hunk, total) or nil })
  drawn[buf] = drawn[buf] or {}
  table.insert(drawn[buf], { approval = approval.id, index = hunk.index, total = total, first = first,
                             last = last or first })
  return true
end

---@param buf integer
local function map_keys(buf)
  if mapped[buf] then
    return
  end
  mapped[buf] = true
  local function map(lhs, fn, desc, nowait)
    vim.keymap.set('n', lhs, fn, { buffer = buf, nowait = nowait, desc = 'agent-lsp: ' .. desc })
  end
  map(M.keys.accept_hunk, function() M.answer_hunk('accept') end, 'accept the hunk under the cursor', true)
  -- no nowait: Neovim's own gra / grn / grr stay usable
  map(M.keys.reject_hunk, function() M.answer_hunk('reject') end, 'reject the hunk under the cursor', false)
  map(M.keys.accept_all, function() M.answer_all('accept') end, 'accept the whole change', true)
  map(M.keys.reject_all, function() M.answer_all('reject') end, 'reject the whole change', true)
end

---@param buf integer
local function unmap_keys(buf)
  mapped[buf] = nil
  if vim.api.nvim_buf_is_valid(buf) then
    for _, lhs in pairs(M.keys) do
      pcall(vim.keymap.del, 'n', lhs, { buffer = buf })
    end
  end
end

--- Redraws every pending file change in the loaded buffers now.
function M.draw()
  scheduled = false
  for buf in pairs(drawn) do
    if vim.api.nvim_buf_is_valid(buf) then
      vim.api.nvim_buf_clear_namespace(buf, ns, 0, -1)
    end
  end
  drawn = {}
  for _, approval in ipairs(state.pending()) do
    local _, t = state.approval(approval.id)
    if approval.kind == 'fileChange' and t and t.root then
      local hunks = M.hunks(approval.diff)
      for _, hunk in ipairs(hunks) do
        local buf = buffer_of(t.root, hunk.path)
        if buf then
          if not draw_hunk(buf, approval, hunk, #hunks) then
            drawn[buf] = drawn[buf] or {}
          end
        end
      end
    end
  end
  for buf in pairs(mapped) do
    if not (drawn[buf] and #drawn[buf] > 0) then
      unmap_keys(buf)
    end
  end
  for buf, hunks in pairs(drawn) do
    if #hunks > 0 then
      map_keys(buf)
    end
  end
end

--- Redraws once the current batch of events is in.
function M.refresh()
  if not scheduled then
    scheduled = true
    vim.schedule(M.draw)
  end
end

--- The hunk under the cursor in the current buffer, else the nearest one.
---@return agent_lsp.DrawnHunk?
function M.hunk_at_cursor()
  local row = vim.api.nvim_win_get_cursor(0)[1] - 1
  local best, distance = nil, math.huge
  for _, h in ipairs(drawn[vim.api.nvim_get_current_buf()] or {}) do
    local d = row < h.first and h.first - row or row > h.last and row - h.last or 0
    if d < distance then
      best, distance = h, d
    end
  end
  return best
end

--- Sends the answer of an approval once each of its hunks has one.
---@param approval_id string
---@param total integer
local function settle(approval_id, total)
  local answers = M.answers[approval_id] or {}
  local accepted = {} ---@type integer[]
  for index = 0, total - 1 do
    if not answers[index] then
      return M.refresh()
    end
    if answers[index] == 'accept' then
      accepted[#accepted + 1] = index
    end
  end
  local api = require('agent_lsp')
  if #accepted == total then
    api.respond(approval_id, 'approve')
  elseif #accepted == 0 then
    api.respond(approval_id, 'reject', 'The user rejected every hunk of this change.')
  else
    api.respond(approval_id, 'approve', nil, accepted)
  end
  M.refresh()
end

--- `ga` / `gr`: answers the hunk under the cursor.
---@param answer 'accept'|'reject'
function M.answer_hunk(answer)
  local h = M.hunk_at_cursor()
  if not h then
    return vim.notify('agent-lsp: no proposed change in this buffer', vim.log.levels.WARN)
  end
  M.answers[h.approval] = M.answers[h.approval] or {}
  M.answers[h.approval][h.index] = answer
  settle(h.approval, h.total)
end

--- `gA` / `gR`: answers the whole change of the hunk under the cursor (`gR` asks why).
---@param answer 'accept'|'reject'
function M.answer_all(answer)
  local h = M.hunk_at_cursor()
  if not h then
    return vim.notify('agent-lsp: no proposed change in this buffer', vim.log.levels.WARN)
  end
  local api = require('agent_lsp')
  if answer == 'accept' then
    api.approve('approve', h.approval)
  else
    api.reject(nil, h.approval)
  end
end

local watching = false

--- Starts drawing: on every change of the threads, and when a buffer is loaded.
function M.watch()
  if watching then
    return
  end
  watching = true
  state.subscribe(M.refresh)
  vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufWinEnter' }, {
    group = vim.api.nvim_create_augroup('agent_lsp.review', { clear = true }),
    callback = function()
      if #state.pending() > 0 then
        M.refresh()
      end
    end,
  })
end

return M

---@brief The canvas |agent_lsp.render| draws on: lines, their highlights, which lines belong
--- to which approval or subagent, and the folds; with `add` (text, wrapped lines indented
--- under a prefix), `diff` (a highlighted ```diff fence) and `embed` (another canvas, indented,
--- its folds one level deeper). The result is an |agent_lsp.Rendered| the chat puts in a buffer.

local M = {}

---@class agent_lsp.Highlight
---@field row integer 0-based line
---@field group string
---@field line? boolean highlight the whole line (diffs)

---@class agent_lsp.Fold
---@field first integer 0-based line: the fold's title
---@field last integer 0-based line
---@field id string the item folded (its open/closed state is kept across redraws)
---@field level integer 1, or 2 and more for a fold inside a subagent's transcript
---@field parent? string the id of the fold this one is inside

---@class agent_lsp.Rendered
---@field lines string[]
---@field highlights agent_lsp.Highlight[]
---@field approvals table<integer, string> 0-based line -> approval id
---@field folds agent_lsp.Fold[] closed unless the user opened them (outer folds first)
---@field subagents table<integer, string> 0-based line -> the child thread drawn there (its
--- title line and its transcript)

---@class agent_lsp.RenderContext
---@field answered? table<string, true> approvals this Neovim answered
---@field threads? table<string, agent_lsp.Thread> every known thread (a subagent's transcript)
---@field nested? boolean drawing a subagent's transcript inside its parent's

---@class agent_lsp.Canvas: agent_lsp.Rendered
---@field ctx agent_lsp.RenderContext
local Canvas = {}
Canvas.__index = Canvas

--- An empty canvas drawing with `ctx`.
---@param ctx agent_lsp.RenderContext
---@return agent_lsp.Canvas
function M.new(ctx)
  return setmetatable({ lines = {}, highlights = {}, approvals = {}, folds = {}, subagents = {}, ctx = ctx }, Canvas)
end

--- Appends what `other` drew, each line indented by `indent`, its folds one level deeper
--- (inside the fold `parent`).
---@param other agent_lsp.Canvas
---@param indent string
---@param parent string
function Canvas:embed(other, indent, parent)
  local shift = #self.lines
  for _, line in ipairs(other.lines) do
    self.lines[#self.lines + 1] = indent .. line
  end
  for _, h in ipairs(other.highlights) do
    self.highlights[#self.highlights + 1] = { row = h.row + shift, group = h.group, line = h.line }
  end
  for row, id in pairs(other.approvals) do
    self.approvals[row + shift] = id
  end
  for row, id in pairs(other.subagents) do
    self.subagents[row + shift] = id
  end
  for _, f in ipairs(other.folds) do
    self.folds[#self.folds + 1] = { first = f.first + shift, last = f.last + shift, id = f.id,
      level = f.level + 1, parent = f.parent or parent }
  end
end

---@param text string
---@param group? string
---@param prefix? string prepended to the first line (later lines are indented to match)
function Canvas:add(text, group, prefix)
  prefix = prefix or ''
  local indent = (' '):rep(vim.fn.strdisplaywidth(prefix))
  for i, line in ipairs(vim.split(text, '\n', { plain = true })) do
    self.lines[#self.lines + 1] = (i == 1 and prefix or indent) .. line
    if group then
      self.highlights[#self.highlights + 1] = { row = #self.lines - 1, group = group }
    end
  end
end

--- A unified diff in a ```diff fence (so Markdown never reads its lines as lists or headings),
--- each line highlighted like |ft-diff|.
---@param diff string
function Canvas:diff(diff)
  self:add('```diff', 'NonText')
  for _, line in ipairs(vim.split(vim.trim(diff), '\n', { plain = true })) do
    self.lines[#self.lines + 1] = line
    local group = (line:match('^%+%+%+') or line:match('^%-%-%-')) and 'Type'
      or line:match('^@@') and 'DiffChange'
      or line:match('^%+') and 'DiffAdd'
      or line:match('^%-') and 'DiffDelete'
    if group then
      self.highlights[#self.highlights + 1] = { row = #self.lines - 1, group = group, line = true }
    end
  end
  self:add('```', 'NonText')
end

return M

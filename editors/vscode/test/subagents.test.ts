import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AgentEvent, Item } from '../src/chat/protocol';
import { activity, applyEvents, ChatState, emptyState } from '../src/chat/state';
import { childThreadIds, needsLoad, parentOf, spawnerOf, subtree, subtreeKey, treeApprovals } from '../src/chat/subagents';
import { approval, Script, turn } from './events';

const subagent = (id: string, child: string, description: string, status: Item['status'] = 'inProgress', output?: string): Item => ({
  id,
  type: 'subagent',
  status,
  childThreadId: child,
  description,
  ...(output ? { output } : {}),
});

/** The parent's turn spawns two children; the first reports progress. */
function parentEvents(parent = new Script('thr_p')): AgentEvent[] {
  return [
    parent.next({ type: 'turn/started', turn: turn('turn_p') }),
    parent.next({ type: 'item/started', turnId: 'turn_p', item: subagent('sa1', 'thr_a', 'explore tests') }),
    parent.next({ type: 'item/started', turnId: 'turn_p', item: subagent('sa2', 'thr_b', 'check style') }),
    parent.next({ type: 'subagent/progress', itemId: 'sa1', childThreadId: 'thr_a', text: 'Read calc.py' }),
  ];
}

const childStarted = (threadId: string, parentThreadId: string, title: string): AgentEvent => ({
  threadId,
  seq: 1,
  type: 'thread/started',
  thread: { id: threadId, title, createdAt: '', updatedAt: '', status: 'idle', lastSeq: 0, kind: 'subagent', parentThreadId },
});

function states(...list: ChatState[]): Map<string, ChatState> {
  return new Map(list.map((s) => [s.threadId!, s]));
}

describe('the subagent tree', () => {
  test('subagent/progress puts the live line on the running item, and stops when it is done', () => {
    const events = parentEvents();
    const state = applyEvents(emptyState('thr_p'), events);
    const entry = state.items.find((c) => c.item.id === 'sa1')!;
    assert.equal(entry.progress, 'Read calc.py');
    assert.equal(entry.rev, 2);
    assert.equal(state.items.find((c) => c.item.id === 'sa2')!.progress, undefined);
    const done = applyEvents(state, [
      { threadId: 'thr_p', seq: 5, type: 'item/completed', turnId: 'turn_p', item: subagent('sa1', 'thr_a', 'explore tests', 'completed', 'Found 3 tests.') },
      { threadId: 'thr_p', seq: 6, type: 'subagent/progress', itemId: 'sa1', childThreadId: 'thr_a', text: 'late line' },
      { threadId: 'thr_p', seq: 7, type: 'subagent/progress', itemId: 'nope', childThreadId: 'thr_x', text: 'unknown item' },
    ]);
    const final = done.items.find((c) => c.item.id === 'sa1')!;
    assert.equal(final.progress, 'Read calc.py', 'a line after the item finished changes nothing');
    assert.equal(final.item.type === 'subagent' && final.item.output, 'Found 3 tests.');
    assert.equal(done.lastSeq, 7);
  });

  test('an event of an unknown thread is placed under the loaded parent that spawned it', () => {
    const parent = applyEvents(emptyState('thr_p'), parentEvents());
    const all = states(parent);
    assert.deepEqual(childThreadIds(parent), ['thr_a', 'thr_b']);
    assert.equal(parentOf(all, childStarted('thr_a', 'thr_p', 'explore tests')), 'thr_p');
    // Its thread/started came before the parent's item: the thread names its parent.
    assert.equal(parentOf(new Map([['thr_p', emptyState('thr_p')]]), childStarted('thr_c', 'thr_p', 'c')), 'thr_p');
    assert.equal(parentOf(all, childStarted('thr_c', 'thr_other', 'c')), undefined, 'a parent not loaded');
    assert.equal(parentOf(all, new Script('thr_b').next({ type: 'turn/started', turn: turn('turn_b') })), 'thr_p');
    assert.equal(parentOf(all, new Script('thr_z').next({ type: 'turn/started', turn: turn('turn_z') })), undefined);
    assert.equal(spawnerOf(all, 'thr_b')?.chat.item.id, 'sa2');
  });

  test("a child's pending approval shows in the parent's chat, naming the subagent, and makes it wait", () => {
    const parent = applyEvents(emptyState('thr_p'), parentEvents());
    const child = new Script('thr_a');
    const a = applyEvents(emptyState('thr_a'), [
      child.next({ type: 'thread/started', thread: { id: 'thr_a', title: 'explore tests', createdAt: '', updatedAt: '', status: 'idle', lastSeq: 0, kind: 'subagent', parentThreadId: 'thr_p' } }),
      child.next({ type: 'turn/started', turn: turn('turn_a') }),
      child.next({ type: 'approval/requested', turnId: 'turn_a', approval: { ...approval('apr_1', 'turn_a', 'ia1'), title: "Subagent 'explore tests': Edit calc.py" } }),
    ]);
    const all = states(parent, a);
    assert.equal(activity(parent), 'working', "the parent's own state has no approval");
    assert.deepEqual(treeApprovals(all, 'thr_p'), [
      { approval: a.approvals[0], threadId: 'thr_a', subagent: 'explore tests' },
    ]);
    assert.deepEqual(treeApprovals(all, 'thr_a'), [{ approval: a.approvals[0], threadId: 'thr_a' }], 'its own chat: no name');
    const answered = applyEvents(a, [child.next({ type: 'approval/resolved', approvalId: 'apr_1', decision: 'approve', source: 'request' })]);
    assert.deepEqual(treeApprovals(states(parent, answered), 'thr_p'), []);
  });

  test('the subtree key changes with any event below the item, and loading is asked only when needed', () => {
    const parent = applyEvents(emptyState('thr_p'), parentEvents());
    const child = new Script('thr_a');
    const a1 = applyEvents(emptyState('thr_a'), [childStarted('thr_a', 'thr_p', 'explore tests'), child.next({ type: 'turn/started', turn: turn('turn_a') })].slice(0, 1));
    const before = subtreeKey(states(parent, a1), 'thr_a');
    const a2 = applyEvents(a1, [{ threadId: 'thr_a', seq: 2, type: 'turn/started', turn: turn('turn_a') }]);
    assert.notEqual(subtreeKey(states(parent, a2), 'thr_a'), before);
    assert.deepEqual(subtree(states(parent, a2), 'thr_p'), ['thr_p', 'thr_a', 'thr_b']);
    assert.equal(needsLoad(states(parent), 'thr_a'), true, 'never loaded');
    assert.equal(needsLoad(states(parent, emptyState('thr_a')), 'thr_a'), true, 'no events yet');
    assert.equal(needsLoad(states(parent, a2), 'thr_a'), false);
    assert.equal(needsLoad(states(parent, a2), 'thr_a', 9), true, 'the server has more');
  });

  test('a cycle of subagent items (a broken store) cannot loop', () => {
    const p = new Script('thr_p');
    const a = new Script('thr_a');
    const loop = states(
      applyEvents(emptyState('thr_p'), [p.next({ type: 'item/started', turnId: 't', item: subagent('x', 'thr_a', 'a') })]),
      applyEvents(emptyState('thr_a'), [a.next({ type: 'item/started', turnId: 't', item: subagent('y', 'thr_p', 'p') })]),
    );
    assert.deepEqual(subtree(loop, 'thr_p'), ['thr_p', 'thr_a']);
  });
});

/**
 * The subagent tree of the chat: pure functions over the per-thread chat states that
 * `ChatSession` keeps (a parent's `subagent` items name their child threads; each child's own
 * events fold into a `ChatState` of its own, PROTOCOL.md section 7).
 *
 * Which thread an event of an unknown thread belongs under, the pending approvals of a thread
 * and all its descendants (a child's approval is answered from the parent's chat), and the
 * subagent nodes the webview draws under their parent's item. No `vscode` import: this runs
 * (and is tested) in plain Node.
 */

import type { AgentEvent, Approval } from './protocol';
import type { ChatItem, ChatState } from './state';

/** Subagents nest at most this deep (the server's limit is 2): a guard against a cycle. */
const MAX_DEPTH = 8;

export type States = ReadonlyMap<string, ChatState>;

/** A pending approval as the parent's chat shows it: `subagent` names the child that asks. */
export interface TreeApproval {
  approval: Approval;
  threadId: string;
  subagent?: string;
}

/** The child threads a state's `subagent` items name, in item order. */
export function childThreadIds(state: ChatState): string[] {
  return state.items.flatMap((c) => (c.item.type === 'subagent' ? [c.item.childThreadId] : []));
}

/** The `subagent` item (and the thread holding it) that spawned `childThreadId`, if loaded. */
export function spawnerOf(states: States, childThreadId: string): { threadId: string; chat: ChatItem } | undefined {
  for (const [threadId, state] of states) {
    const chat = state.items.find((c) => c.item.type === 'subagent' && c.item.childThreadId === childThreadId);
    if (chat) {
      return { threadId, chat };
    }
  }
  return undefined;
}

/**
 * The parent under which an event of a thread with no state yet belongs, or undefined when it
 * is no subagent of a loaded thread: a child's `thread/started` names its parent; any later
 * event belongs to a child some loaded `subagent` item names.
 */
export function parentOf(states: States, event: AgentEvent): string | undefined {
  if (event.type === 'thread/started' && event.thread.kind === 'subagent') {
    const parent = event.thread.parentThreadId ?? undefined;
    return parent && states.has(parent) ? parent : undefined;
  }
  return spawnerOf(states, event.threadId)?.threadId;
}

/** The thread, its children, their children...: every thread id of the subtree, root first. */
export function subtree(states: States, threadId: string): string[] {
  const out: string[] = [];
  const visit = (id: string, depth: number): void => {
    if (out.includes(id) || depth > MAX_DEPTH) {
      return;
    }
    out.push(id);
    const state = states.get(id);
    state && childThreadIds(state).forEach((child) => visit(child, depth + 1));
  };
  visit(threadId, 0);
  return out;
}

/** The pending approvals of a thread and of every loaded descendant, the thread's own first;
 * a descendant's names the subagent that asks (its item's description). */
export function treeApprovals(states: States, threadId: string): TreeApproval[] {
  return subtree(states, threadId).flatMap((id) => {
    const state = states.get(id);
    if (!state) {
      return [];
    }
    const spawner = id === threadId ? undefined : spawnerOf(states, id)?.chat.item;
    const subagent = spawner?.type === 'subagent' ? spawner.description : undefined;
    return state.approvals.map((approval) => (subagent ? { approval, threadId: id, subagent } : { approval, threadId: id }));
  });
}

/** A subagent's child thread whose events the session lacks: never loaded, or behind the seq
 * the server last listed for it. */
export function needsLoad(states: States, childThreadId: string, listedSeq?: number): boolean {
  const state = states.get(childThreadId);
  return !state || state.lastSeq === 0 || (listedSeq !== undefined && state.lastSeq < listedSeq);
}

/** What changes when anything under a subagent item changes (its child's events, the
 * grandchildren's): a renderer redraws the node when this key differs. */
export function subtreeKey(states: States, childThreadId: string): string {
  return subtree(states, childThreadId)
    .map((id) => `${id}:${states.get(id)?.lastSeq ?? '-'}`)
    .join(',');
}

/**
 * The chat view's state for one thread, and the pure reducer that folds `agent/event`s
 * into it (PROTOCOL.md sections 4 and 5).
 *
 * Every event carries a per-thread `seq`; the state remembers the last one it applied and
 * drops any event at or below it, so a replay after a reconnect never shows anything twice.
 * `applyEvent` is the reducer of spec/reducer/README.md, shared with the store and the Neovim
 * plugin; test/reducer_vectors.test.ts runs its test vectors against it.
 * No `vscode` import: this runs (and is tested) in plain Node.
 */

import type { AgentEvent, Approval, ApprovalSource, CacheMissReason, Decision, Item, Todo, Turn, Usage } from './protocol';
import { addUsage, ZERO_USAGE } from './usage';

export interface ChatItem {
  item: Item;
  turnId?: string;
  /** Grows on every change of this item, so a renderer redraws only what changed. */
  rev: number;
  /** For a `compaction` item: the context's size before and after, from `thread/compacted`. */
  compacted?: { tokensBefore: number; tokensAfter: number };
  /** How the approval of this item was answered, and by whom (`approval/resolved`). */
  answer?: Answer;
  /** For a `subagent` item: what the child does now (`subagent/progress`, while it runs). */
  progress?: string;
}

/** An answered approval: what was decided, through which surface, by which client ("Neovim
 * 0.11.4", "agent-lsp attach", ...; absent when the server did not say). */
export interface Answer {
  approvalId: string;
  decision: Decision;
  source: ApprovalSource;
  clientName?: string;
}

export interface ChatState {
  threadId?: string;
  title: string;
  lastSeq: number;
  items: ChatItem[];
  /** Pending approvals, oldest first. */
  approvals: Approval[];
  turn?: Turn;
  lastUsage?: Usage;
  totalUsage: Usage;
  /** US dollars: the thread's so far, and the latest turn's (turn/usage, reset by turn/started). */
  costUsd: number;
  turnCostUsd: number;
  /** The latest turn's last cache-miss reason (turn/usage), if its cache missed. */
  cacheMiss?: CacheMissReason;
  /** The surfaces on the thread now (client/attached, client/detached), in the order they came. */
  attached: { clientId: string; clientName: string }[];
}

export type Activity = 'idle' | 'working' | 'approval';

export function emptyState(threadId?: string, title = ''): ChatState {
  return { threadId, title, lastSeq: 0, items: [], approvals: [], totalUsage: ZERO_USAGE, costUsd: 0, turnCostUsd: 0, attached: [] };
}

/** True when `event` is newer than the next one expected: some events were missed. */
export function isGap(state: ChatState, event: AgentEvent): boolean {
  return event.threadId === state.threadId && event.seq > state.lastSeq + 1;
}

/** Fold one event in. Events of other threads, and events already seen, change nothing. */
export function applyEvent(state: ChatState, event: AgentEvent): ChatState {
  if (event.threadId !== state.threadId || event.seq <= state.lastSeq) {
    return state;
  }
  const next = { ...state, lastSeq: event.seq };
  switch (event.type) {
    case 'thread/started':
      return { ...next, title: event.thread.title };
    case 'turn/started':
      return { ...next, turn: event.turn, turnCostUsd: 0, cacheMiss: undefined };
    case 'turn/usage':
      return {
        ...next,
        costUsd: state.costUsd + event.costUsd,
        turnCostUsd: state.turnCostUsd + event.costUsd,
        cacheMiss: event.cacheMiss?.reason ?? state.cacheMiss,
      };
    case 'client/attached':
      if (state.attached.some((c) => c.clientId === event.clientId)) {
        return next;
      }
      return { ...next, attached: [...state.attached, { clientId: event.clientId, clientName: event.clientName }] };
    case 'client/detached':
      return { ...next, attached: state.attached.filter((c) => c.clientId !== event.clientId) };
    case 'item/started':
      if (state.items.some((c) => c.item.id === event.item.id)) {
        return next; // an item already there stays as it is
      }
      return { ...next, items: [...state.items, { item: event.item, turnId: event.turnId, rev: 1 }] };
    case 'item/completed':
      return { ...next, items: complete(state.items, event.item, event.turnId) };
    case 'item/delta':
      return { ...next, items: appendDelta(state.items, event.itemId, event.text) };
    case 'approval/requested':
      if (state.approvals.some((a) => a.id === event.approval.id)) {
        return next;
      }
      return { ...next, approvals: [...state.approvals, event.approval] };
    case 'approval/resolved': {
      const asked = state.approvals.find((a) => a.id === event.approvalId);
      const answer: Answer = { approvalId: event.approvalId, decision: event.decision, source: event.source };
      if (event.clientName) {
        answer.clientName = event.clientName;
      }
      return {
        ...next,
        approvals: state.approvals.filter((a) => a.id !== event.approvalId),
        items: asked ? answered(state.items, asked.itemId, answer) : state.items,
      };
    }
    case 'turn/completed': // approvals of a finished turn can no longer be answered
      return {
        ...next,
        turn: event.turn,
        lastUsage: event.usage,
        totalUsage: addUsage(state.totalUsage, event.usage),
        approvals: state.approvals.filter((a) => a.turnId !== event.turn.id),
      };
    case 'thread/compacted':
      return { ...next, items: compacted(state.items, event.itemId, event.tokensBefore, event.tokensAfter) };
    case 'subagent/progress':
      return { ...next, items: progressed(state.items, event.itemId, event.text) };
    default:
      return next; // unknown types
  }
}

export function applyEvents(state: ChatState, events: readonly AgentEvent[]): ChatState {
  return events.reduce(applyEvent, state);
}

/** The completed item replaces the one drawn (an unknown one is added at the end); a command
 * that completes without output of its own keeps what it streamed (e.g. interrupted). */
function complete(items: ChatItem[], item: Item, turnId: string): ChatItem[] {
  const index = items.findIndex((c) => c.item.id === item.id);
  if (index < 0) {
    return [...items, { item, turnId, rev: 1 }];
  }
  const before = items[index].item;
  let final = item;
  if (final.type === 'commandExecution' && final.output == null && before.type === 'commandExecution' && before.output != null) {
    final = { ...final, output: before.output };
  }
  const copy = items.slice();
  copy[index] = { ...items[index], item: final, turnId, rev: items[index].rev + 1 };
  return copy;
}

/** The before/after figures go on the compaction item's entry (the item itself is the
 * protocol's and stays as the server sent it); an unknown item id changes nothing. */
function compacted(items: ChatItem[], itemId: string, tokensBefore: number, tokensAfter: number): ChatItem[] {
  const index = items.findIndex((c) => c.item.id === itemId);
  if (index < 0) {
    return items;
  }
  const copy = items.slice();
  copy[index] = { ...items[index], compacted: { tokensBefore, tokensAfter }, rev: items[index].rev + 1 };
  return copy;
}

/** The progress line goes on the running `subagent` item's entry; a finished or unknown item
 * changes nothing. */
function progressed(items: ChatItem[], itemId: string, text: string): ChatItem[] {
  const index = items.findIndex((c) => c.item.id === itemId);
  if (index < 0 || items[index].item.type !== 'subagent' || items[index].item.status !== 'inProgress') {
    return items;
  }
  const copy = items.slice();
  copy[index] = { ...items[index], progress: text, rev: items[index].rev + 1 };
  return copy;
}

/** The answer goes on the asking item's entry; the first answer stays (a later one changed
 * nothing), and an unknown item id changes nothing. */
function answered(items: ChatItem[], itemId: string, answer: Answer): ChatItem[] {
  const index = items.findIndex((c) => c.item.id === itemId);
  if (index < 0 || items[index].answer) {
    return items;
  }
  const copy = items.slice();
  copy[index] = { ...items[index], answer, rev: items[index].rev + 1 };
  return copy;
}

/** Who answered, as the chat says it: "Approved in Neovim 0.11.4", "Rejected by agent-lsp
 * attach" (an editor answers "in", a terminal client "by"); undefined when nobody is named. */
export function describeAnswer(answer: Answer): string | undefined {
  if (!answer.clientName) {
    return undefined;
  }
  const verb = {
    approve: 'Approved',
    approveForSession: 'Approved for the session',
    approveAlways: 'Always allowed',
    reject: 'Rejected',
  }[answer.decision];
  const preposition = answer.clientName.startsWith('agent-lsp') ? 'by' : 'in';
  return `${verb ?? 'Answered'} ${preposition} ${answer.clientName}`;
}

function appendDelta(items: ChatItem[], itemId: string, text: string): ChatItem[] {
  const index = items.findIndex((c) => c.item.id === itemId);
  if (index < 0) {
    return items;
  }
  const current = items[index];
  const item = current.item;
  if (item.status !== 'inProgress') {
    return items; // the final state wins over a late delta
  }
  let changed: Item;
  if (item.type === 'agentMessage' || item.type === 'reasoning') {
    changed = { ...item, text: item.text + text };
  } else if (item.type === 'commandExecution') {
    changed = { ...item, output: (item.output ?? '') + text };
  } else {
    return items;
  }
  const copy = items.slice();
  copy[index] = { ...current, item: changed, rev: current.rev + 1 };
  return copy;
}

export function isRunning(state: ChatState): boolean {
  return state.turn?.status === 'running';
}

export function activity(state: ChatState): Activity {
  if (state.approvals.length > 0) {
    return 'approval';
  }
  return isRunning(state) ? 'working' : 'idle';
}

/** Finished turns that changed files (an applied file change): what "Undo turn" can revert. */
export function undoableTurns(state: ChatState): string[] {
  const running = isRunning(state) ? state.turn?.id : undefined;
  const turns = new Set<string>();
  for (const c of state.items) {
    if (c.turnId && c.turnId !== running && c.item.type === 'fileChange' && c.item.outcome === 'applied') {
      turns.add(c.turnId);
    }
  }
  return [...turns];
}

/** The plan as the agent last wrote it. */
export function latestTodos(state: ChatState): Todo[] {
  for (let i = state.items.length - 1; i >= 0; i--) {
    const item = state.items[i].item;
    if (item.type === 'todoList') {
      return item.todos;
    }
  }
  return [];
}

export function findItem(state: ChatState, itemId: string): Item | undefined {
  return state.items.find((c) => c.item.id === itemId)?.item;
}

/** A one-line title for a new thread, from the first line of the prompt. */
export function titleFrom(prompt: string): string {
  const line = prompt.trim().split(/\r?\n/)[0] ?? '';
  if (!line) {
    return 'New thread';
  }
  return line.length <= 60 ? line : line.slice(0, 57) + '...';
}

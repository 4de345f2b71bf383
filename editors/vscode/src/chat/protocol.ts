/**
 * The agent-lsp wire protocol (PROTOCOL.md) as the shim names it: data only.
 *
 * The types come from `protocol.generated.ts`, which `python -m agent.schema` generates from
 * the harness's own models (agent/protocol.py, events.py and params.py, through
 * spec/protocol.schema.json), so they cannot drift from the server. This module only
 * re-exports them under the names the shim uses and adds what the schema leaves open (the LSP
 * diagnostic inside a diagnostic part, the results of requests). Nothing here imports
 * `vscode`, so the reducer and its tests can use it in plain Node.
 */

import type { CacheMiss, Event, Item, MethodName, Range, Thread } from './protocol.generated';

export type {
  Approval,
  ApprovalSource,
  CacheMiss,
  Decision,
  FileChange,
  InputPart,
  Item,
  ItemStatus,
  Location,
  Position,
  Range,
  Thread,
  ThreadStatus,
  Todo,
  Turn,
  TurnStatus,
  Usage,
} from './protocol.generated';

/** Why a request read less of the prompt cache than it could have (`turn/usage`). */
export type CacheMissReason = CacheMiss['reason'];

/** A numbered event of a thread (`agent/event`); `Event` would shadow the DOM's own type. */
export type AgentEvent = Event;

/**
 * The LSP diagnostic a `diagnostic` input part carries. The protocol passes it through as an
 * open object (`Record<string, unknown>`); these are the fields the shim draws.
 */
export interface LspDiagnostic {
  message: string;
  range: Range;
  source?: string;
}

/** The result of `agent/thread/resume`. */
export interface ResumeResult {
  thread: Thread;
  items: Item[];
  events: AgentEvent[];
  /** False when `items` holds only what changed after `afterSeq` (or a page of it). */
  itemsComplete?: boolean;
  /** Set when `limit` cut the events off: the `afterSeq` of the next page. */
  nextAfterSeq?: number;
}

/** The method names the shim calls; each must be a method of the protocol. */
export const Methods = {
  threadStart: 'agent/thread/start',
  threadList: 'agent/thread/list',
  threadResume: 'agent/thread/resume',
  turnStart: 'agent/turn/start',
  turnInterrupt: 'agent/turn/interrupt',
  threadCompact: 'agent/thread/compact',
  approvalRespond: 'agent/approval/respond',
  event: 'agent/event',
} as const satisfies Record<string, MethodName>;

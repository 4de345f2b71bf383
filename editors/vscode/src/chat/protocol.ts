/**
 * The agent-lsp wire protocol (PROTOCOL.md; version 1, and the version 2 fields the shim
 * already reads), as TypeScript types: data only.
 *
 * Requests and the `agent/event` notification carry these shapes. Nothing here imports
 * `vscode`, so the reducer and its tests can use it in plain Node.
 */

export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

export interface Thread {
  id: string;
  title: string;
  createdAt: string;
  updatedAt: string;
  status: 'idle' | 'running';
  lastSeq: number;
}

export type TurnStatus = 'running' | 'completed' | 'interrupted' | 'failed';

export interface Turn {
  id: string;
  threadId: string;
  status: TurnStatus;
  error?: string | null;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheCreationTokens: number;
}

export type InputPart =
  | { type: 'text'; text: string }
  | { type: 'selection'; uri: string; range: Range }
  | { type: 'diagnostic'; uri: string; diagnostic: { message: string; range: Range; source?: string } };

/** `interrupted` (v2): a command stopped by an interrupt (its output kept), or a cancelled subagent. */
export type ItemStatus = 'inProgress' | 'completed' | 'failed' | 'declined' | 'interrupted';

export interface FileChange {
  path: string;
  kind: 'add' | 'update' | 'delete';
  diff: string;
}

export interface Todo {
  content: string;
  status: 'pending' | 'in_progress' | 'completed';
}

interface ItemBase {
  id: string;
  status: ItemStatus;
}

export type Item =
  | (ItemBase & { type: 'userMessage'; content: InputPart[] })
  | (ItemBase & { type: 'agentMessage'; text: string })
  | (ItemBase & { type: 'reasoning'; text: string })
  | (ItemBase & { type: 'toolCall'; tool: string; input: Record<string, unknown>; output?: string | null })
  | (ItemBase & { type: 'fileChange'; changes: FileChange[]; outcome?: 'applied' | 'rejected' | 'conflict' | null })
  | (ItemBase & { type: 'commandExecution'; command: string; cwd: string; exitCode?: number | null; output?: string | null })
  | (ItemBase & { type: 'todoList'; todos: Todo[] })
  | (ItemBase & { type: 'subagent'; childThreadId: string; description: string })
  | (ItemBase & { type: 'compaction'; summary: string });

export type Decision = 'approve' | 'approveForSession' | 'approveAlways' | 'reject';

/** One file an approval touches (v2). */
export interface Location {
  uri: string;
  range: Range;
}

export interface Approval {
  id: string;
  turnId: string;
  itemId: string;
  kind: 'fileChange' | 'command';
  title: string;
  diff?: string | null;
  command?: string | null;
  uri?: string | null;
  range?: Range | null;
  /** v2: one per file it touches. */
  locations?: Location[] | null;
}

interface EventBase {
  threadId: string;
  seq: number;
}

export type AgentEvent =
  | (EventBase & { type: 'thread/started'; thread: Thread })
  | (EventBase & { type: 'turn/started'; turn: Turn })
  | (EventBase & { type: 'item/started'; turnId: string; item: Item })
  | (EventBase & { type: 'item/delta'; turnId: string; itemId: string; text: string })
  | (EventBase & { type: 'item/completed'; turnId: string; item: Item })
  | (EventBase & { type: 'approval/requested'; turnId: string; approval: Approval })
  | (EventBase & {
      type: 'approval/resolved';
      approvalId: string;
      decision: Decision;
      source: string;
      /** v2: who answered (the LSP clientInfo.name, "agent-lsp ask", ...). */
      clientName?: string | null;
    })
  | (EventBase & { type: 'turn/completed'; turn: Turn; usage: Usage })
  | (EventBase & { type: 'thread/compacted'; itemId: string; tokensBefore: number; tokensAfter: number });

export interface ResumeResult {
  thread: Thread;
  items: Item[];
  events: AgentEvent[];
}

/** Method names, declared once. */
export const Methods = {
  threadStart: 'agent/thread/start',
  threadList: 'agent/thread/list',
  threadResume: 'agent/thread/resume',
  turnStart: 'agent/turn/start',
  turnInterrupt: 'agent/turn/interrupt',
  approvalRespond: 'agent/approval/respond',
  event: 'agent/event',
} as const;

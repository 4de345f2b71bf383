/**
 * Messages between the extension host and the chat webview, both ways: data only, shared
 * by `chat/view.ts` and `webview/main.ts`.
 */

import type { Activity, ChatItem } from './state';
import type { Approval, Todo, Turn } from './protocol';

export type Connection = 'starting' | 'running' | 'stopped' | 'failed';

export interface ThreadChoice {
  id: string;
  title: string;
  running: boolean;
}

/** A chat item as posted: `answeredBy` says who answered its approval ("Approved in Neovim
 * 0.11.4") when it was not this window. */
export interface ShownItem extends ChatItem {
  answeredBy?: string;
  /** For a `subagent` item: the child's own transcript, as far as the session has it. */
  child?: ShownChild;
  /** Changes whenever anything drawn for this item changes (its rev, who answered, its child's
   * events): the webview redraws the item when this differs. */
  drawKey: string;
}

/** A subagent's transcript under its parent's item (grandchildren nest inside). */
export interface ShownChild {
  threadId: string;
  /** False until the session has the child's events (expanding it loads them). */
  loaded: boolean;
  items: ShownItem[];
}

/** A pending approval; `subagent` names the subagent that asks, when it is not the thread's own. */
export interface ShownApproval extends Approval {
  subagent?: string;
}

/** What the webview draws. Items are sent only when they changed since the last post. */
export interface ViewModel {
  connection: Connection;
  threadId?: string;
  title: string;
  threads: ThreadChoice[];
  order: string[]; // item ids, in order
  changed: ShownItem[]; // items new or changed since the last post
  approvals: ShownApproval[];
  todos: Todo[];
  turn?: Turn;
  activity: Activity;
  usage: string;
  notice?: string; // a problem to show above the prompt
  queued: string[]; // prompts kept while the server is down, sent when it is back
  presence: string; // "Also here: Neovim 0.11, agent-lsp attach" (empty when nobody else)
  undoable: string[]; // finished turns that changed files (an "Undo turn" button each)
  model: string; // agentLsp.model ('' = the server's default)
  permissionMode: string; // agentLsp.permissionMode
}

/** Context added to the next prompt: a file, or a range of one. */
export interface Chip {
  uri: string;
  label: string;
  range?: { start: { line: number; character: number }; end: { line: number; character: number } };
}

export type ToWebview =
  | { type: 'model'; model: ViewModel; reset: boolean }
  | { type: 'focusPrompt' }
  | { type: 'addChip'; chip: Chip };

export type FromWebview =
  | { type: 'ready' }
  | { type: 'send'; text: string; chips?: Chip[] }
  | { type: 'selectThread'; threadId: string }
  | { type: 'newThread' }
  | { type: 'refreshThreads' }
  | { type: 'approve'; approvalId: string; decision: 'approve' | 'approveForSession' }
  | { type: 'reject'; approvalId: string; message?: string }
  | { type: 'interrupt' }
  | { type: 'compact' }
  | { type: 'viewDiff'; itemId: string; index: number }
  | { type: 'openFile'; path: string }
  | { type: 'copy'; text: string }
  | { type: 'insert'; text: string }
  | { type: 'pickFile' }
  | { type: 'currentFile'; selection: boolean }
  | { type: 'setModel'; model: string }
  | { type: 'setMode'; mode: string }
  | { type: 'undoTurn'; turnId: string }
  | { type: 'expandSubagent'; childThreadId: string }
  | { type: 'cancelSubagent'; childThreadId: string };

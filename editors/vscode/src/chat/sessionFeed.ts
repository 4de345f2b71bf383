/**
 * The thread state under the chat's model (`ChatSession`, session.ts): which thread the panel
 * shows, every loaded thread's state (folded from `agent/event` by the pure reducer in
 * `state.ts`), the thread list, and the connection to the server.
 *
 * Every thread it has loaded keeps its last seq. Loading a thread, and every (re)connection
 * to a server, calls `agent/thread/resume` with that seq; notifications for the thread that
 * arrive meanwhile are held and folded in after the replay, and the reducer drops any event
 * it already has, so nothing is shown twice or lost. When a turn starts on another thread
 * (an "Ask agent to fix" code action, say) while the panel's thread is idle, the panel
 * follows it. Turns run in the agent host and outlive the window: after a reload the panel
 * rejoins the running turn (or shows the thread it showed before).
 */

import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { describeError, traceError, traceWarn } from '../common/logging';
import type { ServerStatus } from '../common/server';
import type { Connection } from './messages';
import { AgentEvent, InputPart, Methods, ResumeResult, Thread } from './protocol';
import { activity, applyEvent, applyEvents, ChatState, emptyState, isGap, isRunning } from './state';
import { needsLoad, parentOf, subtree, treeApprovals, TreeApproval } from './subagents';

const THREAD_KEY = 'agentLsp.chat.thread';
const QUEUE_KEY = 'agentLsp.chat.queued';

/** A prompt typed while the server was down: sent, in order, when it is back. */
export interface QueuedPrompt {
  threadId?: string;
  text: string;
  extra: InputPart[];
}

export abstract class SessionFeed implements vscode.Disposable {
  protected client?: LanguageClient;
  private subscription?: vscode.Disposable;
  protected readonly states = new Map<string, ChatState>();
  private readonly held = new Map<string, AgentEvent[]>(); // events that arrive while a resume runs
  private readonly resuming = new Map<string, Promise<void>>();
  private generation = 0; // one per connection
  private readonly changeEmitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changeEmitter.event;
  current: ChatState = emptyState();
  threads: Thread[] = [];
  connection: Connection = 'stopped';
  notice?: string;
  /** Prompts kept while the server is down or restarting (a reload keeps them too). */
  queued: QueuedPrompt[];
  /** This window's LSP client name, to leave it out of "Also here". */
  ownName = '';
  private remembered?: string;

  /** `memory` keeps the panel's thread across window reloads (the workspace's state). */
  constructor(protected readonly memory?: vscode.Memento) {
    this.remembered = memory?.get<string>(THREAD_KEY);
    this.queued = memory?.get<QueuedPrompt[]>(QUEUE_KEY) ?? [];
  }

  /** Follow the server: subscribe to a new client's events, resume the thread on every start. */
  onServerState(status: ServerStatus): void {
    this.connection = status.state;
    this.notice = status.message;
    if (status.state === 'running' && status.client) {
      if (status.client !== this.client) {
        this.subscription?.dispose();
        this.client = status.client;
        this.subscription = status.client.onNotification(Methods.event, (event: AgentEvent) => this.onEvent(event));
      }
      void this.reconnect();
    } else if (status.state !== 'starting') {
      this.subscription?.dispose();
      this.subscription = undefined;
      this.client = undefined;
    }
    this.changed();
  }

  protected changed(): void {
    const threadId = this.current.threadId;
    if (threadId && threadId !== this.remembered) {
      this.remembered = threadId;
      void this.memory?.update(THREAD_KEY, threadId);
    }
    this.changeEmitter.fire();
  }

  protected request<R>(method: string, params: object): Promise<R> {
    if (!this.client) {
      return Promise.reject(new Error('agent-lsp is not running; run "Agent: Restart Server" or see "Agent: Show Logs"'));
    }
    return this.client.sendRequest<R>(method, params);
  }

  /** Send the prompts kept while the server was away, oldest first (after a reconnection). */
  protected abstract flush(): Promise<void>;

  /** Keep the queued prompts in the workspace's memory (a reload sends them). */
  protected saveQueue(): void {
    void this.memory?.update(QUEUE_KEY, this.queued);
  }

  private async reconnect(): Promise<void> {
    this.generation++; // what an older connection still answers is dropped
    this.held.clear();
    this.resuming.clear();
    // The panel's thread and the subagents of it already loaded, each from its last seq.
    const loaded = this.current.threadId ? subtree(this.states, this.current.threadId) : [];
    const resumed = Promise.all(loaded.filter((id) => this.states.has(id) || id === this.current.threadId).map((id) => this.resume(id)));
    await Promise.all([resumed, this.refreshThreads()]);
    if (!this.current.threadId) {
      // A window reloaded, or opened while turns run in the agent host: show the running turn
      // (its pending approval included), else the thread the panel showed before.
      const running = this.threads.find((t) => t.status === 'running');
      const before = this.threads.find((t) => t.id === this.remembered);
      const pick = this.queued[0]?.threadId ? this.threads.find((t) => t.id === this.queued[0].threadId) : running ?? before;
      if (pick && !this.current.threadId) {
        await this.open(pick.id);
      }
    }
    await this.flush();
  }

  async refreshThreads(): Promise<void> {
    try {
      this.threads = (await this.request<{ threads: Thread[] }>(Methods.threadList, {})).threads;
      this.changed();
    } catch (error) {
      traceWarn('agent/thread/list failed:', error);
    }
  }

  /** Replay the thread from its last seq (0 when first loaded), holding live events meanwhile. */
  private resume(threadId: string): Promise<void> {
    const running = this.resuming.get(threadId);
    if (running) {
      return running;
    }
    this.held.set(threadId, this.held.get(threadId) ?? []);
    const generation = this.generation;
    let work: Promise<void> | undefined = undefined;
    work = (async () => {
      const base = this.states.get(threadId) ?? emptyState(threadId);
      try {
        const result = await this.request<ResumeResult>(Methods.threadResume, { threadId, afterSeq: base.lastSeq });
        if (generation !== this.generation) {
          return;
        }
        let state = applyEvents({ ...base, title: result.thread.title }, result.events);
        state = applyEvents(state, this.held.get(threadId) ?? []);
        this.store(state);
      } catch (error) {
        if (generation === this.generation) {
          this.notice = `Could not load the thread: ${describeError(error)}`;
          traceError(`agent/thread/resume ${threadId}:`, error);
        }
      } finally {
        if (this.resuming.get(threadId) === work) {
          this.held.delete(threadId);
          this.resuming.delete(threadId);
        }
        this.changed();
      }
    })();
    this.resuming.set(threadId, work);
    return work;
  }

  private store(state: ChatState): void {
    if (!state.threadId) {
      return;
    }
    this.states.set(state.threadId, state);
    if (state.threadId === this.current.threadId) {
      this.current = state;
    }
  }

  private onEvent(event: AgentEvent): void {
    const held = this.held.get(event.threadId);
    if (held) {
      held.push(event);
      return;
    }
    const state = this.states.get(event.threadId);
    if (event.type === 'thread/started' || event.type === 'turn/started' || event.type === 'turn/completed') {
      void this.refreshThreads();
    }
    if (!state && parentOf(this.states, event)) {
      // A subagent of a loaded thread: its own state, from its first event (a gap resumes it).
      const child = emptyState(event.threadId, event.type === 'thread/started' ? event.thread.title : '');
      this.states.set(event.threadId, child);
      if (isGap(child, event)) {
        this.held.set(event.threadId, [event]);
        void this.resume(event.threadId);
      } else {
        this.store(applyEvent(child, event));
      }
      this.changed();
      return;
    }
    if (!state) {
      if (event.type === 'turn/started' && this.mayFollow()) {
        this.held.set(event.threadId, [event]);
        void this.open(event.threadId);
      }
      return;
    }
    if (isGap(state, event)) {
      this.held.set(event.threadId, [event]); // missed some: replay from what we have
      void this.resume(event.threadId);
      return;
    }
    this.store(applyEvent(state, event));
    if (event.type === 'turn/started' && event.threadId !== this.current.threadId && this.mayFollow() && !this.isSubagent(event.threadId)) {
      this.current = this.states.get(event.threadId) ?? this.current;
    }
    this.changed();
  }

  /** The panel follows a turn on another thread only when its own thread (subagents
   * included) has nothing going on. */
  private mayFollow(): boolean {
    return !isRunning(this.current) && this.approvals.length === 0;
  }

  /** A thread the server listed as a subagent, or one a loaded `subagent` item names. */
  private isSubagent(threadId: string): boolean {
    return this.threads.some((t) => t.id === threadId && t.kind === 'subagent') || !!parentOf(this.states, { threadId } as AgentEvent);
  }

  /** The chat state of a loaded thread (a subagent's child thread, say). */
  state(threadId: string): ChatState | undefined {
    return this.states.get(threadId);
  }

  /** Every loaded thread's state, for the subagent tree. */
  get allStates(): ReadonlyMap<string, ChatState> {
    return this.states;
  }

  /** The pending approvals of the panel's thread and of its subagents (answered as any). */
  get approvals(): TreeApproval[] {
    return this.current.threadId ? treeApprovals(this.states, this.current.threadId) : [];
  }

  /** Load a subagent's transcript when the chat expands it and the session lacks its events. */
  async loadSubagent(childThreadId: string): Promise<void> {
    const listed = this.threads.find((t) => t.id === childThreadId)?.lastSeq;
    if (needsLoad(this.states, childThreadId, listed)) {
      await this.resume(childThreadId);
    }
  }

  async open(threadId: string): Promise<void> {
    this.notice = undefined;
    this.current = this.states.get(threadId) ?? emptyState(threadId, this.threads.find((t) => t.id === threadId)?.title);
    this.changed();
    await this.resume(threadId);
  }

  newThread(): void {
    this.current = emptyState();
    this.notice = undefined;
    this.changed();
  }

  /** The other surfaces attached to the panel's thread, as the header says it. */
  get presence(): string {
    const names = this.current.attached.map((p) => p.clientName);
    const own = names.findIndex((name) => !!this.ownName && name.startsWith(this.ownName));
    if (own >= 0) {
      names.splice(own, 1); // this window (the same name twice is another window)
    }
    return names.length ? `Also here: ${names.join(', ')}` : '';
  }

  protected fail(what: string, error: unknown): void {
    this.notice = `${what}: ${describeError(error)}`;
    traceError(this.notice);
    this.changed();
  }

  get activity(): ReturnType<typeof activity> {
    return this.approvals.length > 0 ? 'approval' : activity(this.current);
  }

  dispose(): void {
    this.subscription?.dispose();
    this.changeEmitter.dispose();
  }
}

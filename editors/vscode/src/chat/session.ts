/**
 * The chat's model on the extension host: the thread state of `SessionFeed` (sessionFeed.ts:
 * which thread the panel shows, every loaded thread folded from `agent/event`, resumes and
 * reconnections), plus the requests the panel and the commands send (PROTOCOL.md section 3):
 * prompts (kept while the server is away, sent in order when it is back), approval answers,
 * undo, interrupt, compaction and subagent cancellation. Approvals this window answered are
 * remembered, so the chat names who answered only the others.
 */

import * as vscode from 'vscode';
import { Decision, InputPart, Methods, Thread, Turn } from './protocol';
import { emptyState, titleFrom } from './state';
import { SessionFeed } from './sessionFeed';

export type { QueuedPrompt } from './sessionFeed';

const ANSWERED_KEY = 'agentLsp.chat.answeredHere';
const ANSWERED_KEPT = 200; // the latest approvals answered here that a reload remembers

export class ChatSession extends SessionFeed {
  /** Approvals this window answered (chat, palette, code action): the chat names who answered
   * only the others. */
  readonly answeredHere: Set<string>;
  private flushing = false;

  /** `memory` keeps the panel's thread, the queued prompts and the approvals answered here
   * across window reloads (the workspace's state). */
  constructor(memory?: vscode.Memento) {
    super(memory);
    this.answeredHere = new Set(memory?.get<string[]>(ANSWERED_KEY) ?? []); // a reload is still this window
  }

  /** Send the prompts kept while the server was away, oldest first; one that fails stays. */
  protected async flush(): Promise<void> {
    if (this.flushing) {
      return;
    }
    this.flushing = true;
    try {
      while (this.queued.length > 0 && this.client) {
        const next = this.queued[0];
        if (next.threadId && next.threadId !== this.current.threadId) {
          await this.open(next.threadId);
        }
        if (!(await this.sendNow(next.text, next.extra))) {
          return;
        }
        this.queued.shift();
        this.saveQueue();
        this.changed();
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Send a prompt on the panel's thread, starting one first if the panel has none. While the
   * server is down or restarting the prompt is kept, and sent when it is back. */
  async send(text: string, extra: InputPart[] = []): Promise<boolean> {
    if (!this.client || this.queued.length > 0) {
      this.queued.push({ threadId: this.current.threadId, text, extra });
      this.saveQueue();
      this.notice = undefined;
      this.changed();
      if (this.client) {
        void this.flush();
      }
      return true;
    }
    return this.sendNow(text, extra);
  }

  private async sendNow(text: string, extra: InputPart[]): Promise<boolean> {
    this.notice = undefined;
    try {
      let threadId = this.current.threadId;
      if (!threadId) {
        const { thread } = await this.request<{ thread: Thread }>(Methods.threadStart, { title: titleFrom(text) });
        threadId = thread.id;
        this.states.set(threadId, this.states.get(threadId) ?? emptyState(threadId, thread.title));
        await this.open(threadId);
      }
      const input: InputPart[] = [{ type: 'text', text }, ...extra];
      await this.request<{ turn: Turn }>(Methods.turnStart, { threadId, input });
      return true;
    } catch (error) {
      this.fail('Could not send', error);
      return false;
    }
  }

  /** Cancel one running subagent alone (`agent/turn/interrupt` on its thread): its item ends
   * interrupted and the parent's turn goes on. */
  async cancelSubagent(childThreadId: string): Promise<void> {
    try {
      await this.request(Methods.turnInterrupt, { threadId: childThreadId });
    } catch (error) {
      this.fail('Could not cancel the subagent', error);
    }
  }

  /** Answer an approval; `hunks` (0-based, in the approval diff's order across files) makes
   * "approve" apply only those hunks of a file change. */
  async respond(approvalId: string, decision: Decision, message?: string, hunks?: number[]): Promise<void> {
    const params = hunks ? { approvalId, decision, message, hunks } : { approvalId, decision, message };
    await this.answering(approvalId, this.request(Methods.approvalRespond, params)).catch(
      (error) => this.fail('Could not answer the approval', error),
    );
  }

  /** Undo the file changes of a finished turn of the panel's thread (`agent.undoTurn`). */
  async undoTurn(turnId: string): Promise<void> {
    const threadId = this.current.threadId;
    if (!threadId || !this.client) {
      this.fail('Could not undo the turn', new Error('agent-lsp is not running'));
      return;
    }
    try {
      const result = await this.client.sendRequest<{ message?: string } | undefined>('workspace/executeCommand', {
        command: 'agent.undoTurn',
        arguments: [threadId, turnId],
      });
      if (result && typeof result === 'object' && typeof result.message === 'string' && result.message) {
        this.notice = result.message;
        this.changed();
      }
    } catch (error) {
      this.fail('Could not undo the turn', error);
    }
  }

  /** This window answers `approvalId` (marked before the answer: its `approval/resolved` may
   * arrive first); when another surface was first, or the answer failed, the mark goes again. */
  async answering(approvalId: string, answer: Promise<unknown>): Promise<void> {
    this.answeredHere.add(approvalId);
    let outcome: unknown;
    try {
      outcome = ((await answer) as { outcome?: unknown } | undefined)?.outcome;
    } catch (error) {
      this.answeredHere.delete(approvalId);
      this.changed();
      throw error;
    }
    if (outcome === 'alreadyResolved') {
      this.answeredHere.delete(approvalId);
      this.notice = 'Another surface answered that approval first; this answer changed nothing.';
      this.changed();
      return;
    }
    void this.memory?.update(ANSWERED_KEY, [...this.answeredHere].slice(-ANSWERED_KEPT));
  }

  /** The server's `agent.approve` / `agent.reject` ran from this window (a code action). */
  onCommand(command: string, args: unknown[], result?: Promise<unknown>): void {
    if ((command === 'agent.approve' || command === 'agent.reject') && typeof args[0] === 'string' && result) {
      this.answering(args[0], result).catch(() => undefined); // the client reports its errors
    }
  }

  async interrupt(): Promise<void> {
    const threadId = this.current.threadId;
    if (!threadId) {
      return;
    }
    try {
      await this.request(Methods.turnInterrupt, { threadId });
    } catch (error) {
      this.fail('Could not interrupt', error);
    }
  }

  /** Compact the panel's thread now (`agent/thread/compact`): a turn of its own, shown as a
   * "Context compacted" card. Refused by the server while a turn runs. */
  async compact(instructions?: string): Promise<boolean> {
    const threadId = this.current.threadId;
    if (!threadId) {
      this.notice = 'Nothing to compact yet: send a prompt first.';
      this.changed();
      return false;
    }
    this.notice = undefined;
    try {
      await this.request<{ turn: Turn }>(Methods.threadCompact, { threadId, instructions: instructions || undefined });
      return true;
    } catch (error) {
      this.fail('Could not compact', error);
      return false;
    }
  }
}

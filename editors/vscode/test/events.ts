/** Builders of protocol events for the unit tests, numbered per thread like the server does. */

import type { AgentEvent, Approval, Item, Turn, Usage } from '../src/chat/protocol';

type Body = AgentEvent extends infer E ? (E extends AgentEvent ? Omit<E, 'threadId' | 'seq'> : never) : never;

export class Script {
  private seq = 0;
  constructor(readonly threadId = 'thr_1') {}

  next(body: Body): AgentEvent {
    return { threadId: this.threadId, seq: ++this.seq, ...body } as AgentEvent;
  }
}

export const turn = (id: string, status: Turn['status'] = 'running', error?: string): Turn => ({
  id,
  threadId: 'thr_1',
  status,
  error,
});

export const usage = (input: number, output: number, cacheRead = 0, cacheCreation = 0): Usage => ({
  inputTokens: input,
  outputTokens: output,
  cacheReadTokens: cacheRead,
  cacheCreationTokens: cacheCreation,
});

export const agentMessage = (id: string, text = '', status: Item['status'] = 'inProgress'): Item => ({
  id,
  type: 'agentMessage',
  status,
  text,
});

export const fileChange = (id: string, diff: string, outcome?: 'applied'): Item => ({
  id,
  type: 'fileChange',
  status: outcome ? 'completed' : 'inProgress',
  changes: [{ path: 'calc.py', kind: 'update', diff }],
  outcome,
});

export const approval = (id: string, turnId: string, itemId: string): Approval => ({
  id,
  turnId,
  itemId,
  kind: 'fileChange',
  title: 'Edit calc.py',
});

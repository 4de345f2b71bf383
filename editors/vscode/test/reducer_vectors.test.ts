/**
 * The shared reducer vectors (spec/reducer/vectors/*.json, see spec/reducer/README.md) against
 * the chat's reducer, `applyEvents`. The same files run against the store
 * (tests/test_reducer_vectors.py) and the Neovim plugin (tests/neovim/reducer_vectors.lua).
 */

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import type { AgentEvent, Item } from '../src/chat/protocol';
import { applyEvents, emptyState } from '../src/chat/state';

interface Vector {
  name: string;
  description: string;
  clientOnly?: boolean;
  events: AgentEvent[]; // some carry types this shim does not know: that is the point
  expect: {
    lastSeq: number;
    items: Item[];
    pendingApprovals: string[];
    turn: { id: string; status: string } | null;
    usage?: { costUsd: number; turnCostUsd: number; cacheMiss: string | null };
    attached?: { clientId: string; clientName: string }[];
  };
}

// out/test/reducer_vectors.test.js -> the repository root
const dir = resolve(__dirname, '..', '..', '..', '..', 'spec', 'reducer', 'vectors');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort();

describe('the shared reducer vectors', () => {
  test('there are at least 12 of them', () => {
    assert.ok(files.length >= 12, `${files.length} vectors in ${dir}`);
  });

  for (const file of files) {
    const vector = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Vector;
    test(`${vector.name}: ${vector.description}`, () => {
      const state = applyEvents(emptyState(vector.events[0].threadId), vector.events);
      assert.deepEqual(
        {
          lastSeq: state.lastSeq,
          items: state.items.map((c) => c.item),
          pendingApprovals: state.approvals.map((a) => a.id),
          turn: state.turn ? { id: state.turn.id, status: state.turn.status } : null,
          ...(vector.expect.usage
            ? { usage: { costUsd: state.costUsd, turnCostUsd: state.turnCostUsd, cacheMiss: state.cacheMiss ?? null } }
            : {}),
          ...(vector.expect.attached ? { attached: state.attached } : {}),
        },
        vector.expect,
      );
    });
  }
});

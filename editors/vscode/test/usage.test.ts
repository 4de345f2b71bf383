import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  addUsage,
  approxTokens,
  cacheHitShare,
  formatCacheMiss,
  formatCompaction,
  formatTokens,
  formatUsage,
  totalInput,
  ZERO_USAGE,
} from '../src/chat/usage';
import { usage } from './events';

test('the cache hit share is cache reads over all input tokens', () => {
  const u = usage(100, 20, 300, 100); // 100 fresh + 300 read + 100 written = 500 in
  assert.equal(totalInput(u), 500);
  assert.equal(cacheHitShare(u), 0.6);
  assert.equal(cacheHitShare(ZERO_USAGE), 0);
});

test('usage adds up and reads as one line', () => {
  const total = addUsage(usage(100, 20, 300, 100), usage(50, 10, 450, 0));
  assert.deepEqual(total, usage(150, 30, 750, 100));
  assert.equal(formatUsage(undefined, total), '');
  assert.equal(
    formatUsage(usage(50, 10, 450, 0), total),
    'Last turn: 500 in, 10 out, cache 90% · Thread: 1k in, 30 out, cache 75%',
  );
});

test('the usage line carries the costs and the reason the cache missed', () => {
  const last = usage(50, 10, 450, 0);
  assert.equal(
    formatUsage(last, last, { turn: 0.0123, thread: 1.5, miss: 'tools' }),
    'Last turn: 500 in, 10 out, cache 90%, $0.0123 · Thread: 500 in, 10 out, cache 90%, $1.50 · cache miss: tools changed',
  );
  assert.equal(formatCacheMiss('expired'), 'cache miss: cache expired while idle');
  assert.equal(formatCacheMiss(undefined), '');
});

test('token counts are short', () => {
  assert.deepEqual(
    [999, 1000, 1234, 12345, 999_499, 2_500_000].map(formatTokens),
    ['999', '1k', '1.2k', '12k', '999k', '2.5M'],
  );
});

test('a compaction reads as rounded before and after figures', () => {
  assert.equal(formatCompaction(52_345, 9_812), 'about 52,000 → 9,800 tokens');
  assert.equal(formatCompaction(150_000, 4_000), 'about 150,000 → 4,000 tokens');
  assert.deepEqual([0, 42, 999, 1_049, 1_250_000].map(approxTokens), ['0', '42', '1,000', '1,000', '1,300,000']);
});

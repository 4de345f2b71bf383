import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addUsage, cacheHitShare, formatTokens, formatUsage, totalInput, ZERO_USAGE } from '../src/chat/usage';
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

test('token counts are short', () => {
  assert.deepEqual(
    [999, 1000, 1234, 12345, 999_499, 2_500_000].map(formatTokens),
    ['999', '1k', '1.2k', '12k', '999k', '2.5M'],
  );
});

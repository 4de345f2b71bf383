/**
 * Token usage arithmetic for the chat's usage line: totals and the prompt-cache hit share.
 *
 * The cache hit share is the part of the input the model read from the prompt cache:
 * cacheReadTokens / (inputTokens + cacheReadTokens + cacheCreationTokens). No `vscode` import.
 */

import type { Usage } from './protocol';

export const ZERO_USAGE: Usage = Object.freeze({
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheCreationTokens: 0,
});

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    inputTokens: a.inputTokens + (b.inputTokens ?? 0),
    outputTokens: a.outputTokens + (b.outputTokens ?? 0),
    cacheReadTokens: a.cacheReadTokens + (b.cacheReadTokens ?? 0),
    cacheCreationTokens: a.cacheCreationTokens + (b.cacheCreationTokens ?? 0),
  };
}

/** All input tokens, cached or not. */
export function totalInput(u: Usage): number {
  return u.inputTokens + u.cacheReadTokens + u.cacheCreationTokens;
}

/** The cache hit share, 0..1; 0 when there was no input. */
export function cacheHitShare(u: Usage): number {
  const total = totalInput(u);
  return total > 0 ? u.cacheReadTokens / total : 0;
}

export function formatTokens(n: number): string {
  if (n < 1000) {
    return String(n);
  }
  if (n < 10000) {
    return (n / 1000).toFixed(1).replace(/\.0$/, '') + 'k';
  }
  if (n < 1_000_000) {
    return Math.round(n / 1000) + 'k';
  }
  return (n / 1_000_000).toFixed(1).replace(/\.0$/, '') + 'M';
}

/** Dollars: "$0.0123" under a dollar, "$1.23" above. */
export function formatCost(usd: number): string {
  return usd < 1 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

const MISS_WORDS: Record<string, string> = {
  tools: 'tools changed',
  system: 'system prompt changed',
  model: 'model changed',
  rewritten: 'conversation compacted',
  expired: 'cache expired while idle',
};

/** The note for a turn whose prompt cache missed: "cache miss: tools changed". */
export function formatCacheMiss(reason: string | undefined): string {
  return reason ? `cache miss: ${MISS_WORDS[reason] ?? reason}` : '';
}

/** "Last turn: 12.3k in, 456 out, cache 87%, $0.0123 · Thread: 40k in, 2.1k out, cache 91%, $0.45
 * · cache miss: tools changed" (costs from turn/usage, when given). */
export function formatUsage(
  last: Usage | undefined,
  total: Usage,
  cost?: { turn: number; thread: number; miss?: string },
): string {
  const one = (u: Usage, usd?: number) =>
    `${formatTokens(totalInput(u))} in, ${formatTokens(u.outputTokens)} out, cache ${Math.round(cacheHitShare(u) * 100)}%` +
    (usd !== undefined ? `, ${formatCost(usd)}` : '');
  if (!last) {
    return '';
  }
  const miss = formatCacheMiss(cost?.miss);
  return `Last turn: ${one(last, cost?.turn)} · Thread: ${one(total, cost?.thread)}${miss ? ` · ${miss}` : ''}`;
}

/** A token count rounded to two significant digits, with thousands separators: 52,345 -> "52,000". */
export function approxTokens(n: number): string {
  const rounded = n < 100 ? Math.round(n) : Number(n.toPrecision(2));
  return rounded.toLocaleString('en-US');
}

/** The figures on a "Context compacted" card: "about 52,000 → 9,800 tokens". */
export function formatCompaction(tokensBefore: number, tokensAfter: number): string {
  return `about ${approxTokens(tokensBefore)} → ${approxTokens(tokensAfter)} tokens`;
}

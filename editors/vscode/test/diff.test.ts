import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { applyUnifiedDiff, DiffError, invertDiff, parseHunks, proposedText, splitLines, proposedHunkLines } from '../src/chat/diff';

// Diffs as agent-lsp writes them (Python's difflib, 3 lines of context, endings kept).
const OLD = 'import os\n\n\ndef add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n';
const DIFF = [
  '--- a/calc.py',
  '+++ b/calc.py',
  '@@ -2,4 +2,4 @@',
  ' ',
  ' ',
  ' def add(a, b):',
  '-    return a - b',
  '+    return a + b',
  '',
].join('\n');

describe('applying unified diffs', () => {
  test('applies a hunk where it says', () => {
    assert.equal(applyUnifiedDiff(OLD, DIFF), OLD.replace('return a - b', 'return a + b'));
  });

  test('finds a hunk that moved because the user typed above it', () => {
    const moved = '# header\n# more\n' + OLD;
    assert.equal(applyUnifiedDiff(moved, DIFF), moved.replace('return a - b', 'return a + b'));
  });

  test('refuses a hunk whose lines are gone', () => {
    assert.throws(() => applyUnifiedDiff(OLD.replace('def add', 'def plus'), DIFF), DiffError);
  });

  test('keeps CRLF line endings and handles a last line without one', () => {
    const old = 'a\r\nb\r\nc';
    const diff = '--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\r\n b\r\n-c\n\\ No newline at end of file\n+C\n\\ No newline at end of file\n';
    assert.equal(applyUnifiedDiff(old, diff), 'a\r\nb\r\nC');
    const grow = '--- a/f\n+++ b/f\n@@ -3 +3,2 @@\n-c\n\\ No newline at end of file\n+c\r\n+d\r\n';
    assert.equal(applyUnifiedDiff(old, grow), 'a\r\nb\r\nc\r\nd\r\n');
  });

  test('applies several hunks, new files and deletions', () => {
    const old = Array.from({ length: 20 }, (_, i) => `line ${i + 1}\n`).join('');
    const diff = [
      '--- a/f', '+++ b/f',
      '@@ -1,4 +1,4 @@', '-line 1', '+LINE 1', ' line 2', ' line 3', ' line 4',
      '@@ -17,4 +17,5 @@', ' line 17', ' line 18', ' line 19', ' line 20', '+line 21', '',
    ].join('\n');
    const expected = old.replace('line 1\n', 'LINE 1\n') + 'line 21\n';
    assert.equal(applyUnifiedDiff(old, diff), expected);
    assert.equal(proposedText('', 'add', '--- /dev/null\n+++ b/n.py\n@@ -0,0 +1,2 @@\n+x = 1\n+y = 2\n'), 'x = 1\ny = 2\n');
    assert.equal(proposedText('x = 1\n', 'delete', '--- a/n.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x = 1\n'), '');
  });

  test('inverting a diff undoes it', () => {
    const applied = applyUnifiedDiff(OLD, DIFF);
    assert.equal(applyUnifiedDiff(applied, invertDiff(DIFF)), OLD);
    assert.throws(() => applyUnifiedDiff(applied, DIFF), DiffError, 'an applied diff does not apply twice');
  });

  test('parses hunk headers and splits lines like an editor', () => {
    assert.deepEqual(parseHunks(DIFF).map((h) => [h.oldStart, h.oldLength, h.lines.length]), [[2, 4, 5]]);
    assert.deepEqual(splitLines('a\nb\r\nc\rd'), ['a\n', 'b\r\n', 'c\r', 'd']);
    assert.deepEqual(splitLines(''), []);
    assert.throws(() => parseHunks('@@ -1 +1 @@\n?what\n'), DiffError);
  });
});

test('proposedHunkLines: each hunk at its first changed line of the proposed text', () => {
  const current = 'a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n';
  const diff = '--- a/x\n+++ b/x\n@@ -1,3 +1,4 @@\n a\n+new\n b\n c\n@@ -8,3 +9,2 @@\n h\n-i\n j\n';
  assert.deepEqual(proposedHunkLines(current, diff), [1, 9]);
});

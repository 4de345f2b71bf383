/**
 * Applies a unified diff (as agent-lsp writes them: `difflib` hunks, line endings kept,
 * "\ No newline at end of file" markers) to a text, to show the proposed text beside the
 * current one. No `vscode` import.
 *
 * Hunks are found at their stated line first, then at the nearest place where their old
 * lines match exactly, so a change still previews when the user typed above it. When a hunk
 * fits nowhere, `applyUnifiedDiff` throws a `DiffError`.
 */

export class DiffError extends Error {}

interface HunkLine {
  op: ' ' | '-' | '+';
  text: string; // with its line ending, if it has one
}

export interface Hunk {
  oldStart: number; // 1-based, as in the header
  oldLength: number;
  lines: HunkLine[];
}

const HEADER = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

/** The lines of `text`, each with its ending, split where an editor splits (\n, \r\n, \r). */
export function splitLines(text: string): string[] {
  return text.match(/[^\r\n]*(?:\r\n|\n|\r)|[^\r\n]+$/g) ?? [];
}

export function parseHunks(diff: string): Hunk[] {
  const raw = diff.split('\n');
  if (raw.length > 0 && raw[raw.length - 1] === '') {
    raw.pop();
  }
  const hunks: Hunk[] = [];
  let current: Hunk | undefined;
  for (const line of raw) {
    const header = HEADER.exec(line);
    if (header) {
      current = { oldStart: Number(header[1]), oldLength: header[2] === undefined ? 1 : Number(header[2]), lines: [] };
      hunks.push(current);
    } else if (!current) {
      continue; // ---/+++ file headers
    } else if (line.startsWith('\\')) {
      const last = current.lines[current.lines.length - 1];
      if (last && last.text.endsWith('\n')) {
        last.text = last.text.slice(0, -1); // "\ No newline at end of file"
      }
    } else if (line[0] === ' ' || line[0] === '-' || line[0] === '+') {
      current.lines.push({ op: line[0], text: line.slice(1) + '\n' });
    } else if (line === '') {
      current.lines.push({ op: ' ', text: '\n' }); // an empty context line whose space was stripped
    } else {
      throw new DiffError(`Not a unified diff line: ${JSON.stringify(line.slice(0, 40))}`);
    }
  }
  return hunks;
}

function matchesAt(lines: string[], at: number, old: string[]): boolean {
  if (at < 0 || at + old.length > lines.length) {
    return false;
  }
  return old.every((line, i) => lines[at + i] === line);
}

/** Where `old` fits in `lines`, nearest to `expected` first; -1 if nowhere. */
function locate(lines: string[], old: string[], expected: number, from: number): number {
  const limit = Math.max(lines.length, expected) + 1;
  for (let distance = 0; distance <= limit; distance++) {
    for (const at of distance === 0 ? [expected] : [expected - distance, expected + distance]) {
      if (at >= from && matchesAt(lines, at, old)) {
        return at;
      }
    }
  }
  return -1;
}

/** The text after applying `diff` to `text`. Throws `DiffError` when a hunk does not fit. */
export function applyUnifiedDiff(text: string, diff: string): string {
  const hunks = parseHunks(diff);
  const lines = splitLines(text);
  const out: string[] = [];
  let cursor = 0; // next line of `lines` not yet copied
  let offset = 0; // how far hunks were found from their stated place so far
  for (const [index, hunk] of hunks.entries()) {
    const old = hunk.lines.filter((l) => l.op !== '+').map((l) => l.text);
    const added = hunk.lines.filter((l) => l.op !== '-').map((l) => l.text);
    const stated = hunk.oldLength === 0 ? hunk.oldStart : hunk.oldStart - 1;
    const at = old.length === 0 && lines.length === 0 ? 0 : locate(lines, old, stated + offset, cursor);
    if (at < 0) {
      throw new DiffError(`Hunk ${index + 1} (line ${hunk.oldStart}) does not apply to the current text`);
    }
    offset = at - stated;
    out.push(...lines.slice(cursor, at));
    out.push(...added);
    cursor = at + old.length;
  }
  out.push(...lines.slice(cursor));
  return out.join('');
}

/** The proposed text of one file change: `add` starts from nothing, `delete` ends in nothing. */
export function proposedText(current: string, kind: 'add' | 'update' | 'delete', diff: string): string {
  if (kind === 'delete') {
    return '';
  }
  return applyUnifiedDiff(kind === 'add' ? '' : current, diff);
}

/** The diff that undoes `diff`: removed and added lines swap, and so do the hunk ranges. */
export function invertDiff(diff: string): string {
  let inHunks = false;
  return diff
    .split('\n')
    .map((line) => {
      const header = HEADER.exec(line);
      if (header) {
        inHunks = true;
        return `@@ -${header[3]},${header[4] ?? 1} +${header[1]},${header[2] ?? 1} @@`;
      }
      if (!inHunks) {
        return line; // file headers
      }
      if (line[0] === '-') {
        return '+' + line.slice(1);
      }
      return line[0] === '+' ? '-' + line.slice(1) : line;
    })
    .join('\n');
}

/** Where each hunk of `diff` lands in the proposed text: its first changed line (0-based). */
export function proposedHunkLines(current: string, diff: string): number[] {
  const lines: number[] = [];
  let shift = 0; // proposed line minus current line, after the hunks so far
  const text = splitLines(current);
  let from = 0;
  for (const hunk of parseHunks(diff)) {
    const old = hunk.lines.filter((l) => l.op !== '+').map((l) => l.text);
    let at = hunk.oldLength === 0 ? hunk.oldStart : hunk.oldStart - 1;
    for (let i = from; i <= text.length - old.length; i++) {
      if (old.every((line, k) => text[i + k] === line)) {
        at = i;
        break;
      }
    }
    from = at + old.length;
    const firstChange = Math.max(0, hunk.lines.findIndex((l) => l.op !== ' '));
    const before = hunk.lines.slice(0, firstChange).length; // context lines before the change
    lines.push(at + shift + before);
    shift += hunk.lines.filter((l) => l.op === '+').length - hunk.lines.filter((l) => l.op === '-').length;
  }
  return lines;
}

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

// The pure parts must run outside VS Code (in these tests, and in the webview).
const PURE = ['protocol', 'state', 'usage', 'diff', 'markdown', 'messages', 'subagents'];

test('the pure chat modules import nothing from vscode', () => {
  const root = join(__dirname, '..', '..', 'src', 'chat');
  for (const name of PURE) {
    const source = readFileSync(join(root, `${name}.ts`), 'utf8');
    assert.doesNotMatch(source, /from ['"](vscode|vscode-languageclient[^'"]*)['"]/, `${name}.ts imports vscode`);
  }
});

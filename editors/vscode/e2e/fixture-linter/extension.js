// Test-only fixture for the agent-lsp end-to-end test: a "linter" that publishes one warning,
// source "fakelint", on each line reading `return a - b`, the way any real linter extension
// publishes diagnostics. agent-lsp then offers "Ask agent to fix: …" on it. It also flags
// lines holding `TODO-LINT` (an error, code "todo-lint") and answers Go to Definition in
// Python files, for the editor-intelligence test (intel.mjs).
const vscode = require('vscode');

const MESSAGE = 'add() subtracts instead of adding';
const TODO_MESSAGE = 'fakelint: TODO-LINT marker must not be committed';

/** Go to definition for Python files: the word under the cursor, to its `def NAME(` line. */
const definitions = {
  provideDefinition(doc, position) {
    const word = doc.getWordRangeAtPosition(position);
    if (!word) {
      return undefined;
    }
    const name = doc.getText(word);
    for (let line = 0; line < doc.lineCount; line++) {
      const at = doc.lineAt(line).text.indexOf(`def ${name}(`);
      if (at >= 0) {
        const start = at + 'def '.length;
        return new vscode.Location(doc.uri, new vscode.Range(line, start, line, start + name.length));
      }
    }
    return undefined;
  },
};

function activate(context) {
  const collection = vscode.languages.createDiagnosticCollection('fakelint');
  const lint = (doc) => {
    if (doc.uri.scheme !== 'file') {
      return;
    }
    const found = [];
    for (let line = 0; line < doc.lineCount; line++) {
      const text = doc.lineAt(line).text;
      const at = text.indexOf('return a - b');
      if (at >= 0) {
        const range = new vscode.Range(line, at, line, at + 'return a - b'.length);
        const diagnostic = new vscode.Diagnostic(range, MESSAGE, vscode.DiagnosticSeverity.Warning);
        diagnostic.source = 'fakelint';
        found.push(diagnostic);
      }
      // For the editor-intelligence test (intel.mjs): an error with a code on a marker line.
      const marker = text.indexOf('TODO-LINT');
      if (marker >= 0) {
        const range = new vscode.Range(line, marker, line, marker + 'TODO-LINT'.length);
        const diagnostic = new vscode.Diagnostic(range, TODO_MESSAGE, vscode.DiagnosticSeverity.Error);
        diagnostic.source = 'fakelint';
        diagnostic.code = 'todo-lint';
        found.push(diagnostic);
      }
    }
    collection.set(doc.uri, found);
  };
  context.subscriptions.push(
    collection,
    vscode.workspace.onDidOpenTextDocument(lint),
    vscode.workspace.onDidChangeTextDocument((event) => lint(event.document)),
    vscode.workspace.onDidCloseTextDocument((doc) => collection.delete(doc.uri)),
    vscode.languages.registerDefinitionProvider({ scheme: 'file', pattern: '**/*.py' }, definitions),
  );
  vscode.workspace.textDocuments.forEach(lint);
}

module.exports = { activate, deactivate() {} };

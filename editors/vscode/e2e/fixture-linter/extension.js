// Test-only fixture for the agent-lsp end-to-end test: a "linter" that publishes one warning,
// source "fakelint", on each line reading `return a - b`, the way any real linter extension
// publishes diagnostics. agent-lsp then offers "Ask agent to fix: …" on it.
const vscode = require('vscode');

const MESSAGE = 'add() subtracts instead of adding';

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
    }
    collection.set(doc.uri, found);
  };
  context.subscriptions.push(
    collection,
    vscode.workspace.onDidOpenTextDocument(lint),
    vscode.workspace.onDidChangeTextDocument((event) => lint(event.document)),
    vscode.workspace.onDidCloseTextDocument((doc) => collection.delete(doc.uri)),
  );
  vscode.workspace.textDocuments.forEach(lint);
}

module.exports = { activate, deactivate() {} };

// Test-only fixture for the agent-lsp end-to-end test: a "linter" that publishes one warning,
// source "fakelint", on each line reading `return a - b`, the way any real linter extension
// publishes diagnostics. agent-lsp then offers "Ask agent to fix: …" on it. It also flags
// lines holding `TODO-LINT` (an error, code "todo-lint") and answers Go to Definition, Find
// All References, hover and workspace symbols in Python files, for the editor-intelligence
// test (intel.mjs).
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

/** Find All References: every whole-word occurrence in the document. */
const references = {
  provideReferences(doc, position) {
    const word = doc.getWordRangeAtPosition(position);
    if (!word) {
      return [];
    }
    const name = doc.getText(word);
    const found = [];
    for (let line = 0; line < doc.lineCount; line++) {
      for (const match of doc.lineAt(line).text.matchAll(new RegExp(`\\b${name}\\b`, 'g'))) {
        found.push(new vscode.Location(doc.uri, new vscode.Range(line, match.index, line, match.index + name.length)));
      }
    }
    return found;
  },
};

/** A hover on the word `total` only (no other hover can get in the way of the main e2e test). */
const hovers = {
  provideHover(doc, position) {
    const word = doc.getWordRangeAtPosition(position);
    if (word && doc.getText(word) === 'total') {
      return new vscode.Hover(new vscode.MarkdownString('**fakelint**: `total` is an int'), word);
    }
    return undefined;
  },
};

/** Workspace symbols: the `def NAME(` lines of open Python documents whose NAME holds the query. */
const symbols = {
  provideWorkspaceSymbols(query) {
    const found = [];
    for (const doc of vscode.workspace.textDocuments.filter((d) => d.uri.path.endsWith('.py'))) {
      for (let line = 0; line < doc.lineCount; line++) {
        const match = /def (\w+)\(/.exec(doc.lineAt(line).text);
        if (match && match[1].includes(query)) {
          const start = match.index + 'def '.length;
          const range = new vscode.Range(line, start, line, start + match[1].length);
          found.push(new vscode.SymbolInformation(match[1], vscode.SymbolKind.Function, '', new vscode.Location(doc.uri, range)));
        }
      }
    }
    return found;
  },
};

function activate(context) {
  // the e2e's theme screenshots: set the color theme through the API (the toggle command is
  // unreliable in code-server)
  for (const [name, theme] of [['fakeLinter.themeDark', 'Default Dark Modern'], ['fakeLinter.themeLight', 'Default Light Modern']]) {
    context.subscriptions.push(vscode.commands.registerCommand(name, () =>
      vscode.workspace.getConfiguration('workbench').update('colorTheme', theme, vscode.ConfigurationTarget.Global)));
  }
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
    vscode.languages.registerReferenceProvider({ scheme: 'file', pattern: '**/*.py' }, references),
    vscode.languages.registerHoverProvider({ scheme: 'file', pattern: '**/*.py' }, hovers),
    vscode.languages.registerWorkspaceSymbolProvider(symbols),
  );
  vscode.workspace.textDocuments.forEach(lint);
}

module.exports = { activate, deactivate() {} };

/**
 * What the agent sees of this editor (issue 20; PROTOCOL.md section 10, "The editor's own
 * language intelligence"): every other source's diagnostics, forwarded to agent-lsp as
 * `agent/editor/diagnostics` whenever they change, and `agent/editor/query` (definition,
 * references, workspace symbols, hover) answered through VS Code's `vscode.execute*Provider`
 * commands, i.e. by the language servers and extensions the user already runs.
 *
 * agent-lsp's own diagnostics (approvals, answers) are never sent back to it, and results
 * that point into agent-lsp's own documents (proposed-change views, chat files) are dropped.
 * `attach` is called for each new LanguageClient before it starts: it announces
 * `experimental.agentLsp.editorQueries: true` and installs the query handler.
 */

import * as vscode from 'vscode';
import type { ClientCapabilities, FeatureState, LanguageClient, StaticFeature } from 'vscode-languageclient/node';
import { ResponseError } from 'vscode-languageclient/node';
import { SCHEME as PROPOSED_SCHEME } from './chat/diffView';
import { traceError } from './common/logging';
import type { ServerStatus } from './common/server';

export const DIAGNOSTICS_METHOD = 'agent/editor/diagnostics';
export const QUERY_METHOD = 'agent/editor/query';

/** agent-lsp's own diagnostic sources (lsp_server/convert.py): never forwarded back to it. */
const OWN_SOURCES = new Set(['agent', 'agent answer']);
const FLUSH_MS = 100; // a burst of changes goes out as one notification per document
const MAX_DIAGNOSTICS = 500; // per document
const MAX_RESULTS = 100; // per query
const MAX_TEXT = 4000; // characters of one result's text
const QUERY_TIMEOUT_MS = 8000;
const INVALID_PARAMS = -32602;

interface LspPosition { line: number; character: number }
interface LspRange { start: LspPosition; end: LspPosition }
interface LspDiagnostic {
  range: LspRange;
  severity: 1 | 2 | 3 | 4;
  code?: string | number;
  source?: string;
  message: string;
}
interface DiagnosticsParams { uri: string; version?: number; diagnostics: LspDiagnostic[] }
type QueryKind = 'definition' | 'references' | 'workspaceSymbols' | 'hover';
interface QueryParams { kind: QueryKind; uri?: string; position?: LspPosition; query?: string }
interface QueryResult { uri: string; range: LspRange; text?: string }

const KINDS: readonly QueryKind[] = ['definition', 'references', 'workspaceSymbols', 'hover'];

export class EditorIntel implements vscode.Disposable {
  private client?: LanguageClient;
  private readonly pending = new Map<string, DiagnosticsParams>();
  private readonly lastSent = new Map<string, string>();
  private timer?: ReturnType<typeof setTimeout>;
  private readonly disposables: vscode.Disposable[];

  constructor(onDidChangeState: vscode.Event<ServerStatus>) {
    this.disposables = [
      onDidChangeState((status) => this.onServerState(status)),
      vscode.languages.onDidChangeDiagnostics((event) => this.onDiagnostics(event.uris)),
    ];
  }

  /** Wire a new client (before it starts): the capability and the query handler. */
  attach(client: LanguageClient): vscode.Disposable {
    client.registerFeature(new EditorQueriesFeature());
    return client.onRequest(QUERY_METHOD, (params: unknown) => answerQuery(params));
  }

  private onServerState(status: ServerStatus): void {
    const client = status.state === 'running' ? status.client : undefined;
    if (client === this.client) {
      return;
    }
    this.client = client;
    this.pending.clear();
    this.lastSent.clear();
    if (client) {
      // A new server knows nothing yet: tell it every document that has diagnostics now.
      for (const [uri] of vscode.languages.getDiagnostics()) {
        const snapshot = this.snapshot(uri);
        if (snapshot && snapshot.diagnostics.length > 0) {
          this.pending.set(snapshot.uri, snapshot);
        }
      }
      this.schedule();
    }
  }

  private onDiagnostics(uris: readonly vscode.Uri[]): void {
    if (!this.client) {
      return;
    }
    for (const uri of uris) {
      // Taken now, with the version the document has now: the latest state always wins.
      const snapshot = this.snapshot(uri);
      if (snapshot) {
        this.pending.set(snapshot.uri, snapshot);
      }
    }
    this.schedule();
  }

  private snapshot(uri: vscode.Uri): DiagnosticsParams | undefined {
    if (uri.scheme !== 'file') {
      return undefined;
    }
    const key = uri.toString();
    const own = this.client?.diagnostics?.get(uri) ?? [];
    const diagnostics = vscode.languages
      .getDiagnostics(uri)
      .filter((d) => !(d.source && OWN_SOURCES.has(d.source)) && !own.some((o) => sameDiagnostic(o, d)))
      .slice(0, MAX_DIAGNOSTICS)
      .map(toLspDiagnostic);
    const version = vscode.workspace.textDocuments.find((doc) => doc.uri.toString() === key)?.version;
    return version === undefined ? { uri: key, diagnostics } : { uri: key, version, diagnostics };
  }

  private schedule(): void {
    if (this.timer === undefined && this.pending.size > 0) {
      this.timer = setTimeout(() => this.flush(), FLUSH_MS);
    }
  }

  private flush(): void {
    this.timer = undefined;
    const client = this.client;
    const batch = [...this.pending.values()];
    this.pending.clear();
    if (!client) {
      return;
    }
    for (const params of batch) {
      const text = JSON.stringify(params);
      if (this.lastSent.get(params.uri) === text || (params.diagnostics.length === 0 && !this.lastSent.has(params.uri)
        && params.version === undefined)) {
        continue; // nothing new (a closed document that never had any is not worth a message)
      }
      this.lastSent.set(params.uri, text);
      client.sendNotification(DIAGNOSTICS_METHOD, params).catch((error: unknown) => {
        this.lastSent.delete(params.uri);
        traceError(`${DIAGNOSTICS_METHOD} for ${params.uri}:`, error);
      });
    }
  }

  dispose(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
    }
    this.disposables.forEach((d) => d.dispose());
  }
}

/** Announces `experimental.agentLsp.editorQueries: true` in the client's capabilities. */
class EditorQueriesFeature implements StaticFeature {
  fillClientCapabilities(capabilities: ClientCapabilities): void {
    const experimental = (capabilities.experimental ??= {}) as Record<string, unknown>;
    const agentLsp = (experimental.agentLsp ??= {}) as Record<string, unknown>;
    agentLsp.editorQueries = true;
  }

  initialize(): void {}

  getState(): FeatureState {
    return { kind: 'static' };
  }

  clear(): void {}
}

// --- diagnostics in LSP shapes ----------------------------------------------------------------

function toLspRange(range: vscode.Range): LspRange {
  return {
    start: { line: range.start.line, character: range.start.character },
    end: { line: range.end.line, character: range.end.character },
  };
}

function toLspDiagnostic(d: vscode.Diagnostic): LspDiagnostic {
  const out: LspDiagnostic = {
    range: toLspRange(d.range),
    severity: (d.severity + 1) as LspDiagnostic['severity'], // vscode Error = 0, LSP Error = 1
    message: d.message,
  };
  const code = typeof d.code === 'object' && d.code !== null ? d.code.value : d.code;
  if (code !== undefined && code !== '') {
    out.code = code;
  }
  if (d.source) {
    out.source = d.source;
  }
  return out;
}

function sameDiagnostic(a: vscode.Diagnostic, b: vscode.Diagnostic): boolean {
  return a.message === b.message && a.source === b.source && a.range.isEqual(b.range);
}

// --- agent/editor/query -------------------------------------------------------------------------

function invalid(message: string): ResponseError<void> {
  return new ResponseError(INVALID_PARAMS, `${QUERY_METHOD}: ${message}`);
}

function parseQuery(raw: unknown): QueryParams {
  const params = (raw ?? {}) as Partial<QueryParams>;
  if (!KINDS.includes(params.kind as QueryKind)) {
    throw invalid(`kind must be one of ${KINDS.join(', ')} (got ${JSON.stringify(params.kind)})`);
  }
  if (params.kind === 'workspaceSymbols') {
    if (typeof params.query !== 'string') {
      throw invalid('workspaceSymbols needs query: a string (the symbol name or part of it)');
    }
    return params as QueryParams;
  }
  if (typeof params.uri !== 'string' || !params.uri) {
    throw invalid(`${params.kind} needs uri: the document's URI`);
  }
  const p = params.position;
  if (!p || !Number.isInteger(p.line) || !Number.isInteger(p.character) || p.line < 0 || p.character < 0) {
    throw invalid(`${params.kind} needs position: {line, character}, 0-based non-negative integers`);
  }
  return params as QueryParams;
}

/** Results in agent-lsp's own documents are not the editor's language intelligence. */
function isOwn(uri: vscode.Uri): boolean {
  return uri.scheme === PROPOSED_SCHEME || /(^|\/)\.agent-lsp\//.test(uri.path);
}

function bounded(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
}

/** The line a result starts on, when its document is open (no file is read for it). */
function lineText(uri: vscode.Uri, range: vscode.Range): string | undefined {
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  return doc && range.start.line < doc.lineCount ? bounded(doc.lineAt(range.start.line).text.trim()) : undefined;
}

function location(uri: vscode.Uri, range: vscode.Range, text?: string): QueryResult {
  const result: QueryResult = { uri: uri.toString(), range: toLspRange(range) };
  const shown = text ?? lineText(uri, range);
  if (shown) {
    result.text = shown;
  }
  return result;
}

function hoverText(hover: vscode.Hover): string {
  return hover.contents
    .map((part) => {
      if (typeof part === 'string') {
        return part;
      }
      if (part instanceof vscode.MarkdownString) {
        return part.value;
      }
      const marked = part as { language?: string; value?: string };
      return marked.language ? `\`\`\`${marked.language}\n${marked.value ?? ''}\n\`\`\`` : marked.value ?? '';
    })
    .filter((text) => text.trim())
    .join('\n\n');
}

async function run(params: QueryParams): Promise<QueryResult[]> {
  if (params.kind === 'workspaceSymbols') {
    const symbols = await vscode.commands.executeCommand<vscode.SymbolInformation[] | undefined>(
      'vscode.executeWorkspaceSymbolProvider', params.query ?? '');
    return (symbols ?? []).filter((s) => !isOwn(s.location.uri)).map((s) => {
      const kind = vscode.SymbolKind[s.kind] ?? 'Symbol';
      return location(s.location.uri, s.location.range, `${s.name} (${kind})${s.containerName ? ` in ${s.containerName}` : ''}`);
    });
  }
  const uri = vscode.Uri.parse(params.uri!);
  const position = new vscode.Position(params.position!.line, params.position!.character);
  if (params.kind === 'hover') {
    const hovers = await vscode.commands.executeCommand<vscode.Hover[] | undefined>('vscode.executeHoverProvider', uri, position);
    return (hovers ?? [])
      .map((h) => ({ text: hoverText(h), range: h.range ?? new vscode.Range(position, position) }))
      .filter((h) => h.text)
      .map((h) => location(uri, h.range, bounded(h.text)));
  }
  const command = params.kind === 'definition' ? 'vscode.executeDefinitionProvider' : 'vscode.executeReferenceProvider';
  const found = await vscode.commands.executeCommand<(vscode.Location | vscode.LocationLink)[] | undefined>(command, uri, position);
  return (found ?? [])
    .map((l) => ('targetUri' in l ? { uri: l.targetUri, range: l.targetSelectionRange ?? l.targetRange } : l))
    .filter((l) => !isOwn(l.uri))
    .map((l) => location(l.uri, l.range));
}

/** Answers one `agent/editor/query`; bad input is an InvalidParams error that says what to send. */
export async function answerQuery(raw: unknown): Promise<{ results: QueryResult[] }> {
  const params = parseQuery(raw);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ResponseError(-32803,
      `${QUERY_METHOD}: no language server answered ${params.kind} within ${QUERY_TIMEOUT_MS / 1000}s`)), QUERY_TIMEOUT_MS);
  });
  try {
    const results = await Promise.race([run(params), timeout]);
    const seen = new Set<string>();
    const unique = results.filter((r) => {
      const key = JSON.stringify([r.uri, r.range, r.text]);
      return !seen.has(key) && seen.add(key) !== undefined;
    });
    return { results: unique.slice(0, MAX_RESULTS) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The chat panel: a webview view in the "Agent" activity-bar container. It draws what
 * `ChatSession` holds (posting only the items that changed, at most every 50 ms while text
 * streams) and turns the webview's clicks into session calls and commands.
 *
 * The page runs one bundled script (`dist/webview.js`) under a strict Content Security
 * Policy: no inline script or style, nothing loaded from the network.
 */

import * as crypto from 'node:crypto';
import * as vscode from 'vscode';
import type { ChatSession } from './session';
import type { FromWebview, ShownItem, ThreadChoice, ToWebview, ViewModel } from './messages';
import { describeAnswer, latestTodos } from './state';
import { formatUsage } from './usage';

export const VIEW_ID = 'agentLsp.chat';

export class ChatView implements vscode.WebviewViewProvider, vscode.Disposable {
  private view?: vscode.WebviewView;
  private posted = new Map<string, string>(); // item id -> what the webview has: rev, who answered
  private postedThread?: string;
  private timer?: NodeJS.Timeout;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly session: ChatSession,
  ) {
    this.disposables.push(session.onDidChange(() => this.schedule()));
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist');
    view.webview.options = { enableScripts: true, localResourceRoots: [media, dist] };
    view.webview.html = this.html(view.webview);
    this.disposables.push(
      view.webview.onDidReceiveMessage((message: FromWebview) => this.onMessage(message)),
      view.onDidDispose(() => (this.view = undefined)),
    );
  }

  /** Reveal the panel and put the cursor in the prompt. */
  async reveal(): Promise<void> {
    await vscode.commands.executeCommand(`${VIEW_ID}.focus`);
    this.send({ type: 'focusPrompt' });
  }

  private html(webview: vscode.Webview): string {
    const nonce = crypto.randomBytes(16).toString('base64');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', 'chat.css'));
    const csp = [
      "default-src 'none'",
      `style-src ${webview.cspSource}`,
      `font-src ${webview.cspSource}`,
      `script-src 'nonce-${nonce}'`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>Agent</title>
</head>
<body>
<div id="app"></div>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.post(false);
    }, 50);
  }

  private send(message: ToWebview): void {
    void this.view?.webview.postMessage(message);
  }

  private post(reset: boolean): void {
    if (!this.view) {
      return;
    }
    const state = this.session.current;
    if (reset || state.threadId !== this.postedThread) {
      this.posted.clear();
      reset = true;
    }
    this.postedThread = state.threadId;
    const shown = state.items.map((c): ShownItem => {
      const answer = c.answer && !this.session.answeredHere.has(c.answer.approvalId) ? describeAnswer(c.answer) : undefined;
      return answer ? { ...c, answeredBy: answer } : c;
    });
    const key = (c: ShownItem) => `${c.rev}|${c.answeredBy ?? ''}`;
    const changed = shown.filter((c) => this.posted.get(c.item.id) !== key(c));
    changed.forEach((c) => this.posted.set(c.item.id, key(c)));
    const threads: ThreadChoice[] = this.session.threads.map((t) => ({
      id: t.id,
      title: t.title || t.id,
      running: t.status === 'running',
    }));
    const model: ViewModel = {
      connection: this.session.connection,
      threadId: state.threadId,
      title: state.title,
      threads,
      order: state.items.map((c) => c.item.id),
      changed,
      approvals: state.approvals,
      todos: latestTodos(state),
      turn: state.turn,
      activity: this.session.activity,
      usage: formatUsage(state.lastUsage, state.totalUsage, {
        turn: state.turnCostUsd,
        thread: state.costUsd,
        miss: state.cacheMiss,
      }),
      notice: this.session.notice,
    };
    this.send({ type: 'model', model, reset });
  }

  private async onMessage(message: FromWebview): Promise<void> {
    const session = this.session;
    switch (message.type) {
      case 'ready':
        this.post(true);
        return;
      case 'send':
        await session.send(message.text);
        return;
      case 'selectThread':
        await session.open(message.threadId);
        return;
      case 'newThread':
        session.newThread();
        return;
      case 'refreshThreads':
        await session.refreshThreads();
        return;
      case 'approve':
        await session.respond(message.approvalId, message.decision);
        return;
      case 'reject':
        await session.respond(message.approvalId, 'reject', message.message || undefined);
        return;
      case 'interrupt':
        await session.interrupt();
        return;
      case 'compact':
        await vscode.commands.executeCommand('agentLsp.compact');
        return;
      case 'viewDiff':
        await vscode.commands.executeCommand('agentLsp.viewDiff', message.itemId, message.index);
        return;
      case 'openFile': {
        const folder = vscode.workspace.workspaceFolders?.[0];
        if (folder) {
          await vscode.window.showTextDocument(vscode.Uri.joinPath(folder.uri, message.path));
        }
        return;
      }
    }
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.disposables.forEach((d) => d.dispose());
  }
}

/**
 * The chat panel: one or more webviews drawing what `ChatSession` holds (posting only the
 * items that changed, at most every 50 ms while text streams), turning their clicks into
 * session calls and commands. The chat lives where the user chose (`agentLsp.chatLocation`,
 * remembered as a setting): an editor tab (a webview panel, room for the conversation), or the
 * webview view of the "Agent" container, moved into the secondary side bar when asked.
 *
 * The page runs one bundled script (`dist/webview.js`) under a strict Content Security
 * Policy: no inline script or style, nothing loaded from the network.
 */

import * as crypto from 'node:crypto';
import * as vscode from 'vscode';
import type { ChatSession } from './session';
import { addCurrent, chipParts, insertAtCursor, pickFile } from './context';
import type { Chip, FromWebview, ShownItem, ThreadChoice, ToWebview, ViewModel } from './messages';
import { ChatItem, describeAnswer, latestTodos, undoableTurns } from './state';
import { subtreeKey } from './subagents';
import { formatUsage } from './usage';

export const VIEW_ID = 'agentLsp.chat';
export const PANEL_TYPE = 'agentLsp.chatPanel';
/** The secondary side bar's container of this extension (package.json, viewsContainers). */
const SECONDARY_CONTAINER = 'workbench.view.extension.agentLspSecondary';
const PRIMARY_CONTAINER = 'workbench.view.extension.agentLsp';

export type ChatLocation = 'editor' | 'secondarySideBar' | 'sideBar';

export function chatLocation(): ChatLocation {
  const value = vscode.workspace.getConfiguration('agentLsp').get<string>('chatLocation', 'editor');
  return value === 'sideBar' || value === 'secondarySideBar' ? value : 'editor';
}

/** One webview showing the chat, with what it has been sent so far. */
class Surface {
  readonly posted = new Map<string, string>(); // item id -> what the webview has: rev, who answered
  postedThread?: string;
  ready = false;
  constructor(readonly webview: vscode.Webview) {}
}

export class ChatView implements vscode.WebviewViewProvider, vscode.Disposable {
  private panel?: vscode.WebviewPanel;
  private readonly surfaces = new Set<Surface>();
  private timer?: NodeJS.Timeout;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly session: ChatSession,
  ) {
    this.disposables.push(session.onDidChange(() => this.schedule()));
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    const surface = this.attach(view.webview);
    this.disposables.push(
      view.onDidDispose(() => this.surfaces.delete(surface)),
    );
  }

  /** The editor column of the chat tab, when the chat is a tab. */
  get panelColumn(): vscode.ViewColumn | undefined {
    return this.panel?.viewColumn;
  }

  /** A chat tab restored by VS Code after a reload (the panel serializer). */
  restorePanel(panel: vscode.WebviewPanel): void {
    this.adoptPanel(panel);
  }

  private attach(webview: vscode.Webview): Surface {
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist');
    webview.options = { enableScripts: true, localResourceRoots: [media, dist] };
    webview.html = this.html(webview);
    const surface = new Surface(webview);
    this.surfaces.add(surface);
    this.disposables.push(webview.onDidReceiveMessage((message: FromWebview) => this.onMessage(surface, message)));
    return surface;
  }

  private adoptPanel(panel: vscode.WebviewPanel): void {
    this.panel = panel;
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'agent.svg');
    const surface = this.attach(panel.webview);
    panel.onDidDispose(() => {
      if (this.panel === panel) {
        this.panel = undefined;
      }
      this.surfaces.delete(surface);
    });
  }

  /** Reveal the chat where the user keeps it, and put the cursor in the prompt. */
  async reveal(): Promise<void> {
    const where = chatLocation();
    if (where === 'editor') {
      if (this.panel) {
        this.panel.reveal(undefined, false);
      } else {
        const panel = vscode.window.createWebviewPanel(
          PANEL_TYPE,
          'Agent Chat',
          { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false },
          { retainContextWhenHidden: true },
        );
        this.adoptPanel(panel);
      }
    } else {
      // Move the view where asked (VS Code remembers it); a VS Code without the command keeps it put.
      const destinationId = where === 'secondarySideBar' ? SECONDARY_CONTAINER : PRIMARY_CONTAINER;
      await Promise.resolve(vscode.commands.executeCommand('vscode.moveViews', { viewIds: [VIEW_ID], destinationId })).catch(
        () => undefined,
      );
      await vscode.commands.executeCommand(`${VIEW_ID}.focus`);
    }
    this.sendAll({ type: 'focusPrompt' });
  }

  /** Where the chat opens from now on (a user setting, so it is remembered). */
  async moveTo(where: ChatLocation): Promise<void> {
    await vscode.workspace.getConfiguration('agentLsp').update('chatLocation', where, vscode.ConfigurationTarget.Global);
    if (where !== 'editor') {
      this.panel?.dispose();
    }
    await this.reveal();
  }

  /** Text for the prompt box (Insert and Ask about selection put context there). */
  addChip(chip: Chip): void {
    this.sendAll({ type: 'addChip', chip });
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
      this.surfaces.forEach((s) => this.post(s, false));
    }, 50);
  }

  private sendAll(message: ToWebview): void {
    this.surfaces.forEach((s) => void s.webview.postMessage(message));
  }

  private post(surface: Surface, reset: boolean): void {
    if (!surface.ready) {
      return;
    }
    const state = this.session.current;
    if (reset || state.threadId !== surface.postedThread) {
      surface.posted.clear();
      reset = true;
    }
    surface.postedThread = state.threadId;
    const shown = state.items.map((c) => this.shown(c, 0));
    const changed = shown.filter((c) => surface.posted.get(c.item.id) !== c.drawKey);
    changed.forEach((c) => surface.posted.set(c.item.id, c.drawKey));
    const threads: ThreadChoice[] = this.session.threads.filter((t) => t.kind !== 'subagent').map((t) => ({
      id: t.id,
      title: t.title || 'Untitled thread',
      running: t.status === 'running',
    }));
    const config = vscode.workspace.getConfiguration('agentLsp');
    const model: ViewModel = {
      connection: this.session.connection,
      threadId: state.threadId,
      title: state.title,
      threads,
      order: state.items.map((c) => c.item.id),
      changed,
      approvals: this.session.approvals.map((a) => (a.subagent ? { ...a.approval, subagent: a.subagent } : a.approval)),
      todos: latestTodos(state),
      turn: state.turn,
      activity: this.session.activity,
      usage: formatUsage(state.lastUsage, state.totalUsage, {
        turn: state.turnCostUsd,
        thread: state.costUsd,
        miss: state.cacheMiss,
      }),
      notice: this.session.notice,
      queued: this.session.queued.map((q) => q.text),
      presence: this.session.presence,
      undoable: undoableTurns(state),
      model: config.get<string>('model', '') ?? '',
      permissionMode: config.get<string>('permissionMode', 'ask') ?? 'ask',
    };
    void surface.webview.postMessage({ type: 'model', model, reset } satisfies ToWebview);
  }

  /** An item as posted: who answered its approval (when not this window), and for a
   * `subagent` item its child's transcript, nested (the server nests at most 2 deep). */
  private shown(c: ChatItem, depth: number): ShownItem {
    const answer = c.answer && !this.session.answeredHere.has(c.answer.approvalId) ? describeAnswer(c.answer) : undefined;
    const out: ShownItem = { ...c, drawKey: `${c.rev}|${answer ?? ''}` };
    if (answer) {
      out.answeredBy = answer;
    }
    if (c.item.type === 'subagent' && depth < 4) {
      const threadId = c.item.childThreadId;
      const child = this.session.state(threadId);
      out.child = { threadId, loaded: !!child && child.lastSeq > 0, items: child ? child.items.map((g) => this.shown(g, depth + 1)) : [] };
      out.drawKey += `|${subtreeKey(this.session.allStates, threadId)}`;
    }
    return out;
  }

  private async onMessage(surface: Surface, message: FromWebview): Promise<void> {
    const session = this.session;
    switch (message.type) {
      case 'ready':
        surface.ready = true;
        this.post(surface, true);
        return;
      case 'send':
        await session.send(message.text, await chipParts(message.chips ?? []));
        return;
      case 'copy':
        await vscode.env.clipboard.writeText(message.text);
        void vscode.window.setStatusBarMessage('Copied', 2000);
        return;
      case 'insert':
        await insertAtCursor(message.text);
        return;
      case 'pickFile':
        await pickFile(this);
        return;
      case 'currentFile':
        addCurrent(this, message.selection);
        return;
      case 'setModel':
        await vscode.workspace.getConfiguration('agentLsp').update('model', message.model, vscode.ConfigurationTarget.Workspace);
        return;
      case 'setMode':
        await vscode.workspace.getConfiguration('agentLsp').update('permissionMode', message.mode, vscode.ConfigurationTarget.Workspace);
        return;
      case 'undoTurn':
        await session.undoTurn(message.turnId);
        return;
      case 'expandSubagent':
        await session.loadSubagent(message.childThreadId);
        return;
      case 'cancelSubagent':
        await session.cancelSubagent(message.childThreadId);
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
    this.panel?.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}

/**
 * The extension's entry point: wires the log, the server, the chat (session, panel, status
 * bar, diff previews) and the commands together, and starts `agent-lsp serve`.
 *
 * The server does the work; this shim draws it. Code actions ("Ask agent to fix",
 * "Approve agent edit") come from the server and need nothing here.
 */

import * as vscode from 'vscode';
import { createLogChannel, showLogs, traceInfo } from './common/logging';
import { ServerManager } from './common/server';
import { besideChat, ProposedContent, SCHEME, showDiff } from './chat/diffView';
import type { Approval, InputPart } from './chat/protocol';
import { ChatSession } from './chat/session';
import { findItem } from './chat/state';
import { AgentStatus } from './chat/status';
import { ChatLocation, ChatView, PANEL_TYPE, VIEW_ID } from './chat/view';
import { selectionChip } from './chat/context';
import { Review } from './chat/review';
import { EditorIntel } from './intel';

let server: ServerManager | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const channel = createLogChannel();
  traceInfo(`Agent LSP ${context.extension.packageJSON.version} activating`);
  server = new ServerManager(channel);
  const session = new ChatSession(context.workspaceState);
  server.onCommand = (command, args, result) => session.onCommand(command, args, result);
  const intel = new EditorIntel(server.onDidChangeState);
  server.onClient = (client) => intel.attach(client);
  const view = new ChatView(context.extensionUri, session);
  const proposed = new ProposedContent();
  session.ownName = vscode.env.appName;
  const review = new Review(session, proposed, () => view.panelColumn);
  context.subscriptions.push(
    channel,
    server,
    intel,
    session,
    view,
    proposed,
    new AgentStatus(session),
    server.onDidChangeState((status) => session.onServerState(status)),
    vscode.window.registerWebviewViewProvider(VIEW_ID, view, { webviewOptions: { retainContextWhenHidden: true } }),
    vscode.workspace.registerTextDocumentContentProvider(SCHEME, proposed),
    review,
    vscode.window.registerWebviewPanelSerializer(PANEL_TYPE, {
      deserializeWebviewPanel: async (panel) => view.restorePanel(panel),
    }),
    ...registerCommands(session, view, proposed, server),
    vscode.commands.registerCommand('agentLsp.acceptChange', (id?: string) => review.decide(true, typeof id === 'string' ? id : undefined)),
    vscode.commands.registerCommand('agentLsp.rejectChange', (id?: string) => review.decide(false, typeof id === 'string' ? id : undefined)),
    vscode.commands.registerCommand('agentLsp.markHunk', (id: string, hunk: number, accept?: boolean) => review.markHunk(id, hunk, accept)),
    vscode.commands.registerCommand('agentLsp.openChatInEditor', () => view.moveTo('editor')),
    vscode.commands.registerCommand('agentLsp.openChatInSecondarySideBar', () => view.moveTo('secondarySideBar')),
    vscode.commands.registerCommand('agentLsp.moveChat', async () => {
      const picked = await vscode.window.showQuickPick(
        [
          { label: 'Editor tab', where: 'editor' as ChatLocation },
          { label: 'Secondary side bar', where: 'secondarySideBar' as ChatLocation },
          { label: 'Side bar (Agent view)', where: 'sideBar' as ChatLocation },
        ],
        { title: 'Where should the agent chat open?' },
      );
      if (picked) {
        await view.moveTo(picked.where);
      }
    }),
    vscode.commands.registerCommand('agentLsp.addSelectionToPrompt', async () => {
      const editor = vscode.window.activeTextEditor;
      if (editor) {
        await view.reveal();
        view.addChip(selectionChip(editor, !editor.selection.isEmpty));
      }
    }),
  );
  void server.start();
}

export async function deactivate(): Promise<void> {
  await server?.stop();
}

function registerCommands(
  session: ChatSession,
  view: ChatView,
  proposed: ProposedContent,
  manager: ServerManager,
): vscode.Disposable[] {
  const command = (id: string, run: (...args: any[]) => unknown) => vscode.commands.registerCommand(id, run);
  return [
    command('agentLsp.openChat', () => view.reveal()),
    command('agentLsp.askAboutSelection', () => askAboutSelection(session, view)),
    command('agentLsp.approve', async () => {
      const approval = await pickApproval(session, 'Approve');
      if (approval) {
        await session.respond(approval.id, 'approve');
      }
    }),
    command('agentLsp.reject', async () => {
      const approval = await pickApproval(session, 'Reject');
      if (!approval) {
        return;
      }
      const message = await vscode.window.showInputBox({
        title: `Reject: ${approval.title}`,
        prompt: 'Why? The agent reads this (optional).',
      });
      if (message !== undefined) {
        await session.respond(approval.id, 'reject', message || undefined);
      }
    }),
    command('agentLsp.interrupt', () => session.interrupt()),
    command('agentLsp.compact', () => compact(session, view)),
    command('agentLsp.restartServer', () => manager.restart()),
    command('agentLsp.showLogs', () => showLogs()),
    command('agentLsp.undoTurn', (turnId: string) => session.undoTurn(turnId)),
    command('agentLsp.viewDiff', async (itemId: string, index = 0) => {
      const item = findItem(session.current, itemId);
      const change = item?.type === 'fileChange' ? item.changes[index] : undefined;
      if (change) {  // beside the chat when the chat is an editor tab, never over it
        const chat = view.panelColumn;
        await showDiff(proposed, change, 'proposed', chat === undefined ? {} : { viewColumn: besideChat(chat) });
      }
    }),
  ];
}

async function pickApproval(session: ChatSession, verb: string): Promise<Approval | undefined> {
  const pending = session.approvals.map((a) => a.approval); // a subagent's too
  if (pending.length === 0) {
    void vscode.window.showInformationMessage('No agent approval is waiting.');
    return undefined;
  }
  if (pending.length === 1) {
    return pending[0];
  }
  const picked = await vscode.window.showQuickPick(
    pending.map((approval) => ({ label: approval.title, detail: approval.command ?? undefined, approval })),
    { title: `${verb} which agent action?` },
  );
  return picked?.approval;
}

/** "Agent: Compact Conversation": optional instructions for the summary (Escape cancels). */
async function compact(session: ChatSession, view: ChatView): Promise<void> {
  if (!session.current.threadId) {
    void vscode.window.showInformationMessage('Nothing to compact yet: send the agent a prompt first.');
    return;
  }
  const instructions = await vscode.window.showInputBox({
    title: 'Compact the conversation',
    prompt: 'What should the summary keep? Optional: Enter for none, Escape to cancel.',
    placeHolder: 'e.g. the failing test names and the plan',
  });
  if (instructions === undefined) {
    return;
  }
  await view.reveal();
  await session.compact(instructions.trim() || undefined);
}

async function askAboutSelection(session: ChatSession, view: ChatView): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showInformationMessage('Select some code in an editor first.');
    return;
  }
  const selection = editor.selection.isEmpty
    ? editor.document.lineAt(editor.selection.active.line).range
    : editor.selection;
  const prompt = await vscode.window.showInputBox({
    title: 'Ask the agent about the selection',
    placeHolder: 'What does this do? Why does it fail? Make it faster…',
  });
  if (!prompt) {
    return;
  }
  const part: InputPart = {
    type: 'selection',
    uri: editor.document.uri.toString(),
    range: {
      start: { line: selection.start.line, character: selection.start.character },
      end: { line: selection.end.line, character: selection.end.character },
    },
  };
  await view.reveal();
  await session.send(prompt, [part]);
}

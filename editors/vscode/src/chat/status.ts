/**
 * The status bar item: what the agent is doing on the panel's thread (idle, working,
 * waiting for approval) or what the server is doing (starting, stopped). A click opens the
 * chat.
 */

import * as vscode from 'vscode';
import type { ChatSession } from './session';

export class AgentStatus implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('agentLsp.status', vscode.StatusBarAlignment.Right, 100);
  private readonly subscription: vscode.Disposable;

  constructor(private readonly session: ChatSession) {
    this.item.name = 'Agent';
    this.item.command = 'agentLsp.openChat';
    this.subscription = session.onDidChange(() => this.update());
    this.update();
    this.item.show();
  }

  private update(): void {
    const { text, tooltip, warning } = this.describe();
    this.item.text = text;
    this.item.tooltip = tooltip;
    this.item.backgroundColor = warning ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }

  private describe(): { text: string; tooltip: string; warning?: boolean } {
    const session = this.session;
    switch (session.connection) {
      case 'starting':
        return { text: '$(loading~spin) Agent: starting', tooltip: 'agent-lsp is starting' };
      case 'stopped':
      case 'failed':
        return {
          text: '$(circle-slash) Agent: stopped',
          tooltip: session.notice ?? 'agent-lsp is not running. Click to open the chat.',
          warning: session.connection === 'failed',
        };
    }
    const thread = session.current.title || 'no thread yet';
    switch (session.activity) {
      case 'approval': {
        const n = session.approvals.length;
        return {
          text: `$(bell-dot) Agent: waiting for approval${n > 1 ? ` (${n})` : ''}`,
          tooltip: `${session.approvals[0]?.approval.title ?? 'An action'}: approve or reject in the chat`,
          warning: true,
        };
      }
      case 'working':
        return { text: '$(sync~spin) Agent: working', tooltip: `Working on: ${thread}` };
      default:
        return { text: '$(hubot) Agent: idle', tooltip: `Thread: ${thread}. Click to open the chat.` };
    }
  }

  dispose(): void {
    this.subscription.dispose();
    this.item.dispose();
  }
}

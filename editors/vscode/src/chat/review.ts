/**
 * Inline review of proposed file changes: when an approval for a file change of the chat's
 * thread is asked, its diff opens by itself (`vscode.diff`, current text vs proposed text).
 * The diff editor's title bar has Accept / Reject for the whole change, and each hunk of the
 * proposed side has an "Accept hunk" / "Reject hunk" CodeLens. Hunk decisions are kept here
 * until every hunk of the change has one; then the approval is answered once: "approve" with
 * the accepted hunks' indexes (`hunks`, 0-based in the approval diff's order across files), or
 * "reject" when none was accepted. The diffs close when the approval is resolved, from any
 * surface.
 */

import * as vscode from 'vscode';
import { parseHunks, proposedHunkLines } from './diff';
import { besideChat, currentText, ProposedContent, resolve, SCHEME, showDiff } from './diffView';
import type { Approval, FileChange } from './protocol';
import type { ChatSession } from './session';
import { findItem } from './state';

interface Open {
  approval: Approval;
  changes: FileChange[];
  /** Proposed-side URI of each change's diff, and the first hunk index of each change. */
  uris: (vscode.Uri | undefined)[];
  offsets: number[];
  /** Per hunk (across files): true accepted, false rejected, undefined undecided. */
  marks: (boolean | undefined)[];
  lines: number[][]; // per change: each hunk's first line in the proposed text
}

export class Review implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly open = new Map<string, Open>(); // approval id ->
  private readonly seen = new Set<string>(); // approvals whose diff was opened once
  private readonly lensEmitter = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.lensEmitter.event;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly session: ChatSession,
    private readonly proposed: ProposedContent,
    /** The column the chat tab is in, if it is a tab: diffs open in another one. */
    private readonly chatColumn: () => vscode.ViewColumn | undefined = () => undefined,
  ) {
    this.disposables.push(
      this.lensEmitter,
      session.onDidChange(() => void this.sync()),
      vscode.languages.registerCodeLensProvider({ scheme: SCHEME }, this),
      vscode.window.tabGroups.onDidChangeTabs(() => this.updateContext()),
      vscode.window.onDidChangeActiveTextEditor(() => this.updateContext()),
    );
  }

  /** Open the diffs of newly asked file-change approvals (the chat's thread's and its
   * subagents'); close those of resolved ones. */
  private async sync(): Promise<void> {
    const asked = this.session.approvals;
    const pending = new Map(asked.map((a) => [a.approval.id, a.approval]));
    const threadOf = new Map(asked.map((a) => [a.approval.id, a.threadId]));
    for (const [id, open] of this.open) {
      if (!pending.has(id)) {
        this.open.delete(id);
        await this.close(open);
      }
    }
    for (const approval of pending.values()) {
      if (this.seen.has(approval.id) || approval.kind !== 'fileChange') {
        continue;
      }
      const item = findItem(this.session.state(threadOf.get(approval.id) ?? '') ?? this.session.current, approval.itemId);
      if (item?.type !== 'fileChange') {
        continue;
      }
      this.seen.add(approval.id);
      await this.show(approval, item.changes);
    }
    this.lensEmitter.fire();
    this.updateContext();
  }

  private async show(approval: Approval, changes: FileChange[]): Promise<void> {
    const open: Open = { approval, changes, uris: [], offsets: [], marks: [], lines: [] };
    this.open.set(approval.id, open);
    let offset = 0;
    for (const change of changes) {
      const count = parseHunks(change.diff).length;
      open.offsets.push(offset);
      offset += count;
      const file = resolve(change);
      const current = file ? ((await currentText(file)) ?? '') : '';
      open.lines.push(change.kind === 'update' ? proposedHunkLines(current, change.diff) : new Array(count).fill(0));
    }
    open.marks = new Array(offset).fill(undefined);
    const viewColumn = besideChat(this.chatColumn());
    for (const change of changes) {
      open.uris.push(await showDiff(this.proposed, change, `review-${approval.id}`, { viewColumn, preserveFocus: true }));
    }
  }

  private async close(open: Open): Promise<void> {
    // The diffs of its files that show a proposed text (opened here or with "View diff").
    const files = new Set(open.uris.filter((u): u is vscode.Uri => !!u).map((u) => u.path));
    const tabs = vscode.window.tabGroups.all
      .flatMap((g) => g.tabs)
      .filter(
        (tab) =>
          tab.input instanceof vscode.TabInputTextDiff &&
          tab.input.modified.scheme === SCHEME &&
          files.has(tab.input.modified.path),
      );
    if (tabs.length) {
      await vscode.window.tabGroups.close(tabs, true);
    }
  }

  /** The review the active editor shows (a proposed side), else the only one open. */
  private active(uri?: vscode.Uri): Open | undefined {
    const shown = uri ?? vscode.window.activeTextEditor?.document.uri;
    if (shown) {
      for (const open of this.open.values()) {
        if (open.uris.some((u) => u?.toString() === shown.toString())) {
          return open;
        }
      }
    }
    return this.open.size === 1 ? [...this.open.values()][0] : undefined;
  }

  private updateContext(): void {
    const shown = vscode.window.activeTextEditor?.document.uri;
    const reviewing = !!shown && shown.scheme === SCHEME && !!this.active(shown);
    void vscode.commands.executeCommand('setContext', 'agentLsp.reviewing', reviewing || this.open.size > 0);
    void vscode.commands.executeCommand('setContext', 'agentLsp.waiting', this.session.approvals.length > 0);
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const open = this.active(document.uri);
    const index = open?.uris.findIndex((u) => u?.toString() === document.uri.toString()) ?? -1;
    if (!open || index < 0) {
      return [];
    }
    const top = new vscode.Range(0, 0, 0, 0);
    const lenses = [
      new vscode.CodeLens(top, { title: '$(check) Accept change', command: 'agentLsp.acceptChange', arguments: [open.approval.id] }),
      new vscode.CodeLens(top, { title: '$(close) Reject change', command: 'agentLsp.rejectChange', arguments: [open.approval.id] }),
    ];
    open.lines[index].forEach((line, k) => {
      const hunk = open.offsets[index] + k;
      const at = new vscode.Range(Math.min(line, document.lineCount - 1), 0, Math.min(line, document.lineCount - 1), 0);
      const mark = open.marks[hunk];
      if (mark === undefined) {
        lenses.push(
          new vscode.CodeLens(at, { title: 'Accept hunk', command: 'agentLsp.markHunk', arguments: [open.approval.id, hunk, true] }),
          new vscode.CodeLens(at, { title: 'Reject hunk', command: 'agentLsp.markHunk', arguments: [open.approval.id, hunk, false] }),
        );
      } else {
        lenses.push(
          new vscode.CodeLens(at, {
            title: mark ? '$(check) Hunk accepted (undo)' : '$(close) Hunk rejected (undo)',
            command: 'agentLsp.markHunk',
            arguments: [open.approval.id, hunk, undefined],
          }),
        );
      }
    });
    return lenses;
  }

  /** Accept or reject one hunk (undefined: undecided again); the last decision answers. */
  async markHunk(approvalId: string, hunk: number, accept: boolean | undefined): Promise<void> {
    const open = this.open.get(approvalId);
    if (!open || hunk < 0 || hunk >= open.marks.length) {
      return;
    }
    open.marks[hunk] = accept;
    this.lensEmitter.fire();
    if (open.marks.every((m) => m !== undefined)) {
      const accepted = open.marks.flatMap((m, i) => (m ? [i] : []));
      if (accepted.length === 0) {
        await this.session.respond(approvalId, 'reject', 'The user rejected every hunk of this change.');
      } else if (accepted.length === open.marks.length) {
        await this.session.respond(approvalId, 'approve');
      } else {
        await this.session.respond(approvalId, 'approve', undefined, accepted);
      }
    }
  }

  /** Accept / reject the whole change of the diff in view (or the one pending). */
  async decide(accept: boolean, approvalId?: string): Promise<void> {
    const open = approvalId ? this.open.get(approvalId) : this.active();
    if (!open) {
      void vscode.window.showInformationMessage('No proposed change is open for review.');
      return;
    }
    if (accept) {
      await this.session.respond(open.approval.id, 'approve');
      return;
    }
    const message = await vscode.window.showInputBox({
      title: `Reject: ${open.approval.title}`,
      prompt: 'Why? The agent reads this (optional).',
    });
    if (message !== undefined) {
      await this.session.respond(open.approval.id, 'reject', message || undefined);
    }
  }

  dispose(): void {
    this.disposables.forEach((d) => d.dispose());
  }
}

/**
 * "View diff": opens `vscode.diff` between a file's current text and the text a file change
 * proposes. The proposed side is a read-only virtual document (scheme `agent-lsp-proposed`)
 * computed here by applying the item's unified diff to the current text (`diff.ts`).
 *
 * When the change is already in the file (it was approved and applied), the diff is shown the
 * other way round: the text before it against the current text.
 */

import * as path from 'node:path';
import * as vscode from 'vscode';
import { traceWarn } from '../common/logging';
import { applyUnifiedDiff, DiffError, invertDiff, proposedText } from './diff';
import type { FileChange } from './protocol';

export const SCHEME = 'agent-lsp-proposed';

export class ProposedContent implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly texts = new Map<string, string>();
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;
  private counter = 0;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? '';
  }

  /** A virtual document holding `text`, named like `file` so it gets the same language. */
  put(file: vscode.Uri, label: string, text: string): vscode.Uri {
    const uri = vscode.Uri.from({
      scheme: SCHEME,
      path: file.path,
      query: `${label}-${++this.counter}`,
    });
    this.texts.set(uri.toString(), text);
    if (this.texts.size > 100) {
      this.texts.delete(this.texts.keys().next().value as string);
    }
    this.emitter.fire(uri);
    return uri;
  }

  dispose(): void {
    this.emitter.dispose();
  }
}

export function resolve(change: FileChange): vscode.Uri | undefined {
  if (path.isAbsolute(change.path)) {
    return vscode.Uri.file(change.path);
  }
  const folder = vscode.workspace.workspaceFolders?.[0];
  return folder ? vscode.Uri.joinPath(folder.uri, change.path) : undefined;
}

/** The file's text as the editor has it: the open buffer, else the disk, else nothing. */
export async function currentText(uri: vscode.Uri): Promise<string | undefined> {
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (open) {
    return open.getText();
  }
  try {
    return new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
  } catch {
    return undefined;
  }
}

/** Opens the diff; returns the proposed side's URI (undefined when none was opened). */
/** The editor column for a diff that must not cover the chat when the chat is an editor tab
 * in column `chat` (the first column, or the second when the chat holds the first). */
export function besideChat(chat: vscode.ViewColumn | undefined): vscode.ViewColumn {
  return chat === vscode.ViewColumn.One ? vscode.ViewColumn.Two : vscode.ViewColumn.One;
}

export async function showDiff(
  content: ProposedContent,
  change: FileChange,
  tag = 'proposed',
  where: { viewColumn?: vscode.ViewColumn; preserveFocus?: boolean } = {},
): Promise<vscode.Uri | undefined> {
  const file = resolve(change);
  if (!file) {
    void vscode.window.showWarningMessage(`Cannot locate ${change.path}: open a workspace folder.`);
    return undefined;
  }
  const name = path.basename(change.path);
  const current = await currentText(file);
  const exists = current !== undefined;
  const empty = (label: string) => content.put(file, label, '');
  try {
    const proposed = proposedText(current ?? '', change.kind, change.diff);
    const left = exists ? file : empty('none');
    const right = change.kind === 'delete' ? empty(`${tag}-deleted`) : content.put(file, tag, proposed);
    await vscode.commands.executeCommand('vscode.diff', left, right, `${name}: current ↔ proposed`, { preview: true, ...where });
    return right;
  } catch (error) {
    if (!(error instanceof DiffError)) {
      throw error;
    }
    // Already applied? Then the inverse of the diff fits the current text.
    try {
      const before = applyUnifiedDiff(current ?? '', invertDiff(change.diff));
      const left = content.put(file, 'before', before);
      await vscode.commands.executeCommand('vscode.diff', left, file, `${name}: before ↔ now (applied)`, {
        preview: true,
      });
      return undefined;
    } catch {
      traceWarn(`View diff for ${change.path}: ${error.message}`);
      void vscode.window.showWarningMessage(
        `The proposed change to ${change.path} no longer fits the file's current text (${error.message}).`,
      );
    }
  }
  return undefined;
}


/**
 * Context for a prompt and code from the chat: the chips the user adds (the current file, the
 * selection, a file picked with "@"), turned into the prompt's input parts when it is sent, and
 * a code block from an answer inserted at the cursor.
 *
 * A file chip is sent as a selection of the whole file (the protocol's input parts are text,
 * selection and diagnostic).
 */

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Chip } from './messages';
import type { InputPart } from './protocol';

interface ChipTarget {
  addChip(chip: Chip): void;
}

function label(uri: vscode.Uri): string {
  return vscode.workspace.asRelativePath(uri, false) || path.basename(uri.fsPath);
}

/** The active editor's file, or its selection (the cursor's line when nothing is selected). */
export function addCurrent(target: ChipTarget, selection: boolean): void {
  const editor = vscode.window.activeTextEditor ?? vscode.window.visibleTextEditors.find((e) => e.document.uri.scheme === 'file');
  if (!editor) {
    void vscode.window.showInformationMessage('Open a file in an editor first, then add it to the prompt.');
    return;
  }
  target.addChip(selectionChip(editor, selection));
}

export function selectionChip(editor: vscode.TextEditor, selection: boolean): Chip {
  const uri = editor.document.uri;
  if (!selection) {
    return { uri: uri.toString(), label: label(uri) };
  }
  const range = editor.selection.isEmpty ? editor.document.lineAt(editor.selection.active.line).range : editor.selection;
  return {
    uri: uri.toString(),
    label: `${label(uri)}:${range.start.line + 1}-${range.end.line + 1}`,
    range: {
      start: { line: range.start.line, character: range.start.character },
      end: { line: range.end.line, character: range.end.character },
    },
  };
}

/** "@": pick a workspace file. */
export async function pickFile(target: ChipTarget): Promise<void> {
  const files = await vscode.workspace.findFiles('**/*', '**/{node_modules,.git,.venv,.agent-lsp}/**', 2000);
  const picked = await vscode.window.showQuickPick(
    files.map((uri) => ({ label: label(uri), uri })).sort((a, b) => a.label.localeCompare(b.label)),
    { title: 'Add a file to the prompt', matchOnDescription: true },
  );
  if (picked) {
    target.addChip({ uri: picked.uri.toString(), label: picked.label });
  }
}

/** The chips as input parts: a range as it is, a whole file as a selection of all its lines. */
export async function chipParts(chips: Chip[]): Promise<InputPart[]> {
  const parts: InputPart[] = [];
  for (const chip of chips) {
    if (chip.range) {
      parts.push({ type: 'selection', uri: chip.uri, range: chip.range });
      continue;
    }
    try {
      const document = await vscode.workspace.openTextDocument(vscode.Uri.parse(chip.uri));
      const last = document.lineAt(Math.max(0, document.lineCount - 1));
      parts.push({
        type: 'selection',
        uri: chip.uri,
        range: { start: { line: 0, character: 0 }, end: { line: last.lineNumber, character: last.range.end.character } },
      });
    } catch {
      void vscode.window.showWarningMessage(`${chip.label} could not be read; it was left out of the prompt.`);
    }
  }
  return parts;
}

/** A code block from the chat, at the cursor of the last text editor (replacing its selection). */
export async function insertAtCursor(text: string): Promise<void> {
  const editor = vscode.window.activeTextEditor ?? vscode.window.visibleTextEditors[0];
  if (!editor) {
    void vscode.window.showInformationMessage('Open a file and put the cursor where the code goes, then Insert.');
    return;
  }
  await editor.edit((edit) => edit.replace(editor.selection, text));
  await vscode.window.showTextDocument(editor.document, editor.viewColumn);
}

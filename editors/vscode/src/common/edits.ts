/**
 * `workspace/applyEdit` from the server, applied as vscode-languageclient does it, and then
 * saved: every document the edit touches that had no unsaved changes before is saved once
 * the edit is in, so the agent's change reaches the disk (and the tests or commands it runs
 * next) without ever saving text the user was still typing.
 *
 * vscode-languageclient 9 has no middleware for this request, so `install` replaces the
 * client's handler with `applyAndSave`, which keeps the client's version check.
 */

import * as vscode from 'vscode';
import {
  ApplyWorkspaceEditParams,
  ApplyWorkspaceEditRequest,
  ApplyWorkspaceEditResult,
  CreateFile,
  LanguageClient,
  TextDocumentEdit,
} from 'vscode-languageclient/node';
import { traceError, traceInfo } from './logging';

function openDocument(uri: string): vscode.TextDocument | undefined {
  return vscode.workspace.textDocuments.find((doc) => doc.uri.toString() === uri);
}

/** The documents an edit writes to, as URI strings (the client's normal form). */
function targets(client: LanguageClient, params: ApplyWorkspaceEditParams): string[] {
  const uris: string[] = [];
  for (const change of params.edit.documentChanges ?? []) {
    if (TextDocumentEdit.is(change)) {
      uris.push(change.textDocument.uri);
    } else if (CreateFile.is(change)) {
      uris.push(change.uri);
    }
  }
  uris.push(...Object.keys(params.edit.changes ?? {}));
  return [...new Set(uris.map((uri) => client.protocol2CodeConverter.asUri(uri).toString()))];
}

/** A versioned edit whose document moved on is refused, as the client's own handler does. */
function staleVersion(client: LanguageClient, params: ApplyWorkspaceEditParams): string | undefined {
  for (const change of params.edit.documentChanges ?? []) {
    if (TextDocumentEdit.is(change) && typeof change.textDocument.version === 'number') {
      const uri = client.protocol2CodeConverter.asUri(change.textDocument.uri).toString();
      const doc = openDocument(uri);
      if (doc && doc.version !== change.textDocument.version) {
        return `${vscode.workspace.asRelativePath(doc.uri)} changed (version ${doc.version}, edit for ${change.textDocument.version})`;
      }
    }
  }
  return undefined;
}

export async function applyAndSave(
  client: LanguageClient,
  params: ApplyWorkspaceEditParams,
): Promise<ApplyWorkspaceEditResult> {
  const stale = staleVersion(client, params);
  if (stale) {
    return { applied: false, failureReason: stale };
  }
  const uris = targets(client, params);
  const clean = uris.filter((uri) => !openDocument(uri)?.isDirty);
  const edit = await client.protocol2CodeConverter.asWorkspaceEdit(params.edit);
  const applied = await vscode.workspace.applyEdit(edit);
  if (!applied) {
    return { applied: false, failureReason: 'VS Code did not apply the edit' };
  }
  for (const uri of clean) {
    const doc = openDocument(uri);
    if (doc?.isDirty) {
      try {
        await doc.save();
        traceInfo(`Saved ${vscode.workspace.asRelativePath(doc.uri)} after ${params.label ?? 'an agent edit'}`);
      } catch (error) {
        traceError(`Could not save ${doc.uri.toString()}:`, error);
      }
    }
  }
  return { applied: true };
}

/**
 * One edit at a time: the server may send the next edit as soon as the buffer shows the last
 * one, while that one is still being saved; applied at once, the next edit would find the
 * document dirty, take it for the user's typing and never save it.
 */
export function install(client: LanguageClient): vscode.Disposable {
  let last: Promise<unknown> = Promise.resolve();
  return client.onRequest(ApplyWorkspaceEditRequest.type, (params) => {
    const next = last.then(() => applyAndSave(client, params));
    last = next.catch(() => undefined);
    return next;
  });
}

/**
 * The extension's log: one "Agent LSP" output channel (a LogOutputChannel) that also
 * receives the server's stderr and, with `agentLsp.trace.server`, the LSP trace.
 * "Agent: Show Logs" reveals it.
 */

import * as vscode from 'vscode';

let channel: vscode.LogOutputChannel | undefined;

export function createLogChannel(): vscode.LogOutputChannel {
  channel ??= vscode.window.createOutputChannel('Agent LSP', { log: true });
  return channel;
}

function format(parts: unknown[]): string {
  return parts
    .map((p) => (p instanceof Error ? p.stack ?? p.message : typeof p === 'string' ? p : JSON.stringify(p)))
    .join(' ');
}

export function traceInfo(...parts: unknown[]): void {
  channel?.info(format(parts));
}

export function traceWarn(...parts: unknown[]): void {
  channel?.warn(format(parts));
}

export function traceError(...parts: unknown[]): void {
  channel?.error(format(parts));
}

export function traceDebug(...parts: unknown[]): void {
  channel?.debug(format(parts));
}

export function showLogs(): void {
  channel?.show(true);
}

/** A message a person can act on, from whatever a request threw. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  if (error && typeof error === 'object' && 'message' in error) {
    return String((error as { message: unknown }).message);
  }
  return String(error);
}

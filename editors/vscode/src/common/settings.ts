/**
 * The `agentLsp.*` settings: how to find the server, and the options it receives as
 * `initializationOptions` and, when they change, as `workspace/didChangeConfiguration`
 * under the section `agentLsp` (PROTOCOL.md section 2).
 *
 * Only the server's own keys are sent, and empty strings are left out so the server keeps
 * its default (or its environment variable) for them.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { SETTING_KEYS } from '../chat/protocol.generated';

export const SECTION = 'agentLsp';

export interface ServerOptions {
  model?: string;
  fallbackModel?: string;
  permissionMode: 'ask' | 'acceptEdits' | 'readOnly' | 'bypass';
  approvalUi: 'codeAction' | 'message';
  stateDir?: string;
  maxTokens?: number;
  streamIdleTimeout?: number;
  contextWindow?: number;
  autoCompactAt?: number;
  memoryEvery?: number;
  agentHost?: boolean;
  hostIdleTimeout?: number;
  cacheTtl: '5m' | '1h';
  prices?: Record<string, { input: number; output: number; cacheRead: number; cacheWrite: number }>;
}

export interface ExtensionSettings {
  serverPath: string;
  options: ServerOptions;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function expandHome(value: string | undefined): string | undefined {
  if (value?.startsWith('~/')) {
    return path.join(process.env.HOME ?? '', value.slice(2));
  }
  return value;
}

export function getSettings(): ExtensionSettings {
  const config = vscode.workspace.getConfiguration(SECTION);
  const maxTokens = config.get<number | null>('maxTokens', null);
  const numeric = (key: string): number | undefined => {
    const value = config.get<number | null>(key, null);
    return typeof value === 'number' ? value : undefined;
  };
  return {
    serverPath: expandHome(nonEmpty(config.get<string>('serverPath'))) ?? '',
    options: {
      model: nonEmpty(config.get<string>('model')),
      fallbackModel: nonEmpty(config.get<string>('fallbackModel')),
      permissionMode: config.get('permissionMode', 'ask'),
      approvalUi: config.get('approvalUi', 'codeAction'),
      stateDir: expandHome(nonEmpty(config.get<string>('stateDir'))),
      maxTokens: typeof maxTokens === 'number' ? maxTokens : undefined,
      streamIdleTimeout: numeric('streamIdleTimeout'),
      contextWindow: numeric('contextWindow'),
      agentHost: ((value) => (typeof value === 'boolean' ? value : undefined))(config.get<boolean | null>('agentHost', null)),
      hostIdleTimeout: numeric('hostIdleTimeout'),
      autoCompactAt: numeric('autoCompactAt'),
      cacheTtl: config.get('cacheTtl', '5m'),
      prices: Object.keys(config.get<object>('prices', {}) ?? {}).length ? config.get('prices') : undefined,
    },
  };
}

/** The options as sent on the wire: keys with no value are left out. */
export function initializationOptions(settings: ExtensionSettings): Record<string, unknown> {
  return Object.fromEntries(Object.entries(settings.options).filter(([, v]) => v !== undefined));
}

/** True when a change to these settings needs a new server process (not just new options). */
export function needsRestart(event: vscode.ConfigurationChangeEvent): boolean {
  return event.affectsConfiguration(`${SECTION}.serverPath`);
}

/** The server's settings, from the generated protocol (one source: agent/config.py). */
export function affectsServerOptions(event: vscode.ConfigurationChangeEvent): boolean {
  return SETTING_KEYS.some((key) => event.affectsConfiguration(`${SECTION}.${key}`));
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The server executable: the `serverPath` setting, else `agent-lsp` on PATH; undefined if none. */
export function findServer(settings: ExtensionSettings): string | undefined {
  if (settings.serverPath) {
    return isExecutable(settings.serverPath) ? settings.serverPath : undefined;
  }
  const names = process.platform === 'win32' ? ['agent-lsp.exe', 'agent-lsp.cmd'] : ['agent-lsp'];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    for (const name of names) {
      const candidate = path.join(dir, name);
      if (dir && isExecutable(candidate)) {
        return candidate;
      }
    }
  }
  return undefined;
}

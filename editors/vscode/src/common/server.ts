/**
 * The language server's lifecycle: start `agent-lsp serve` over stdio with the settings as
 * `initializationOptions`, send changed settings as `workspace/didChangeConfiguration`,
 * restart on request (a new LanguageClient each time, as in the python-tools template).
 *
 * Listeners of `onDidChangeState` get the running client, so the chat can subscribe to
 * `agent/event` and resume its thread after every (re)start.
 */

import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
  State,
  WorkDoneProgressCreateRequest,
} from 'vscode-languageclient/node';
import { install as installApplyEdit } from './edits';
import { describeError, traceError, traceInfo } from './logging';
import { affectsServerOptions, findServer, getSettings, initializationOptions, needsRestart } from './settings';

export type ServerState = 'starting' | 'running' | 'stopped' | 'failed';

export interface ServerStatus {
  state: ServerState;
  client?: LanguageClient;
  message?: string;
}

export class ServerManager implements vscode.Disposable {
  private client?: LanguageClient;
  private disposables: vscode.Disposable[] = [];
  private clientDisposables: vscode.Disposable[] = [];
  private readonly stateEmitter = new vscode.EventEmitter<ServerStatus>();
  readonly onDidChangeState = this.stateEmitter.event;
  private busy: Promise<void> = Promise.resolve();
  status: ServerStatus = { state: 'stopped' };

  /** Called before this window runs one of the server's commands (code actions included), and
   * with the server's result after, so the chat knows which approvals were answered here. */
  onCommand?: (command: string, args: unknown[], result?: Promise<unknown>) => void;

  /** Called with each new client before it starts (features and handlers it needs from the start). */
  onClient?: (client: LanguageClient) => vscode.Disposable;

  constructor(private readonly channel: vscode.LogOutputChannel) {
    this.disposables.push(
      this.stateEmitter,
      vscode.workspace.onDidChangeConfiguration((event) => this.onConfiguration(event)),
    );
  }

  get running(): LanguageClient | undefined {
    return this.status.state === 'running' ? this.client : undefined;
  }

  /** Start, stop and restart run one at a time, in the order asked. */
  private serialize(work: () => Promise<void>): Promise<void> {
    this.busy = this.busy.then(work, work);
    return this.busy;
  }

  start(): Promise<void> {
    return this.serialize(() => this.doStart());
  }

  stop(): Promise<void> {
    return this.serialize(() => this.doStop());
  }

  restart(): Promise<void> {
    return this.serialize(async () => {
      await this.doStop();
      await this.doStart();
    });
  }

  private setStatus(status: ServerStatus): void {
    const now = this.status;
    if (now.state === status.state && now.client === status.client && now.message === status.message) {
      return;
    }
    this.status = status;
    this.stateEmitter.fire(status);
  }

  private async doStart(): Promise<void> {
    const settings = getSettings();
    const command = findServer(settings);
    if (!command) {
      const where = settings.serverPath ? `at ${settings.serverPath} (agentLsp.serverPath)` : 'on PATH';
      const message = `agent-lsp was not found ${where}. Set agentLsp.serverPath to the agent-lsp clone's .venv/bin/agent-lsp `
        + `(the README's set-up creates it), or put that .venv/bin on the PATH VS Code starts with.`;
      traceError(message, settings.serverPath ? '' : `PATH=${process.env.PATH ?? ''}`);
      this.setStatus({ state: 'failed', message });
      void vscode.window.showErrorMessage(message, 'Open Settings').then((choice) => {
        if (choice) {
          void vscode.commands.executeCommand('workbench.action.openSettings', 'agentLsp.serverPath');
        }
      });
      return;
    }
    const folder = vscode.workspace.workspaceFolders?.[0];
    const serverOptions: ServerOptions = {
      command,
      args: ['serve'],
      options: { cwd: folder?.uri.fsPath, env: { ...process.env } },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
      outputChannel: this.channel,
      traceOutputChannel: this.channel,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: initializationOptions(settings),
      middleware: {
        // The approval id is the server's `code` of its "Agent proposes" diagnostics: not for
        // people (Problems and hovers would show "agent(apr_…)"). The server matches them by
        // source and range, so the id is dropped here.
        handleDiagnostics: (uri, diagnostics, next) => {
          for (const diagnostic of diagnostics) {
            if (diagnostic.source === 'agent' && typeof diagnostic.code === 'string' && diagnostic.code.startsWith('apr_')) {
              diagnostic.code = undefined;
            }
          }
          next(uri, diagnostics);
        },
        executeCommand: (command, args, next) => {
          const result = Promise.resolve(next(command, args));
          this.onCommand?.(command, args, result);
          return result;
        },
      },
    };
    const client = new LanguageClient('agentLsp', 'Agent LSP', serverOptions, clientOptions);
    this.client = client;
    this.clientDisposables.push(
      installApplyEdit(client),
      ...(this.onClient ? [this.onClient(client)] : []),
      client.onDidChangeState((event) => {
        // The client restarts a crashed server by itself; follow it, so the chat resumes.
        if (client !== this.client || this.status.state === 'failed') {
          return;
        }
        if (event.newState === State.Running) {
          this.setStatus({ state: 'running', client });
        } else if (event.newState === State.Starting) {
          this.setStatus({ state: 'starting' });
        } else if (this.status.state !== 'starting') {
          this.setStatus({ state: 'stopped', message: 'agent-lsp stopped; run "Agent: Restart Server"' });
        }
      }),
    );
    traceInfo(`Starting ${command} serve`);
    this.setStatus({ state: 'starting' });
    try {
      await client.start();
      // The chat's one status item says what a turn is doing: the server's work-done progress
      // is accepted (so it sends no notifications instead) and not drawn as a second one.
      client.onRequest(WorkDoneProgressCreateRequest.type, () => null);
      traceInfo(`agent-lsp is running (${client.initializeResult?.serverInfo?.version ?? 'unknown version'})`);
      this.setStatus({ state: 'running', client });
    } catch (error) {
      const message = `agent-lsp failed to start: ${describeError(error)}`;
      traceError(message);
      this.setStatus({ state: 'failed', message });
    }
  }

  private async doStop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.clientDisposables.forEach((d) => d.dispose());
    this.clientDisposables = [];
    if (client) {
      this.setStatus({ state: 'stopped' });
      try {
        await client.dispose(5000); // shutdown, exit, and the process is gone
      } catch (error) {
        traceError('Stopping agent-lsp:', error);
      }
    }
  }

  private onConfiguration(event: vscode.ConfigurationChangeEvent): void {
    if (needsRestart(event)) {
      void this.restart();
    } else if (affectsServerOptions(event) && this.running) {
      const settings = { [`agentLsp`]: initializationOptions(getSettings()) };
      void this.running.sendNotification(DidChangeConfigurationNotification.type, { settings });
    }
  }

  async dispose(): Promise<void> {
    await this.stop();
    this.disposables.forEach((d) => d.dispose());
  }
}

// A full story with the ACP TypeScript SDK's ClientSideConnection (1.x) against `agent-lsp acp`.
// Run by tests/test_acp_clients.py with the fake model API; argv: agent command (JSON), workspace.
// No fs capability is announced, so the agent reads and writes the disk itself.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import assert from "node:assert/strict";
import { ClientSideConnection, ndJsonStream, PROTOCOL_VERSION } from "@agentclientprotocol/sdk";

const [command, ...args] = JSON.parse(process.argv[2]);
const workspace = process.argv[3];

function connect(updates, permissions) {
  const child = spawn(command, [...args, "acp"], { stdio: ["pipe", "pipe", "inherit"], env: process.env });
  const stream = ndJsonStream(Writable.toWeb(child.stdin), Readable.toWeb(child.stdout));
  const waiters = [];
  const client = {
    async sessionUpdate(params) {
      updates.push(params.update);
      for (const w of waiters.splice(0)) w();
    },
    async requestPermission(params) {
      permissions.push(params);
      return { outcome: { outcome: "selected", optionId: "approve" } };
    },
  };
  const conn = new ClientSideConnection(() => client, stream);
  const nextUpdate = () => new Promise((resolve) => waiters.push(resolve));
  return { conn, child, nextUpdate };
}

const said = (updates, kind = "agent_message_chunk") =>
  updates.filter((u) => u.sessionUpdate === kind).map((u) => u.content.text).join("");

const updates = [];
const permissions = [];
const { conn, child, nextUpdate } = connect(updates, permissions);
const init = await conn.initialize({
  protocolVersion: PROTOCOL_VERSION,
  clientCapabilities: {},
  clientInfo: { name: "ts-sdk-story", version: "1.0.0" },
});
assert.equal(init.protocolVersion, 1);
assert.equal(init.agentCapabilities.loadSession, true);

const session = await conn.newSession({ cwd: workspace, mcpServers: [] });
assert.deepEqual(session.modes.availableModes.map((m) => m.id), ["ask", "acceptEdits", "readOnly", "bypass"]);

const done = await conn.prompt({ sessionId: session.sessionId, prompt: [{ type: "text", text: "Set x to 2" }] });
assert.equal(done.stopReason, "end_turn");
assert.equal(said(updates), "Editing calc.Done.");
const edit = updates.find((u) => u.sessionUpdate === "tool_call" && u.kind === "edit");
assert.ok(edit, "a tool call of kind edit");
assert.deepEqual(edit.content[0], { type: "diff", path: join(workspace, "calc.py"), oldText: "x = 1\n", newText: "x = 2\n" });
assert.equal(edit.locations[0].path, join(workspace, "calc.py"));
assert.equal(permissions.length, 1);
assert.equal(permissions[0].toolCall.toolCallId, edit.toolCallId);
assert.deepEqual(permissions[0].options.map((o) => o.kind), ["allow_once", "allow_always", "allow_always", "reject_once"]);
const final = updates.filter((u) => u.sessionUpdate === "tool_call_update" && u.toolCallId === edit.toolCallId).at(-1);
assert.equal(final.status, "completed");
assert.equal(readFileSync(join(workspace, "calc.py"), "utf8"), "x = 2\n");

// cancel mid-turn: the model reads a file, then stalls on its next answer
const readDone = () => updates.some((u) => u.sessionUpdate === "tool_call_update" && u.kind === "read" && u.status === "completed");
const cancelled = conn.prompt({ sessionId: session.sessionId, prompt: [{ type: "text", text: "Keep going" }] });
while (!readDone()) await nextUpdate();
await conn.cancel({ sessionId: session.sessionId });
assert.equal((await cancelled).stopReason, "cancelled");
child.kill();

// a second client loads the session: the whole thread is replayed before the answer
const replayed = [];
const second = connect(replayed, []);
await second.conn.initialize({ protocolVersion: PROTOCOL_VERSION, clientCapabilities: {} });
const listed = await second.conn.listSessions({ cwd: workspace });
assert.ok(listed.sessions.some((s) => s.sessionId === session.sessionId));
await second.conn.loadSession({ sessionId: session.sessionId, cwd: workspace, mcpServers: [] });
assert.equal(said(replayed, "user_message_chunk"), "Set x to 2Keep going");
assert.ok(said(replayed).startsWith("Editing calc.Done."));
const again = replayed.find((u) => u.sessionUpdate === "tool_call" && u.kind === "edit");
assert.deepEqual(again.content[0], edit.content[0]);
second.child.kill();
console.log("ts-sdk story: ok");

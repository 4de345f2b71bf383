"""Every method and command of the agent protocol, declared once.

Plain data with no imports beyond the standard library, so the language server can declare
its capabilities from it before the harness is loaded, and docs and tests can list it. Each
front-end registers a handler for each entry it serves; a test checks that nothing is missing
and nothing extra is served. Params and result models live in ``agent.params`` under the
names given here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PROTOCOL_VERSION = 2

Direction = Literal["client→server", "server→client"]


@dataclass(frozen=True)
class Method:
    name: str
    params: str  # the agent.params model that parses the params
    summary: str
    kind: Literal["request", "notification"] = "request"
    direction: Direction = "client→server"
    issue: int | None = None  # the issue that builds it, for version-2 additions not built yet


@dataclass(frozen=True)
class Command:
    name: str
    arguments: str
    result: str
    summary: str


METHODS: tuple[Method, ...] = (
    Method("agent/thread/start", "ThreadStartParams", "start a thread; result {thread}"),
    Method("agent/thread/list", "ThreadListParams", "the workspace's threads, newest first; result {threads}"),
    Method("agent/thread/resume", "ThreadResumeParams",
           "a thread's items and the events after afterSeq; result {thread, items, events, itemsComplete, "
           "nextAfterSeq?}: items are every item (itemsComplete true) when afterSeq is 0 and nothing is cut "
           "off, else only the items whose last change is among the events sent; with limit, at most that "
           "many events, and nextAfterSeq, while more remain, is the afterSeq of the next page"),
    Method("agent/turn/start", "TurnStartParams", "start a turn; result {turn} at once, the turn runs on"),
    Method("agent/turn/interrupt", "TurnInterruptParams", "interrupt the thread's running turn; result {interrupted}"),
    Method("agent/approval/respond", "ApprovalRespondParams",
           "answer an approval; result {outcome: resolved | alreadyResolved}"),
    Method("agent/event", "Event", "a numbered event of a thread", kind="notification",
           direction="server→client"),
    Method("agent/thread/compact", "ThreadCompactParams",
           "compact a thread's context now, as a turn of its own; result {turn}; -32803 while a turn runs"),
    Method("agent/thread/subscribe", "ThreadSubscribeParams",
           "follow a thread: result {thread, pending} (its waiting approvals); every event after afterSeq "
           "arrives once, in order, as agent/event, then live ones"),
    Method("agent/thread/unsubscribe", "ThreadUnsubscribeParams",
           "stop following a thread (an editor still gets the events of the threads it shows); result {}"),
    Method("agent/editor/diagnostics", "EditorDiagnosticsParams",
           "the diagnostics the editor shows for a document (every source but agent-lsp), the full set each "
           "time they change", kind="notification"),
    Method("agent/editor/query", "EditorQueryParams",
           "ask the editor's other language servers (definition, references, workspaceSymbols, hover); result "
           "{results: [{uri, range, text?}]}; sent only to clients announcing "
           "experimental.agentLsp.editorQueries: true", direction="server→client"),
    Method("agent/thread/memory", "ThreadMemoryParams",
           "the background observer's session note: result {note, updatedAtSeq} (note null until the thread "
           "has grown past memoryEvery tokens)"),
    Method("agent/turn/undo", "TurnUndoParams",
           "undo a turn's file changes, three-way: lines changed since are kept and reported; result {undone: "
           "[{path, outcome: reverted | partly | skipped, reason?}]}; -32803 while a turn runs"),
    Method("agent/turn/redo", "TurnUndoParams", "redo an undone turn by the same rules; result {undone}"),
)

COMMANDS: tuple[Command, ...] = (
    Command("agent.ask", "[{prompt, threadId?, uri?, range?}]", "{threadId, turnId}",
            "ask the agent (with a selection when uri and range are given)"),
    Command("agent.fix", "[uri, diagnostic]", "{threadId, turnId}", "ask the agent to fix a diagnostic"),
    Command("agent.approve", "[approvalId, decision?]", "{outcome}", "approve a pending change or command"),
    Command("agent.reject", "[approvalId, message?]", "{outcome}", "reject it; the message reaches the model"),
    Command("agent.interrupt", "[threadId?]", "{interrupted}", "stop the running turn"),
    Command("agent.compact", "[threadId?, instructions?]", "{threadId, turnId}",
            "compact the thread's context now (the current thread without a threadId)"),
    Command("agent.undoTurn", "[threadId?, turnId?]", "{undone}",
            "undo the file changes of a turn (the current thread's last turn that changed files by default)"),
    Command("agent.send", "[chatFileUri]", "{threadId, turnId}",
            'send the prompt typed under the last "## You" of a chat file (.agent-lsp/chats/)'),
    Command("agent.newChat", "[]", "{threadId, uri}", "start a thread and open its chat file"),
    Command("agent.openChat", "[threadId?]", "{threadId, uri}", "open the current (or given) thread's chat file"),
    Command("agent.askAbout", "[uri, range]", "{threadId, uri}",
            "quote a range in the current thread's chat file and open it, to ask about it"),
)

COMMAND_NAMES: tuple[str, ...] = tuple(command.name for command in COMMANDS)


def served() -> tuple[Method, ...]:
    """The client→server methods built so far (requests not built answer -32601 until their issue lands)."""
    return tuple(m for m in METHODS if m.issue is None and m.direction == "client→server")

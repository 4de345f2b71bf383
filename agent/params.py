"""The params and results of the protocol's methods (PROTOCOL.md sections 3 and 10), as data only.

Each ``...Params`` model parses the params of the method ``agent/methods.py`` names it for; a
``...Result`` model is what a request answers. They are ``Wire`` models like the rest of the
vocabulary (``agent/protocol.py``); a client may leave out any field that has a default. Nothing
here does I/O or holds state.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from agent.protocol import Decision, InputPart, Position, Wire


# --- 3. request params and results -----------------------------------------------------------


class ThreadStartParams(Wire):
    """Params of ``agent/thread/start``."""

    title: str | None = None


class ThreadListParams(Wire):
    """Params of ``agent/thread/list``: with ``parentThreadId``, that thread's subagents."""

    parent_thread_id: str | None = None


class ThreadResumeParams(Wire):
    """Params of ``agent/thread/resume``."""

    thread_id: str
    after_seq: int = Field(default=0, ge=0, le=2**62)
    limit: int | None = Field(default=None, ge=1, le=100_000,
                              description="at most this many events in the reply; when more remain, the "
                                          "result's nextAfterSeq is the afterSeq of the next page")


class TurnStartParams(Wire):
    """Params of ``agent/turn/start``."""

    thread_id: str
    input: list[InputPart] = Field(min_length=1)
    work_done_token: str | int | None = None


class ThreadSubscribeParams(Wire):
    """``agent/thread/subscribe``: every event after ``afterSeq``, once and in order, then live ones."""

    thread_id: str
    after_seq: int = Field(default=0, ge=0, le=2**62)


class ThreadMemoryParams(Wire):
    """``agent/thread/memory``: the background observer's session note of a thread."""

    thread_id: str


class ThreadUnsubscribeParams(Wire):
    """``agent/thread/unsubscribe``: stop following a thread."""

    thread_id: str


class ThreadCompactParams(Wire):
    """``agent/thread/compact``: compact the thread's context now, optionally guided."""

    thread_id: str
    instructions: str | None = None


class TurnInterruptParams(Wire):
    """Params of ``agent/turn/interrupt``."""

    thread_id: str


class ApprovalRespondParams(Wire):
    """Params of ``agent/approval/respond``."""

    approval_id: str
    decision: Decision
    message: str | None = None
    hunks: list[int] | None = Field(
        None, description="v2, with decision approve: only these hunks of the approval's diff (0-based, in diff "
                          "order across files) are applied; the others are rejected and the model is told which")


class TurnUndoParams(Wire):
    """``agent/turn/undo`` and ``agent/turn/redo``: a turn of the thread (v2)."""

    thread_id: str
    turn_id: str


class FileUndoResult(Wire):
    """What undo or redo did to one file: all the turn's hunks, some (the rest changed since), or none."""

    path: str
    outcome: Literal["reverted", "partly", "skipped"]
    reason: str | None = None


class TurnUndoResult(Wire):
    """Result of ``agent/turn/undo`` and ``agent/turn/redo``."""

    undone: list[FileUndoResult]


# --- 10. the editor's own language intelligence (issue 20) -----------------------------------

EditorQueryKind = Literal["definition", "references", "workspaceSymbols", "hover"]


class EditorDiagnosticsParams(Wire):
    """``agent/editor/diagnostics`` (client → server): every diagnostic the editor shows for a
    document, from every source but agent-lsp itself; the full set each time (empty clears it)."""

    uri: str
    version: int | None = Field(default=None, description="the document version they were published for")
    diagnostics: list[dict[str, Any]] = Field(description="LSP Diagnostic objects: range, severity, code, source, "
                                                          "message")


class EditorQueryParams(Wire):
    """``agent/editor/query`` (server → client, to clients announcing
    ``experimental.agentLsp.editorQueries``): answered from the editor's other language servers as
    ``{results: [{uri, range, text?}]}`` (hover: ``text`` is the hover's text; workspaceSymbols:
    the symbol's name and kind)."""

    kind: EditorQueryKind
    uri: str | None = None
    position: Position | None = Field(default=None, description="0-based line, UTF-16 character")
    query: str | None = Field(default=None, description="workspaceSymbols: the name searched for")

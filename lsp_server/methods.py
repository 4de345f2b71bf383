"""The ``agent/*`` requests (PROTOCOL.md section 3) and the ``agent.*`` commands (section 6).

Each handler parses its params into a protocol model, calls the harness, and returns wire
data. Errors become JSON-RPC errors a person can act on: unknown ids and malformed params
are ``-32602``, a second turn on a busy thread is ``-32803``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from agent import (
    ApprovalRespondParams,
    DiagnosticPart,
    EditorDiagnosticsParams,
    EVENT_ADAPTER,
    HostMismatch,
    HunkError,
    InputPart,
    NoDirectInput,
    NothingToCompact,
    recap,
    RemoteError,
    SelectionPart,
    TextPart,
    ThreadCompactParams,
    ThreadListParams,
    ThreadMemoryParams,
    ThreadResumeParams,
    ThreadStartParams,
    ThreadSubscribeParams,
    ThreadUnsubscribeParams,
    Turn,
    TurnBusy,
    TurnInterruptParams,
    TurnStartParams,
    TurnUndoParams,
    UndoError,
    UnknownApproval,
    UnknownThread,
)
from lsp_server.chat_commands import register_chat_commands
from lsp_server.convert import to_plain

if TYPE_CHECKING:
    from lsp_server.runtime import Runtime
    from lsp_server.server import AgentServer

P = TypeVar("P", bound=BaseModel)


class RequestFailed(JsonRpcException):
    CODE = -32803


def parse(model: type[P], raw: Any, what: str) -> P:
    plain = to_plain(raw) if raw is not None else {}
    if plain == []:  # some clients encode empty params as an empty array (Lua's {} is one)
        plain = {}
    try:
        return model.model_validate(plain)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {e['msg']}" for e in exc.errors()
        )
        raise JsonRpcInvalidParams(f"Invalid params for {what}: {problems}") from None


def domain_errors(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Map harness exceptions to the JSON-RPC errors of PROTOCOL.md section 3."""

    @wraps(fn)
    async def wrapper(*args: Any) -> Any:
        try:
            return await fn(*args)
        except UnknownThread as exc:
            raise JsonRpcInvalidParams(
                f"Unknown threadId {exc.args[0]!r} in this workspace; list threads with agent/thread/list"
            ) from None
        except UnknownApproval as exc:
            raise JsonRpcInvalidParams(
                f"Unknown approvalId {exc.args[0]!r}; pending approvals arrive as approval/requested events"
            ) from None
        except TurnBusy as exc:
            raise RequestFailed(str(exc)) from None
        except (NothingToCompact, NoDirectInput, UndoError, HunkError) as exc:
            raise JsonRpcInvalidParams(str(exc)) from None
        except RemoteError as exc:  # the agent host answered with an error: pass it on
            raise JsonRpcException(exc.message, exc.code) from None
        except HostMismatch as exc:
            raise RequestFailed(str(exc)) from None

    return wrapper


def register(server: AgentServer) -> None:
    rt = server.require_runtime

    @server.feature("agent/thread/start")
    @domain_errors
    async def thread_start(params: Any) -> dict[str, Any]:
        args = parse(ThreadStartParams, params, "agent/thread/start")
        runtime = rt()
        thread = await runtime.agent.start_thread(args.title)
        runtime.current_thread_id = thread.id
        return {"thread": thread.to_wire()}

    @server.feature("agent/thread/list")
    @domain_errors
    async def thread_list(params: Any) -> dict[str, Any]:
        args = parse(ThreadListParams, params, "agent/thread/list")
        return {"threads": [thread.to_wire() for thread in rt().agent.list_threads(args.parent_thread_id)]}

    @server.feature("agent/thread/resume")
    @domain_errors
    async def thread_resume(params: Any) -> dict[str, Any]:
        args = parse(ThreadResumeParams, params, "agent/thread/resume")
        runtime = rt()
        page = runtime.agent.resume_page(args.thread_id, args.after_seq, args.limit)
        runtime.current_thread_id = args.thread_id
        result = {"thread": page.thread.to_wire(), "items": page.items, "events": page.events,
                  "itemsComplete": page.items_complete}
        if page.next_after_seq is not None:
            result["nextAfterSeq"] = page.next_after_seq
        return result

    @server.feature("agent/turn/start")
    @domain_errors
    async def turn_start(params: Any) -> dict[str, Any]:
        args = parse(TurnStartParams, params, "agent/turn/start")
        result = await start_turn_for(rt(), args.thread_id, args.input, args.work_done_token)
        return {"turn": result["turn"]}

    @server.feature("agent/turn/interrupt")
    @domain_errors
    async def turn_interrupt(params: Any) -> dict[str, Any]:
        args = parse(TurnInterruptParams, params, "agent/turn/interrupt")
        rt().agent.get_thread(args.thread_id)
        return {"interrupted": await rt().agent.interrupt(args.thread_id)}

    @server.feature("agent/thread/subscribe")
    @domain_errors
    async def thread_subscribe(params: Any) -> dict[str, Any]:
        args = parse(ThreadSubscribeParams, params, "agent/thread/subscribe")
        runtime = rt()
        page = runtime.agent.resume_page(args.thread_id, args.after_seq)  # then live ones, as for any thread
        for event in page.events:
            server.protocol.notify("agent/event", event)
        runtime.current_thread_id = args.thread_id
        await runtime.agent.attach(args.thread_id)  # other surfaces show this editor on the thread
        pending = runtime.agent.pending_approvals(args.thread_id)
        result = {"thread": page.thread.to_wire(), "pending": [a.to_wire() for a in pending]}
        missed = recap([EVENT_ADAPTER.validate_python(e) for e in page.events]) if args.after_seq else None
        return {**result, "recap": missed} if missed else result

    @server.feature("agent/thread/unsubscribe")
    @domain_errors
    async def thread_unsubscribe(params: Any) -> dict[str, Any]:
        args = parse(ThreadUnsubscribeParams, params, "agent/thread/unsubscribe")
        await rt().agent.detach(args.thread_id)
        return {}

    @server.feature("agent/thread/memory")
    @domain_errors
    async def thread_memory(params: Any) -> dict[str, Any]:
        args = parse(ThreadMemoryParams, params, "agent/thread/memory")
        note, seq = rt().agent.memory(args.thread_id)
        return {"note": note, "updatedAtSeq": seq}

    @server.feature("agent/thread/compact")
    @domain_errors
    async def thread_compact(params: Any) -> dict[str, Any]:
        args = parse(ThreadCompactParams, params, "agent/thread/compact")
        runtime = rt()
        turn = await runtime.agent.compact(args.thread_id, args.instructions)
        runtime.progress.start(turn, None)
        return {"turn": turn.to_wire()}

    @server.feature("agent/editor/diagnostics")
    def editor_diagnostics(params: Any) -> None:
        """What the editor's other language servers report for a document (a shim sends it)."""
        args = parse(EditorDiagnosticsParams, params, "agent/editor/diagnostics")
        if server.init_params is not None:  # before initialize there is no workspace to tell
            rt().agent.editor_diagnostics(args.uri, args.version, args.diagnostics)

    @server.feature("agent/approval/respond")
    @domain_errors
    async def approval_respond(params: Any) -> dict[str, Any]:
        args = parse(ApprovalRespondParams, params, "agent/approval/respond")
        return {"outcome": await rt().agent.respond(args.approval_id, args.decision, args.message, "request",
                                                server.client_name, args.hunks)}

    @server.feature("agent/turn/undo")
    @domain_errors
    async def turn_undo(params: Any) -> dict[str, Any]:
        args = parse(TurnUndoParams, params, "agent/turn/undo")
        return {"undone": await rt().agent.undo_turn(args.thread_id, args.turn_id)}

    @server.feature("agent/turn/redo")
    @domain_errors
    async def turn_redo(params: Any) -> dict[str, Any]:
        args = parse(TurnUndoParams, params, "agent/turn/redo")
        return {"undone": await rt().agent.redo_turn(args.thread_id, args.turn_id)}

    # --- commands ----------------------------------------------------------------------------

    @server.command("agent.ask")
    @domain_errors
    async def ask(*arguments: Any) -> dict[str, Any]:
        spec = arguments[0] if arguments and isinstance(arguments[0], dict) else None
        if spec is None or not isinstance(spec.get("prompt"), str) or not spec["prompt"].strip():
            raise JsonRpcInvalidParams('agent.ask expects [{"prompt": "...", "threadId"?, "uri"?, "range"?}]')
        runtime = rt()
        parts: list[InputPart] = [TextPart(text=spec["prompt"])]
        if spec.get("uri") and spec.get("range"):
            parts.append(parse(SelectionPart, {"uri": spec["uri"], "range": spec["range"]}, "agent.ask"))
        thread_id = spec.get("threadId") or await runtime.current_thread(_title(spec["prompt"]))
        result = await start_turn_for(runtime, thread_id, parts, None)
        line = parts[1].range.start.line if len(parts) > 1 and isinstance(parts[1], SelectionPart) else None
        plain_start(runtime, result, spec.get("uri") if line is not None else None, line)
        return {"threadId": result["threadId"], "turnId": result["turnId"]}

    @server.command("agent.fix")
    @domain_errors
    async def fix(*arguments: Any) -> dict[str, Any]:
        if len(arguments) < 2 or not isinstance(arguments[0], str) or not isinstance(arguments[1], dict):
            raise JsonRpcInvalidParams("agent.fix expects [uri, diagnostic]")
        part = parse(DiagnosticPart, {"uri": arguments[0], "diagnostic": arguments[1]}, "agent.fix")
        runtime = rt()
        thread_id = await runtime.current_thread(_title("Fix: " + str(arguments[1].get("message", ""))))
        result = await start_turn_for(runtime, thread_id, [part], None)
        line = part.diagnostic.get("range", {}).get("start", {}).get("line")
        plain_start(runtime, result, part.uri, line if isinstance(line, int) else None)
        return {"threadId": result["threadId"], "turnId": result["turnId"]}

    @server.command("agent.approve")
    @domain_errors
    async def approve(*arguments: Any) -> dict[str, Any]:
        args = parse(ApprovalRespondParams, {"approvalId": _first(arguments, "agent.approve"),
                                             "decision": arguments[1] if len(arguments) > 1 else "approve"},
                     "agent.approve")
        if args.decision == "reject":
            raise JsonRpcInvalidParams("agent.approve cannot reject; use agent.reject")
        return {"outcome": await rt().agent.respond(args.approval_id, args.decision, None, "codeAction",
                                                server.client_name)}

    @server.command("agent.reject")
    @domain_errors
    async def reject(*arguments: Any) -> dict[str, Any]:
        message = arguments[1] if len(arguments) > 1 and isinstance(arguments[1], str) else None
        approval_id = _first(arguments, "agent.reject")
        return {"outcome": await rt().agent.respond(approval_id, "reject", message, "codeAction", server.client_name)}

    @server.command("agent.compact")
    @domain_errors
    async def compact(*arguments: Any) -> dict[str, Any]:
        runtime = rt()
        thread_id, instructions = _thread_and_text(runtime, arguments, "agent.compact", "instructions")
        turn = await runtime.agent.compact(thread_id, instructions)
        runtime.progress.start(turn, None)
        return {"threadId": thread_id, "turnId": turn.id}

    @server.command("agent.undoTurn")
    @domain_errors
    async def undo_turn(*arguments: Any) -> dict[str, Any]:
        runtime = rt()
        thread_id, turn_id = _thread_and_text(runtime, arguments, "agent.undoTurn", "turnId")
        return {"undone": await runtime.agent.undo_turn(thread_id, turn_id)}

    @server.command("agent.interrupt")
    @domain_errors
    async def interrupt(*arguments: Any) -> dict[str, Any]:
        runtime = rt()
        harness = runtime.agent
        thread_id = arguments[0] if arguments and isinstance(arguments[0], str) else runtime.current_thread_id
        if thread_id is None:
            return {"interrupted": False}
        harness.get_thread(thread_id)
        return {"interrupted": await harness.interrupt(thread_id)}

    register_chat_commands(server)


async def start_turn_for(runtime: Runtime, thread_id: str, parts: list[InputPart],
                         token: str | int | None = None) -> dict[str, Any]:
    """Start a turn (in the host, or in this process), with its progress on ``token``."""
    turn = await runtime.agent.start_turn(thread_id, parts)
    runtime.current_thread_id = thread_id
    runtime.progress.start(turn, token)
    return {"threadId": thread_id, "turnId": turn.id, "turn": turn.to_wire()}


def plain_start(runtime: Runtime, result: dict[str, Any], uri: str | None, line: int | None) -> None:
    """A turn a command started: its thread's chat file, and what plain clients see of it."""
    if runtime.chats is not None:
        runtime.chats.ensure(result["threadId"])
    if runtime.plain is not None:
        runtime.plain.started(Turn.model_validate(result["turn"]), uri, line)


def _first(arguments: tuple[Any, ...], command: str) -> str:
    if not arguments or not isinstance(arguments[0], str):
        raise JsonRpcInvalidParams(f"{command} expects [approvalId, ...]")
    return arguments[0]


def _thread_and_text(runtime: Runtime, arguments: tuple[Any, ...], command: str,
                     text_name: str) -> tuple[str, str | None]:
    """A command's ``[threadId?, <text_name>?]``: the thread (else the current one) and the string."""
    thread_id = arguments[0] if arguments and isinstance(arguments[0], str) else runtime.current_thread_id
    if thread_id is None:
        raise JsonRpcInvalidParams(f"{command}: no current thread; pass [threadId, {text_name}?]")
    text = arguments[1] if len(arguments) > 1 and isinstance(arguments[1], str) else None
    return thread_id, text


def _title(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "New thread"
    return line if len(line) <= 60 else line[:57] + "..."

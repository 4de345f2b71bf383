"""Every conversion between agent/ values and lsprotocol types, as pure functions.

Nothing here sends or stores anything, so each function is tested on its own: planned
changes to workspace edits, approvals to diagnostics and code actions, items to progress
messages, and raw JSON-RPC params to plain data.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from lsprotocol import types as t
from lsprotocol.converters import get_converter

from agent import (
    Approval,
    PlannedFile,
    Range,
    TurnCompletedEvent,
    changed_lines,
    split_lines,
)

AGENT_SOURCE = "agent"


def to_plain(value: Any) -> Any:
    """pygls hands custom params over as nested namedtuples; make them JSON-like again."""
    if hasattr(value, "_asdict"):
        return {k: to_plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


def code_units(text: str, encoding: str) -> int:
    if encoding == t.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8"))
    if encoding == t.PositionEncodingKind.Utf32:
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def lsp_range(r: Range) -> t.Range:
    return t.Range(
        start=t.Position(line=r.start.line, character=r.start.character),
        end=t.Position(line=r.end.line, character=r.end.character),
    )


def text_edit(planned: PlannedFile, encoding: str) -> t.TextEdit:
    """One whole-line edit turning ``old_text`` into ``new_text`` (columns only at a last line
    without a newline, measured in the client's position encoding)."""
    old_lines = split_lines(planned.old_text)
    new_lines = split_lines(planned.new_text)
    start, old_end, new_end = changed_lines(planned.old_text, planned.new_text)
    end = t.Position(line=old_end, character=0)
    if old_end == len(old_lines) and old_lines and not old_lines[-1].endswith(("\n", "\r")):
        end = t.Position(line=old_end - 1, character=code_units(old_lines[-1], encoding))
    return t.TextEdit(
        range=t.Range(start=t.Position(line=start, character=0), end=end),
        new_text="".join(new_lines[start:new_end]),
    )


def workspace_edit(edits: list[tuple[str, PlannedFile]], encoding: str, document_changes: bool,
                   resources: list[tuple[str, PlannedFile]] | None = None) -> t.WorkspaceEdit:
    """Versioned ``documentChanges`` when the client supports them (with ``CreateFile`` /
    ``DeleteFile`` for ``resources``), the plain ``changes`` map otherwise."""
    if not document_changes:
        return t.WorkspaceEdit(changes={uri: [text_edit(planned, encoding)] for uri, planned in edits})
    operations: list[t.TextDocumentEdit | t.CreateFile | t.RenameFile | t.DeleteFile] = [
        t.TextDocumentEdit(
            text_document=t.OptionalVersionedTextDocumentIdentifier(uri=uri, version=planned.version),
            edits=[text_edit(planned, encoding)],
        )
        for uri, planned in edits
    ]
    for uri, planned in resources or []:
        if planned.kind == "delete":
            operations.append(t.DeleteFile(uri=uri, options=t.DeleteFileOptions(ignore_if_not_exists=False)))
            continue
        operations.append(t.CreateFile(uri=uri, options=t.CreateFileOptions(overwrite=False, ignore_if_exists=False)))
        if planned.new_text:
            operations.append(t.TextDocumentEdit(
                text_document=t.OptionalVersionedTextDocumentIdentifier(uri=uri, version=None),
                edits=[t.TextEdit(range=t.Range(start=t.Position(line=0, character=0),
                                                end=t.Position(line=0, character=0)),
                                  new_text=planned.new_text)],
            ))
    return t.WorkspaceEdit(document_changes=operations)


def places(approval: Approval) -> list[tuple[str, Range]]:
    """Every (uri, range) an approval touches: its locations, else its one uri and range."""
    if approval.locations:
        return [(location.uri, location.range) for location in approval.locations]
    return [(approval.uri, approval.range)] if approval.uri and approval.range else []


def approval_message(approval: Approval) -> str:
    """"Agent proposes: TITLE", then the diff (or the command), so any editor shows what it is."""
    detail = approval.diff or approval.command or ""
    return f"Agent proposes: {approval.title}" + (f"\n{detail.rstrip()}" if detail else "")


def approval_diagnostics(approval: Approval) -> list[tuple[str, t.Diagnostic]]:
    """One "Agent proposes: TITLE" diagnostic (with the diff) on each range a file-change
    approval touches; its ``code`` is the approval id (ALE drops ``source``)."""
    if approval.kind != "fileChange":
        return []
    return [
        (uri, t.Diagnostic(range=lsp_range(rng), message=approval_message(approval),
                           severity=t.DiagnosticSeverity.Information, source=AGENT_SOURCE, code=approval.id))
        for uri, rng in places(approval)
    ]


ANSWER_CODE = "agent-answer"
ANSWER_SOURCE = "agent answer"  # not "agent": plugins take every "agent" diagnostic for an approval


def answer_diagnostic(line: int, answer: str) -> t.Diagnostic:
    """The end of a turn, on the line it was asked from: the answer is the message."""
    return t.Diagnostic(range=t.Range(start=t.Position(line=line, character=0), end=t.Position(line=line + 1, character=0)),
                        message=f"Agent: {answer.strip() or '(no answer text)'}",
                        severity=t.DiagnosticSeverity.Information, source=ANSWER_SOURCE, code=ANSWER_CODE)


def is_own(diagnostic: t.Diagnostic, pending_ids: set[str]) -> bool:
    """Our own diagnostic, recognized by source or, when the client dropped it, by code."""
    code = None if diagnostic.code is None else str(diagnostic.code)
    return diagnostic.source in (AGENT_SOURCE, ANSWER_SOURCE) or code == ANSWER_CODE or code in pending_ids


def ranges_meet(a: t.Range, b: t.Range) -> bool:
    return (a.start.line, a.start.character) <= (b.end.line, b.end.character) and (
        b.start.line,
        b.start.character,
    ) <= (a.end.line, a.end.character)


@cache
def _converter() -> Any:
    return get_converter()


def unstructure(value: Any) -> Any:
    return _converter().unstructure(value)


def fix_actions(uri: str, diagnostics: list[t.Diagnostic], pending_ids: set[str] | None = None) -> list[t.CodeAction]:
    """"Ask agent to fix: MESSAGE" for each diagnostic that is not the agent's own."""
    actions = []
    for diagnostic in diagnostics:
        raw = unstructure(diagnostic)
        if is_own(diagnostic, pending_ids or set()):
            continue
        first_line = diagnostic.message.splitlines()[0] if diagnostic.message else "problem"
        actions.append(
            t.CodeAction(
                title=f"Ask agent to fix: {first_line}",
                kind=t.CodeActionKind.QuickFix,
                diagnostics=[diagnostic],
                command=t.Command(title="Ask agent to fix", command="agent.fix", arguments=[uri, raw]),
            )
        )
    return actions


def approval_actions(uri: str, request_range: t.Range, context: list[t.Diagnostic],
                     pending: list[Approval], anywhere: bool = False) -> list[t.CodeAction]:
    """Approve / reject actions for approvals touching this document (every approval when
    ``anywhere``, as in a chat file); commands anywhere."""
    codes = {str(d.code) for d in context if d.code is not None}  # ALE drops source: match the id
    actions: list[t.CodeAction] = []
    for approval in pending:
        if approval.kind == "command":
            shown = approval.command or approval.title
            actions.append(_action(f"Allow agent to run: {shown}", "agent.approve", approval.id, True))
            actions.append(_action(f"Deny agent: {shown}", "agent.reject", approval.id, False))
            continue
        ranges = [lsp_range(rng) for place, rng in places(approval) if place == uri]
        if not ranges and not anywhere:
            continue
        if anywhere or approval.id in codes or any(ranges_meet(rng, request_range) for rng in ranges):
            actions.append(_action(f"Approve agent edit: {approval.title}", "agent.approve", approval.id, True))
            actions.append(_action(f"Reject agent edit: {approval.title}", "agent.reject", approval.id, False))
    return actions


def _action(title: str, command: str, approval_id: str, preferred: bool) -> t.CodeAction:
    return t.CodeAction(
        title=title,
        kind=t.CodeActionKind.QuickFix,
        is_preferred=preferred or None,
        command=t.Command(title=title, command=command, arguments=[approval_id]),
    )


def turn_summary(event: TurnCompletedEvent) -> str:
    usage = event.usage
    total_in = usage.input_tokens + usage.cache_read_tokens + usage.cache_creation_tokens
    tokens = f"{total_in} in, {usage.output_tokens} out"
    if event.turn.status == "completed":
        return f"Done ({tokens})"
    if event.turn.status == "interrupted":
        return "Interrupted"
    return f"Failed: {event.turn.error or 'unknown error'}"


def command_action(title: str, command: str, *arguments: Any) -> t.CodeAction:
    """A code action that runs one of our commands (no kind: shown in every editor's menu)."""
    return t.CodeAction(title=title, command=t.Command(title=title, command=command, arguments=list(arguments)))


def chat_actions(uri: str, request_range: t.Range, prompt_line: str | None, in_chat: bool,
                 chat_prompt: str | None) -> list[t.CodeAction]:
    """The plain-LSP entry points: "Send to agent" in a chat file with a prompt, "Ask agent:
    PROMPT" on an ``agent:`` comment line, "Ask agent about this" on a non-empty range, and
    "New agent chat" / "Open agent chat" everywhere."""
    actions: list[t.CodeAction] = []
    if in_chat and chat_prompt:
        actions.append(command_action(f"Send to agent: {_first_line(chat_prompt)}", "agent.send", uri))
    if prompt_line and not in_chat:
        line = request_range.start.line
        rng = {"start": {"line": line, "character": 0}, "end": {"line": line + 1, "character": 0}}
        actions.append(command_action(f"Ask agent: {prompt_line}", "agent.ask",
                                      {"prompt": prompt_line, "uri": uri, "range": rng}))
    if request_range.start != request_range.end and not in_chat:
        actions.append(command_action("Ask agent about this", "agent.askAbout", uri, unstructure(request_range)))
    actions.append(command_action("Open agent chat", "agent.openChat"))
    actions.append(command_action("New agent chat", "agent.newChat"))
    return actions


def _first_line(text: str, limit: int = 50) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def turn_end_message(summary: str, answer: str, chat_rel: str | None) -> str:
    """The one ``window/showMessage`` at the end of a turn: summary, answer's start, chat path."""
    text = f"Agent: {_first_line(answer, 160)}" if answer.strip() else f"Agent: {summary}"
    return text + (f" (full chat: {chat_rel})" if chat_rel else "")

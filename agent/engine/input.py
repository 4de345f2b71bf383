"""Turning a turn's ``InputPart`` list into the user message the model reads.

Selections are read by the harness itself (from the open buffer when there is one), and a
diagnostic becomes a precise request naming the file, the line and the message. Secrets
(``agent/policy/secrets.py``) are redacted from the result: a selection in ``.env`` stays hidden.
"""

from __future__ import annotations

from typing import Any

from agent.files.changes import text_lines
from agent.protocol import DiagnosticPart, InputPart, SelectionPart, TextPart
from agent.files.workspace import ToolError, Workspace, uri_to_path


def render_input(parts: list[InputPart], workspace: Workspace) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in parts:
        text = _render(part, workspace)
        if text.strip():
            blocks.append({"type": "text", "text": text})
    unsaved = [workspace.relative(p) for p in workspace.documents.unsaved_paths()]
    if unsaved:
        blocks.append({"type": "text", "text": "Open with unsaved changes: " + ", ".join(sorted(unsaved))})
    rendered: list[dict[str, Any]] = workspace.secrets.current().redact_json(blocks)
    return rendered or [{"type": "text", "text": "(empty message)"}]


def _render(part: InputPart, workspace: Workspace) -> str:
    if isinstance(part, TextPart):
        return part.text
    try:
        path = workspace.resolve(str(uri_to_path(part.uri)))
        current = workspace.read(path)
    except ToolError as exc:
        return f"(could not read {part.uri}: {exc})"
    rel = workspace.relative(path)
    lines = text_lines(current.text)
    if isinstance(part, SelectionPart):
        start, end = part.range.start.line, part.range.end.line
        if part.range.end.character == 0 and end > start:
            end -= 1
        chosen = "\n".join(lines[start : end + 1])
        return f"Selected text in {rel}, lines {start + 1}-{end + 1}:\n```\n{chosen}\n```"
    assert isinstance(part, DiagnosticPart)
    diagnostic = part.diagnostic
    line = int(diagnostic.get("range", {}).get("start", {}).get("line", 0))
    source = diagnostic.get("source")
    code = diagnostic.get("code")
    origin = " ".join(str(x) for x in (source, code) if x is not None)
    shown = lines[line] if 0 <= line < len(lines) else ""
    return (
        f"Fix this problem in {rel} at line {line + 1}"
        f"{f' ({origin})' if origin else ''}: {diagnostic.get('message', '')}\n"
        f"The line reads:\n```\n{shown}\n```"
    )

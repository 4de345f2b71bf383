"""What the editor's own language servers say: diagnostics per file, and queries through the editor.

``EditorSight`` is lent by a front-end, like ``Documents``: editor shims publish the
diagnostics the editor shows for a document (every source, for a document version) and the
front-end sets ``answer``, the async callable that asks the editor's other language servers
(definition, references, workspace symbols, hover). The harness never speaks LSP: it stores
what was published, waits for diagnostics to settle after an edit (``settle``: those for the
new version, or a quiet period, at most a few seconds) and renders what changed
(``after_edit``). Without a shim nothing is ever published and nothing waits; without
``answer`` a query is a ``ToolError`` that says how to attach an editor.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.files.workspace import ToolError, uri_to_path

Answer = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]  # {kind, uri?, position?, query?} -> {results}
Waiter = Callable[[asyncio.Event, float], Awaitable[bool]]  # True when the event was set in time

QUIET_S = 0.3  # no new publish this long: the editor has said what it will say
MAX_WAIT_S = 3.0  # never hold an edit's result longer than this
QUERY_TIMEOUT_S = 10.0
MAX_REPORTED = 10  # new or fixed problems listed after an edit, per kind and file
SEVERITIES = {1: "error", 2: "warning", 3: "info", 4: "hint"}
NO_EDITOR = ("no editor with language servers is attached; open the workspace in VS Code or Neovim with the "
             "agent-lsp plugin (the language servers of a plain LSP client are not reachable)")


@dataclass(frozen=True)
class EditorDiagnostic:
    """One diagnostic as the editor shows it; ``line`` and ``column`` are 1-based."""

    line: int
    column: int
    severity: int  # 1 error … 4 hint (LSP's numbers)
    message: str
    source: str | None = None
    code: str | None = None

    @property
    def key(self) -> tuple[int, str, str | None, str | None]:
        """What stays the same when lines move: new and fixed problems are told apart by this."""
        return (self.severity, self.message, self.source, self.code)

    def render(self) -> str:
        where = f"[{self.source}] " if self.source else ""
        code = f" ({self.code})" if self.code else ""
        message = " ".join(self.message.split())
        if len(message) > 300:
            message = message[:297] + "..."
        return f"L{self.line}:{self.column} {SEVERITIES.get(self.severity, 'error')} {where}{message}{code}"


def parse_diagnostic(raw: Any) -> EditorDiagnostic | None:
    """An LSP ``Diagnostic`` (0-based range) as an ``EditorDiagnostic``, or None if malformed."""
    if not isinstance(raw, dict) or not isinstance(raw.get("message"), str):
        return None
    start = (raw.get("range") or {}).get("start") if isinstance(raw.get("range"), dict) else None
    line = start.get("line") if isinstance(start, dict) else None
    character = start.get("character") if isinstance(start, dict) else None
    if not isinstance(line, int) or not isinstance(character, int) or line < 0 or character < 0:
        return None
    severity = raw.get("severity")
    code = raw.get("code")
    source = raw.get("source")
    return EditorDiagnostic(line + 1, character + 1, severity if severity in SEVERITIES else 1, raw["message"],
                            source if isinstance(source, str) and source else None,
                            str(code) if isinstance(code, (str, int)) and code != "" else None)


def worst_first(diagnostics: Iterable[EditorDiagnostic]) -> list[EditorDiagnostic]:
    return sorted(diagnostics, key=lambda d: (d.severity, d.line, d.column))


@dataclass(frozen=True)
class Published:
    version: int | None
    diagnostics: tuple[EditorDiagnostic, ...]
    seq: int  # publish counter at the time (orders publishes without a clock)
    at: float


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(event.wait(), max(0.0, seconds))
        return True
    except TimeoutError:
        return False


class EditorSight:
    def __init__(self, answer: Answer | None = None, *, quiet_s: float = QUIET_S, max_wait_s: float = MAX_WAIT_S,
                 clock: Callable[[], float] = time.monotonic, wait: Waiter = _wait) -> None:
        self.answer = answer  # set by the front-end when an editor can answer queries
        self.quiet_s = quiet_s
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._wait = wait
        self._files: dict[Path, Published] = {}
        self._seen: set[Path] = set()  # files the editor has ever reported on (even "no problems")
        self._seq = 0
        self._changed: asyncio.Event | None = None

    @property
    def reporting(self) -> bool:
        """Whether any editor shim has published diagnostics (else nothing ever waits)."""
        return self._seq > 0

    # --- what shims publish ------------------------------------------------------------------

    def publish(self, path: Path, version: int | None, diagnostics: list[Any]) -> None:
        """The full set the editor shows for ``path`` now (an empty list clears it)."""
        self._seq += 1
        parsed = tuple(d for d in (parse_diagnostic(raw) for raw in diagnostics) if d is not None)
        self._files[path] = Published(version if isinstance(version, int) else None, parsed, self._seq, self._clock())
        self._seen.add(path)
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def publish_uri(self, uri: str, version: int | None, diagnostics: list[Any]) -> None:
        """``publish`` for a ``file://`` URI; any other URI names no workspace file and is ignored."""
        try:
            path = Path(os.path.realpath(uri_to_path(uri)))
        except (ToolError, ValueError, OSError):
            return
        self.publish(path, version, diagnostics if isinstance(diagnostics, list) else [])

    def diagnostics(self, path: Path) -> list[EditorDiagnostic]:
        found = self._files.get(path)
        return worst_first(found.diagnostics) if found is not None else []

    def files(self) -> dict[Path, list[EditorDiagnostic]]:
        """Every file with diagnostics now."""
        return {path: worst_first(p.diagnostics) for path, p in self._files.items() if p.diagnostics}

    # --- waiting after an edit ---------------------------------------------------------------

    async def settle(self, path: Path, after_version: int | None = None) -> list[EditorDiagnostic]:
        """The file's diagnostics once they settle: a publish for a version newer than
        ``after_version`` (when the editor reports on this file and the version is known), or
        ``quiet_s`` with no new publish for it; never longer than ``max_wait_s``."""
        if not self.reporting:
            return self.diagnostics(path)
        start, start_seq = self._clock(), self._seq
        by_version = after_version is not None and path in self._seen
        while True:
            found = self._files.get(path)
            fresh = found is not None and found.seq > start_seq
            if by_version and fresh and found is not None and found.version is not None \
                    and after_version is not None and found.version > after_version:
                break
            now = self._clock()
            until = start + self.max_wait_s
            if not by_version:
                until = min(until, (found.at if fresh and found is not None else start) + self.quiet_s)
            if now >= until:
                break
            if self._changed is None:
                self._changed = asyncio.Event()
            await self._wait(self._changed, until - now)
        return self.diagnostics(path)

    def snapshot(self, paths: Iterable[Path]) -> dict[Path, list[EditorDiagnostic]]:
        """What the editor shows for these files now (taken before an edit lands)."""
        return {path: self.diagnostics(path) for path in paths}

    async def after_edit(self, landed: Iterable[tuple[Path, str, int | None]],
                         before: dict[Path, list[EditorDiagnostic]]) -> str:
        """For each (path, rel, version the change was planned on) that landed: what the editor
        reports now, as new and fixed problems, bounded; "" when no editor reports."""
        if not self.reporting:
            return ""
        lines = []
        for path, rel, version in landed:
            now = await self.settle(path, version)
            lines.append(describe_change(rel, before.get(path, []), now))
        return "\n" + "\n".join(lines) if lines else ""

    # --- queries -----------------------------------------------------------------------------

    async def query(self, kind: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Ask the editor's language servers; ``[{uri, range, text?}]``, or a ToolError."""
        if self.answer is None:
            raise ToolError(NO_EDITOR)
        try:
            reply = await asyncio.wait_for(self.answer({"kind": kind, **params}), QUERY_TIMEOUT_S)
        except TimeoutError:
            raise ToolError(f"the editor did not answer the {kind} query within {QUERY_TIMEOUT_S:.0f} s; "
                            "its language servers may still be starting: try again shortly") from None
        except ToolError:
            raise
        except Exception as exc:  # the editor went away or answered with an error
            raise ToolError(f"the editor could not answer the {kind} query: {exc}") from None
        results = reply.get("results") if isinstance(reply, dict) else None
        return [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []


def _beyond(these: list[EditorDiagnostic], those: list[EditorDiagnostic]) -> list[EditorDiagnostic]:
    """The diagnostics of ``these`` that ``those`` does not also hold (as a multiset, by key),
    in their order."""
    left = Counter(d.key for d in those)
    extra = []
    for diagnostic in these:
        if left[diagnostic.key] > 0:
            left[diagnostic.key] -= 1
        else:
            extra.append(diagnostic)
    return extra


def describe_change(rel: str, before: list[EditorDiagnostic], after: list[EditorDiagnostic]) -> str:
    """"Editor diagnostics for a.py now: new: …; fixed: …", each list bounded."""
    new, fixed = _beyond(after, before), _beyond(before, after)
    if not new and not fixed:
        if not after:
            return f"Editor diagnostics for {rel} now: no problems."
        return f"Editor diagnostics for {rel} now: nothing new, nothing fixed ({_count(after)} as before)."
    parts = []
    if new:
        parts.append("new: " + _listed(new))
    if fixed:
        parts.append("fixed: " + _listed(fixed))
    remaining = len(after) - len(new)
    tail = f" ({remaining} more unchanged)" if remaining > 0 else ""
    return f"Editor diagnostics for {rel} now: " + "; ".join(parts) + tail + "."


def _listed(diagnostics: list[EditorDiagnostic]) -> str:
    ordered = worst_first(diagnostics)
    shown = "; ".join(d.render() for d in ordered[:MAX_REPORTED])
    more = len(ordered) - MAX_REPORTED
    return shown + (f"; and {more} more (use the diagnostics tool)" if more > 0 else "")


def _count(diagnostics: list[EditorDiagnostic]) -> str:
    counts = Counter(SEVERITIES.get(d.severity, "error") for d in diagnostics)
    return ", ".join(f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in counts.items())

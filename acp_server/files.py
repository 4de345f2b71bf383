"""The client's file system as the harness's ``Documents`` and ``ChangeApplier``.

When the client announces ``fs.readTextFile``, every read of a file goes through
``fs/read_text_file`` (so the editor's unsaved text is what the agent sees); when it
announces ``fs.writeTextFile``, approved edits land through ``fs/write_text_file`` after a
fresh read shows the text is still what the change was computed against (or the change
rebases cleanly onto it): a conflict otherwise, never an overwrite of newer text. ACP has no
delete, so deletions go to disk. Both run on the harness thread and ask the client through
the connection's loop; the calls name the session that prompted last in the workspace.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent import ApplyResult, ChangeSet, DiskApplier, OpenDocument, PlannedFile, path_to_uri, rebase
from acp_server.bridge import await_on, on_loop

log = logging.getLogger(__name__)
READ_TIMEOUT_S = 10.0
WRITE_TIMEOUT_S = 60.0
SessionFor = Callable[[], "str | None"]


def _disk_text(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


class ClientDocuments:
    """Files as the client sees them (``fs/read_text_file``); None (so: disk) when it cannot say."""

    def __init__(self, loop: asyncio.AbstractEventLoop, client: Any, session_for: SessionFor,
                 on_harness_thread: Callable[[], bool]) -> None:
        self._loop = loop
        self._client = client
        self._session_for = session_for
        self._on_harness_thread = on_harness_thread

    def get(self, path: Path) -> OpenDocument | None:
        session_id = self._session_for()
        if session_id is None or not self._on_harness_thread() or not path.is_file():
            return None  # blocking here from the connection's own loop would deadlock it
        future = on_loop(self._loop, self._client.read_text_file(session_id=session_id, path=str(path)))
        try:
            response = future.result(READ_TIMEOUT_S)
        except Exception as exc:  # the client could not read it: the disk's text stands
            future.cancel()
            log.info("fs/read_text_file %s failed (%s); reading the disk", path, exc)
            return None
        return OpenDocument(uri=path_to_uri(path), text=response.content, version=None)

    def unsaved_paths(self) -> list[Path]:
        return []  # ACP does not say which files have unsaved text


class ClientApplier:
    """Lands change sets through ``fs/write_text_file`` (deletions on disk), all or nothing."""

    def __init__(self, loop: asyncio.AbstractEventLoop, client: Any, session_for: SessionFor,
                 can_read: bool) -> None:
        self._loop = loop
        self._client = client
        self._session_for = session_for
        self._can_read = can_read
        self._disk = DiskApplier()

    async def _current(self, session_id: str, path: Path) -> str | None:
        if not self._can_read or not path.is_file():
            return _disk_text(path)
        try:
            response = await await_on(self._loop, lambda: self._client.read_text_file(
                session_id=session_id, path=str(path)))
        except Exception:
            return _disk_text(path)
        return str(response.content)

    async def _check(self, session_id: str, planned: PlannedFile) -> PlannedFile | str:
        current = await self._current(session_id, planned.path)
        if planned.kind == "add":
            return planned if current is None and not planned.path.exists() else f"{planned.rel} already exists"
        if current is None:
            return f"{planned.rel} no longer exists"
        if planned.kind == "delete":
            return planned if current == planned.old_text else f"{planned.rel} changed since it was read; not deleting it"
        if current == planned.old_text:
            return planned
        return rebase(planned, current, None) or f"{planned.rel} changed in the editor since it was read, where this change would go"

    async def apply(self, changes: ChangeSet) -> ApplyResult:
        session_id = self._session_for()
        if session_id is None:
            return await self._disk.apply(changes)
        ready: list[PlannedFile] = []
        for planned in changes.files:
            checked = await self._check(session_id, planned)
            if isinstance(checked, str):
                return ApplyResult("conflict", checked)
            ready.append(checked)
        for planned in ready:
            if planned.kind == "delete":
                self._disk.write(ChangeSet(changes.title, [planned]))
                continue
            try:
                await asyncio.wait_for(await_on(self._loop, lambda p=planned: self._client.write_text_file(
                    session_id=session_id, path=str(p.path), content=p.new_text)), WRITE_TIMEOUT_S)
            except Exception as exc:
                return ApplyResult("conflict", f"the editor did not write {planned.rel}: {exc}")
        return ApplyResult("applied")

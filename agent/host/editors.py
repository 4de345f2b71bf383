"""The editors attached to the host, as the harness of one workspace sees them.

``EditorRegistry`` keeps, per workspace, every attached editor's open documents (text and
version, re-sent on every change and re-registered on reconnect) and what it can do. It lends
them to the harness as ``Documents`` (the newest text of a file open anywhere) and as a
``ChangeApplier``: a change to a file some editor has open goes to that editor (``editor/apply``:
it runs its own versioned ``workspace/applyEdit`` with the rebase and conflict rules), and so do
new and deleted files when an editor is attached (it creates them with ``CreateFile`` when it
can, else on disk); other files no editor has open go to disk. An editor that goes away while its edit is in flight is a conflict
for that edit, never a lost or doubled write.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.files.changes import ApplyResult, ChangeSet, DiskApplier, PlannedFile
from agent.host.rpc import Connection, ConnectionLost, RemoteError
from agent.files.sight import NO_EDITOR, QUERY_TIMEOUT_S
from agent.files.workspace import OpenDocument, ToolError, uri_to_path

APPLY_TIMEOUT_S = 30.0


@dataclass
class Editor:
    """One attached client with documents open in one workspace."""

    connection: Connection
    name: str
    documents: dict[Path, OpenDocument] = field(default_factory=dict)
    queries: bool = False  # it answers editor/query from its language servers (issue 20)


class EditorRegistry:
    def __init__(self) -> None:
        self._editors: dict[int, Editor] = {}

    def attach(self, connection: Connection, name: str, documents: list[dict[str, Any]],
               queries: bool = False) -> Editor:
        editor = self._editors[id(connection)] = Editor(connection, name, queries=queries)
        for document in documents:
            self.update(connection, document)
        return editor

    def detach(self, connection: Connection) -> None:
        self._editors.pop(id(connection), None)

    def update(self, connection: Connection, document: dict[str, Any]) -> None:
        editor = self._editors.get(id(connection))
        if editor is None:
            return
        try:
            path = Path(os.path.realpath(uri_to_path(str(document["uri"]))))
        except (ToolError, KeyError, ValueError):
            return
        if document.get("text") is None:
            editor.documents.pop(path, None)
        else:
            editor.documents[path] = OpenDocument(uri=str(document["uri"]), text=str(document["text"]),
                                                  version=document.get("version"))

    def latest(self) -> Editor | None:
        """The editor attached last, if any."""
        return next(reversed(list(self._editors.values())), None)

    async def ask(self, params: dict[str, Any]) -> dict[str, Any]:
        """``editor/query`` to the editor attached last that answers queries (the sight's ``answer``)."""
        editor = next((e for e in reversed(list(self._editors.values())) if e.queries), None)
        if editor is None:
            raise ToolError(NO_EDITOR)
        try:
            return dict(await editor.connection.request("editor/query", params, timeout=QUERY_TIMEOUT_S))
        except (ConnectionLost, RemoteError) as exc:
            raise ToolError(f"the editor ({editor.name}) could not answer: {exc}") from None

    def owner(self, path: Path) -> Editor | None:
        return next((e for e in reversed(list(self._editors.values())) if path in e.documents), None)

    # --- Documents ---------------------------------------------------------------------------

    def get(self, path: Path) -> OpenDocument | None:
        editor = self.owner(path)
        return editor.documents[path] if editor is not None else None

    def unsaved_paths(self) -> list[Path]:
        unsaved = []
        for editor in self._editors.values():
            for path, document in editor.documents.items():
                try:
                    on_disk = path.read_bytes().decode("utf-8")
                except (OSError, UnicodeDecodeError):
                    on_disk = None
                if document.text != on_disk:
                    unsaved.append(path)
        return unsaved


class HostApplier:
    """Lands a change set through the editor that has its files open, or on disk."""

    def __init__(self, editors: EditorRegistry) -> None:
        self._editors = editors
        self._disk = DiskApplier()

    async def apply(self, changes: ChangeSet) -> ApplyResult:
        owners = {id(e): e for f in changes.files if (e := self._editors.owner(f.path)) is not None}
        if not owners and any(f.kind != "update" for f in changes.files) and self._editors.latest() is not None:
            latest = self._editors.latest()  # new and deleted files: the editor may take them (CreateFile)
            assert latest is not None
            owners = {id(latest): latest}
        if not owners:
            return await self._disk.apply(changes)
        if len(owners) > 1:
            return ApplyResult("conflict", "the change spans files open in different editors; apply it in parts")
        editor = next(iter(owners.values()))
        try:
            answer = await editor.connection.request("editor/apply", {"title": changes.title,
                                                                      "files": [_wire(f) for f in changes.files]},
                                                     timeout=APPLY_TIMEOUT_S)
        except (ConnectionLost, RemoteError, TimeoutError) as exc:
            return ApplyResult("conflict", f"the editor ({editor.name}) did not apply the change: {exc}")
        return ApplyResult(answer.get("outcome", "conflict"), answer.get("detail", ""))


def _wire(planned: PlannedFile) -> dict[str, Any]:
    return {"path": str(planned.path), "rel": planned.rel, "kind": planned.kind, "oldText": planned.old_text,
            "newText": planned.new_text, "version": planned.version, "fromBuffer": planned.from_buffer}


def change_set(params: dict[str, Any]) -> ChangeSet:
    """``editor/apply``'s params as the ``ChangeSet`` an editor's applier lands."""
    return ChangeSet(str(params["title"]), [
        PlannedFile(path=Path(f["path"]), rel=f["rel"], kind=f["kind"], old_text=f["oldText"], new_text=f["newText"],
                    version=f.get("version"), from_buffer=bool(f.get("fromBuffer")))
        for f in params["files"]])

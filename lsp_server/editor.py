"""The editor side of the harness: open buffers as ``Documents``, edits as ``applyEdit``.

``LspDocuments`` reads pygls's mirror of the client's documents. ``LspApplier`` lands a
change set: files the client has open go through one versioned ``workspace/applyEdit``
(never touching disk behind the editor's back), the others are written atomically. A
buffer that moved on since the change was computed is a conflict, never an overwrite.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types as t
from pygls.capabilities import get_capability

from agent.changes import ApplyResult, ChangeSet, DiskApplier, PlannedFile
from agent.workspace import OpenDocument, ToolError, uri_to_path
from lsp_server import convert

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)
APPLY_TIMEOUT_S = 120.0


class LspDocuments:
    def __init__(self, server: LanguageServer) -> None:
        self._server = server

    def _by_path(self) -> dict[Path, str]:
        found: dict[Path, str] = {}
        for uri in list(self._server.workspace.text_documents):
            try:
                found[uri_to_path(uri)] = uri
            except ToolError:
                continue
        return found

    def get(self, path: Path) -> OpenDocument | None:
        uri = self._by_path().get(path)
        if uri is None:
            return None
        doc = self._server.workspace.get_text_document(uri)
        return OpenDocument(uri=uri, text=doc.source, version=doc.version)

    def unsaved_paths(self) -> list[Path]:
        unsaved = []
        for path, uri in self._by_path().items():
            try:
                on_disk = path.read_bytes().decode("utf-8")
            except (OSError, UnicodeDecodeError):
                on_disk = None
            if self._server.workspace.get_text_document(uri).source != on_disk:
                unsaved.append(path)
        return unsaved


class LspApplier:
    def __init__(self, server: LanguageServer, documents: LspDocuments) -> None:
        self._server = server
        self._documents = documents
        self._disk = DiskApplier()

    async def apply(self, changes: ChangeSet) -> ApplyResult:
        in_editor: list[tuple[str, PlannedFile]] = []
        on_disk: list[PlannedFile] = []
        for planned in changes.files:
            doc = self._documents.get(planned.path)
            if planned.kind == "delete" and doc is not None and doc.text != planned.old_text:
                return ApplyResult("conflict", f"{planned.rel} has changed in the editor; not deleting it")
            if planned.kind != "update" or doc is None:  # added and deleted files go to disk
                if doc is None and planned.from_buffer:
                    return ApplyResult("conflict", f"{planned.rel} was closed in the editor since it was read")
                on_disk.append(planned)
            elif not planned.from_buffer or doc.version != planned.version or doc.text != planned.old_text:
                return ApplyResult("conflict", f"{planned.rel} changed in the editor since it was read")
            else:
                in_editor.append((doc.uri, planned))
        disk_set = ChangeSet(changes.title, on_disk)
        problem = self._disk.check(disk_set)
        if problem is not None:
            return problem
        if in_editor:
            result = await self._apply_in_editor(changes.title, in_editor)
            if result.outcome != "applied":
                return result
        self._disk.write(disk_set)
        return ApplyResult("applied")

    async def _apply_in_editor(self, title: str, edits: list[tuple[str, PlannedFile]]) -> ApplyResult:
        caps = self._server.client_capabilities
        document_changes = bool(get_capability(caps, "workspace.workspace_edit.document_changes", False))
        encoding = self._server.workspace.position_encoding or t.PositionEncodingKind.Utf16
        edit = convert.workspace_edit(edits, str(encoding), document_changes)
        params = t.ApplyWorkspaceEditParams(edit=edit, label=f"Agent: {title}")
        try:
            result = await asyncio.wait_for(self._server.workspace_apply_edit_async(params), APPLY_TIMEOUT_S)
        except TimeoutError:
            return ApplyResult("conflict", "the editor did not answer workspace/applyEdit")
        if not result.applied:
            reason = result.failure_reason or "the editor refused the edit"
            return ApplyResult("conflict", reason)
        return ApplyResult("applied")

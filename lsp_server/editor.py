"""The editor side of the harness: open buffers as ``Documents``, edits as ``applyEdit``.

``LspDocuments`` reads pygls's mirror of the client's documents. ``LspApplier`` lands a
change set: files the client has open go through one versioned ``workspace/applyEdit``
(never touching disk behind the editor's back), the others are written atomically. A
buffer that moved on since the change was computed is a conflict, never an overwrite.

Clients differ (``quirks.py``): one that declares ``workspace.applyEdit: false`` gets its
unmodified buffers' changes on disk and a conflict that says why for modified ones; a
``didChange`` showing the edit counts as applied whether or not the answer to ``applyEdit``
ever comes, and a late answer is only logged.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from lsprotocol import types as t
from pygls.capabilities import get_capability

from agent import (ApplyResult, ChangeSet, DiskApplier, OpenDocument, PlannedFile, ToolError, check_uri,
                   path_to_uri, rebase, uri_to_path)
from lsp_server import convert
from lsp_server.quirks import ClientQuirks, Nudger, identify, log_notifier

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)
APPLY_TIMEOUT_S = 120.0  # only when the client neither answers nor shows the edit
VERIFY_TIMEOUT_S = 3.0


class LspDocuments:
    """pygls's mirror of the client's documents, by path. Documents whose URI names no local
    file (``untitled:``, ``git:``) are skipped; a malformed URI (a NUL, a broken %-escape) is
    skipped too, and ``refused`` says so once so the server can warn the user."""

    def __init__(self, server: LanguageServer) -> None:
        self._server = server
        self._waiters: list[asyncio.Future[None]] = []
        self._warned: set[str] = set()

    def _by_path(self) -> dict[Path, str]:
        found: dict[Path, str] = {}
        for uri in list(self._server.workspace.text_documents):
            try:  # compare resolved paths: the workspace resolves symlinks in every path
                found[Path(os.path.realpath(uri_to_path(uri)))] = uri
            except (ToolError, OSError, ValueError):  # never let one bad URI break every turn
                continue
        return found

    def refused(self, uri: str) -> str | None:
        """A warning for the user the first time a malformed document URI arrives, else None."""
        try:
            check_uri(uri)
            if urlparse(uri).scheme.lower() == "file":
                uri_to_path(uri)
        except ToolError as exc:
            if uri in self._warned:
                return None
            self._warned.add(uri)
            return f"agent-lsp ignores document URI {uri!r}: {exc}"
        return None

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

    def state(self, uri: str) -> tuple[int | None, str | None]:
        """The document's version and text as the editor has it (text None: it is closed)."""
        document = self._server.workspace.text_documents.get(uri)
        return (document.version, document.source) if document is not None else (None, None)

    def registration(self) -> list[dict[str, object]]:
        """Every open document, as the agent host registers them (on connect and reconnect)."""
        return [{"uri": uri, "version": document.version, "text": document.source}
                for uri, document in list(self._server.workspace.text_documents.items())]

    def changed(self) -> None:
        """Called on every didChange/didOpen/didClose: wakes whoever waits for a buffer."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_for_text(self, path: Path, expected: str, timeout: float) -> bool:
        """Whether the buffer comes to hold ``expected`` within ``timeout`` seconds."""
        return await self.wait_for(path, lambda doc: doc.text == expected, timeout)

    async def wait_for(self, path: Path, holds: Callable[[OpenDocument], bool], timeout: float) -> bool:
        """Whether the open buffer of ``path`` comes to satisfy ``holds`` within ``timeout`` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            doc = self.get(path)
            if doc is not None and holds(doc):
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                return False


class LspApplier:
    """Lands change sets through the editor (open files, and new or deleted files when the
    client supports resource operations) and on disk (the rest), all or nothing."""

    def __init__(self, server: LanguageServer, documents: LspDocuments) -> None:
        self._server = server
        self._documents = documents
        self._disk = DiskApplier()
        self._nudger = Nudger(self.quirks, log_notifier(server))
        self._late: set[asyncio.Future[t.ApplyWorkspaceEditResult]] = set()

    def quirks(self) -> ClientQuirks:
        return identify(getattr(self._server, "init_params", None))

    def _on_disk(self, planned: PlannedFile, buffer_text: str) -> PlannedFile | str:
        """For a client that takes no ``applyEdit``: the change as a disk write when its buffer
        matches the disk, else why not."""
        try:
            on_disk = planned.path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            on_disk = None
        if on_disk != buffer_text:
            return (f"{planned.rel} has unsaved changes in the editor, which takes no edits from the server "
                    "(it declares workspace.applyEdit: false); save or revert it, then ask again")
        return PlannedFile(planned.path, planned.rel, "update", buffer_text, planned.new_text, None, False)

    def _supports(self) -> tuple[bool, bool]:
        caps = self._server.client_capabilities
        document_changes = bool(get_capability(caps, "workspace.workspace_edit.document_changes", False))
        operations = get_capability(caps, "workspace.workspace_edit.resource_operations", None) or []
        resources = document_changes and {t.ResourceOperationKind.Create, t.ResourceOperationKind.Delete} <= set(operations)
        return document_changes, resources

    async def apply(self, changes: ChangeSet) -> ApplyResult:
        document_changes, resources = self._supports()
        apply_edit = self.quirks().apply_edit
        resources = resources and apply_edit
        edits: list[tuple[str, PlannedFile]] = []
        through_editor: list[PlannedFile] = []
        on_disk: list[PlannedFile] = []
        for planned in changes.files:
            doc = self._documents.get(planned.path)
            if planned.kind == "update" and doc is not None:
                current = (doc.version, doc.text) == (planned.version, planned.old_text) and planned.from_buffer
                rebased = planned if current else rebase(planned, doc.text, doc.version)
                if rebased is None:
                    return ApplyResult("conflict", f"{planned.rel} changed in the editor since it was read, "
                                                   "where this change would go")
                if apply_edit:
                    edits.append((doc.uri, rebased))
                    continue
                disk = self._on_disk(rebased, doc.text)
                if isinstance(disk, str):
                    return ApplyResult("conflict", disk)
                on_disk.append(disk)
                continue
            if planned.kind == "delete" and doc is not None and doc.text != planned.old_text:
                return ApplyResult("conflict", f"{planned.rel} has unsaved changes in the editor; not deleting it")
            if doc is None and planned.from_buffer:
                return ApplyResult("conflict", f"{planned.rel} was closed in the editor since it was read")
            (through_editor if resources and planned.kind != "update" else on_disk).append(planned)
        problem = self._disk.check(ChangeSet(changes.title, on_disk))
        if problem is None:
            problem = next((ApplyResult("conflict", f"{p.rel} already exists") for p in through_editor
                            if p.kind == "add" and p.path.exists()), None)
        if problem is not None:
            return problem
        if edits or through_editor:
            result = await self._send(changes.title, edits, through_editor, document_changes)
            if result.outcome != "applied":
                return result
        for _, planned in edits:  # before any disk write, so a conflict means nothing was written
            if not await self._documents.wait_for_text(planned.path, planned.new_text, VERIFY_TIMEOUT_S):
                return ApplyResult("conflict", f"the editor reported the edit to {planned.rel} as applied, "
                                               "but the buffer does not hold it")
        self._disk.write(ChangeSet(changes.title, on_disk))
        return ApplyResult("applied")

    async def _send(self, title: str, edits: list[tuple[str, PlannedFile]], resources: list[PlannedFile],
                    document_changes: bool) -> ApplyResult:
        encoding = self._server.workspace.position_encoding or t.PositionEncodingKind.Utf16
        edit = convert.workspace_edit(edits, str(encoding), document_changes,
                                      [(path_to_uri(p.path), p) for p in resources])
        params = t.ApplyWorkspaceEditParams(edit=edit, label=f"Agent: {title}")
        answer = asyncio.ensure_future(self._server.workspace_apply_edit_async(params))
        self._nudger.after_request("workspace/applyEdit")
        shown = asyncio.ensure_future(self._all_shown(edits)) if edits and not resources else None
        waiting = {answer} | ({shown} if shown is not None else set())
        done, _ = await asyncio.wait(waiting, timeout=APPLY_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
        if shown is not None and shown in done and shown.result() and not answer.done():
            self._let_answer_come(answer)  # the buffers show it: applied, whatever comes later
            return ApplyResult("applied")
        if shown is not None:
            shown.cancel()
        if not answer.done():
            self._let_answer_come(answer)
            return ApplyResult("conflict", "the editor did not answer workspace/applyEdit")
        try:
            result = answer.result()
        except Exception as exc:  # the client answered with an error
            return ApplyResult("conflict", f"the editor failed the edit: {exc}")
        if not result.applied:
            return ApplyResult("conflict", result.failure_reason or "the editor refused the edit")
        return ApplyResult("applied")

    async def _all_shown(self, edits: list[tuple[str, PlannedFile]]) -> bool:
        """Waits until every buffer holds its edit (its ``didChange`` came); False never returns
        early, so this only wins the race when the edit really landed."""
        for _, planned in edits:
            if not await self._documents.wait_for_text(planned.path, planned.new_text, APPLY_TIMEOUT_S):
                return False
        return True

    def _let_answer_come(self, answer: asyncio.Future[t.ApplyWorkspaceEditResult]) -> None:
        """A late answer (or error) to an applyEdit we stopped waiting for: logged, never shown."""
        self._late.add(answer)

        def done(future: asyncio.Future[t.ApplyWorkspaceEditResult]) -> None:
            self._late.discard(future)
            if not future.cancelled() and future.exception() is not None:
                log.info("late workspace/applyEdit answer: %s", future.exception())

        answer.add_done_callback(done)

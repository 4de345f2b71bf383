"""A test editor: a pytest-lsp client that behaves like a real editor towards agent-lsp.

It keeps its own copy of each open document, applies ``workspace/applyEdit`` the way VS
Code and Neovim do (refusing a stale ``TextDocumentEdit`` version), sends the matching
``didChange``, and records every ``agent/event``. Tests wait on what it observed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Union

from lsprotocol import types as t
from pygls.workspace import PositionCodec, TextDocument
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import make_test_lsp_client

from lsp_server.convert import to_plain


def agent_lsp_command() -> list[str]:
    found = shutil.which("agent-lsp", path=str(Path(sys.executable).parent)) or shutil.which("agent-lsp")
    return [found] if found else [sys.executable, "-m", "lsp_server"]


def server_env(base_url: str | None, state_dir: Path, *, api_key: str | None = "test-key",
               **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "AGENT_LSP_"))}
    env["AGENT_LSP_STATE_DIR"] = str(state_dir)
    env["AGENT_LSP_HOST_IDLE_TIMEOUT"] = "3"  # each test's agent host goes away soon after it
    if base_url:
        env["ANTHROPIC_BASE_URL"] = base_url
    if api_key:
        env["ANTHROPIC_API_KEY"] = api_key
    env.update(extra)
    return env


def capabilities(kind: str) -> t.ClientCapabilities:
    return client_capabilities({"vscode": "visual-studio-code", "neovim": "neovim"}[kind])


def fix_code_action_union(client: LanguageClient) -> None:
    """lsprotocol 2025.0.0 parses any CodeAction that carries a ``command`` as a Command
    (it checks only for the key). Real editors tell them apart by the type of ``command``."""
    converter = client.protocol._converter

    def hook(obj: Any, _: type) -> t.Command | t.CodeAction:
        if isinstance(obj.get("command"), str):
            return converter.structure(obj, t.Command)
        return converter.structure(obj, t.CodeAction)

    converter.register_structure_hook(t.Command | t.CodeAction, hook)
    converter.register_structure_hook(Union[t.Command, t.CodeAction], hook)


class Editor:
    def __init__(self, client: LanguageClient, root: Path) -> None:
        self.client = client
        self.root = root
        self.docs: dict[str, TextDocument] = {}
        self.events: list[dict[str, Any]] = []
        self.applied: list[t.ApplyWorkspaceEditParams] = []
        self.refuse_edits = False
        self.ignore_edits = False  # answer applied: true but change nothing (a lying client)
        self.message_requests: list[t.ShowMessageRequestParams] = []
        self.message_answer: str | None = None
        self.encoding = "utf-16"
        async def on_apply_edit(params: t.ApplyWorkspaceEditParams) -> t.ApplyWorkspaceEditResult:
            return await self._on_apply_edit(params)

        def on_event(params: Any) -> None:
            self.events.append(to_plain(params))

        def on_message_request(params: t.ShowMessageRequestParams) -> t.MessageActionItem | None:
            self.message_requests.append(params)
            return t.MessageActionItem(title=self.message_answer) if self.message_answer else None

        fix_code_action_union(client)
        client.feature(t.WINDOW_SHOW_MESSAGE_REQUEST)(on_message_request)
        client.feature(t.WORKSPACE_APPLY_EDIT)(on_apply_edit)
        client.feature("agent/event")(on_event)

    # --- lifecycle ---------------------------------------------------------------------------

    @classmethod
    async def launch(cls, root: Path, env: dict[str, str], kind: str = "vscode",
                     options: dict[str, Any] | None = None,
                     caps: t.ClientCapabilities | None = None) -> Editor:
        client = make_test_lsp_client()
        editor = cls(client, root)
        await client.start_io(*agent_lsp_command(), "serve", env=env)
        editor.init_result = await client.initialize_session(t.InitializeParams(
            capabilities=caps or capabilities(kind),
            root_uri=root.as_uri(),
            workspace_folders=[t.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options=options,
        ))
        editor.encoding = str(editor.init_result.capabilities.position_encoding or "utf-16")
        return editor

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.client.shutdown_session(), 10)
        finally:
            await self.client.stop()

    # --- documents ---------------------------------------------------------------------------

    def open(self, rel: str, text: str, language: str = "python") -> str:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        uri = path.as_uri()
        self.docs[uri] = TextDocument(uri, text, version=1, position_codec=PositionCodec(encoding=self.encoding))
        self.client.text_document_did_open(t.DidOpenTextDocumentParams(
            text_document=t.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)))
        return uri

    def type_text(self, uri: str, edits: list[t.TextEdit]) -> None:
        """Change a buffer as the user would, and tell the server."""
        self._apply(uri, edits)

    def text(self, uri: str) -> str:
        return self.docs[uri].source

    def _apply(self, uri: str, edits: list[t.TextEdit]) -> None:
        doc = self.docs[uri]
        ordered = sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True)
        changes = [t.TextDocumentContentChangePartial(range=e.range, text=e.new_text) for e in ordered]
        for change in changes:
            doc.apply_change(change)
        doc.version = (doc.version or 0) + 1
        self.client.text_document_did_change(t.DidChangeTextDocumentParams(
            text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=doc.version),
            content_changes=changes))

    async def _on_apply_edit(self, params: t.ApplyWorkspaceEditParams) -> t.ApplyWorkspaceEditResult:
        self.applied.append(params)
        if self.refuse_edits:
            return t.ApplyWorkspaceEditResult(applied=False, failure_reason="refused by the test")
        if self.ignore_edits:
            return t.ApplyWorkspaceEditResult(applied=True)
        edit = params.edit
        for change in edit.document_changes or []:
            if isinstance(change, t.TextDocumentEdit) and change.text_document.version is not None:
                doc = self.docs[change.text_document.uri]
                if change.text_document.version != doc.version:
                    return t.ApplyWorkspaceEditResult(applied=False, failure_reason="stale version")
        for change in edit.document_changes or []:
            if isinstance(change, t.CreateFile):  # like VS Code: the file appears, opened and empty
                path = Path(change.uri.removeprefix("file://"))
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("")
                self.docs[change.uri] = TextDocument(change.uri, "", version=1,
                                                     position_codec=PositionCodec(encoding=self.encoding))
                self.client.text_document_did_open(t.DidOpenTextDocumentParams(text_document=t.TextDocumentItem(
                    uri=change.uri, language_id="plaintext", version=1, text="")))
            elif isinstance(change, t.DeleteFile):
                Path(change.uri.removeprefix("file://")).unlink()
                if self.docs.pop(change.uri, None) is not None:
                    self.client.text_document_did_close(t.DidCloseTextDocumentParams(
                        text_document=t.TextDocumentIdentifier(uri=change.uri)))
            elif isinstance(change, t.TextDocumentEdit):
                self._apply(change.text_document.uri, list(change.edits))
        for uri, edits in (edit.changes or {}).items():
            self._apply(uri, list(edits))
        return t.ApplyWorkspaceEditResult(applied=True)

    # --- agent events ------------------------------------------------------------------------

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
        async with asyncio.timeout(timeout):
            while not (value := predicate()):
                await asyncio.sleep(0.01)
        return value

    async def wait_event(self, kind: str, where: Callable[[dict[str, Any]], bool] = lambda e: True,
                         timeout: float = 15.0) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            return next((e for e in self.of_type(kind) if where(e)), None)
        return await self.wait_for(find, timeout)

    async def request(self, method: str, params: dict[str, Any]) -> Any:
        return to_plain(await self.client.protocol.send_request_async(method, params))

    async def command(self, command: t.Command | str, *arguments: Any) -> Any:
        if isinstance(command, t.Command):
            name, args = command.command, list(command.arguments or [])
        else:
            name, args = command, list(arguments)
        result = await self.client.workspace_execute_command_async(
            t.ExecuteCommandParams(command=name, arguments=args))
        return to_plain(result)

    async def code_actions(self, uri: str, line: int, diagnostics: list[t.Diagnostic] | None = None) -> list[t.CodeAction]:
        result = await self.client.text_document_code_action_async(t.CodeActionParams(
            text_document=t.TextDocumentIdentifier(uri=uri),
            range=t.Range(start=t.Position(line=line, character=0), end=t.Position(line=line, character=0)),
            context=t.CodeActionContext(diagnostics=diagnostics or [])))
        return [a for a in result or [] if isinstance(a, t.CodeAction)]

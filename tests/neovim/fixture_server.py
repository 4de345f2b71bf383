"""A tiny language server for the Neovim intel test (issue 20): it lints ``undefined_name``
and answers definition with the line of ``def add`` in the workspace's calc.py. Run by the
test's Neovim as a second language server next to agent-lsp."""

from __future__ import annotations

import os

from lsprotocol import types as t
from pygls.lsp.server import LanguageServer

server = LanguageServer("fixture-lint", "0.1.0")


def lint(uri: str) -> None:
    doc = server.workspace.get_text_document(uri)
    found = [t.Diagnostic(range=t.Range(start=t.Position(line=n, character=line.index("undefined_name")),
                                        end=t.Position(line=n, character=line.index("undefined_name") + 14)),
                          message='"undefined_name" is not defined', severity=t.DiagnosticSeverity.Error,
                          source="fixture-lint", code="F821")
             for n, line in enumerate(doc.lines) if "undefined_name" in line]
    server.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=uri, diagnostics=found,
                                                                        version=doc.version))


@server.feature(t.TEXT_DOCUMENT_DID_OPEN)
def did_open(params: t.DidOpenTextDocumentParams) -> None:
    lint(params.text_document.uri)


@server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
def did_change(params: t.DidChangeTextDocumentParams) -> None:
    lint(params.text_document.uri)


@server.feature(t.TEXT_DOCUMENT_DEFINITION)
def definition(params: t.DefinitionParams) -> list[t.Location]:
    root = server.workspace.root_path or os.getcwd()
    path = os.path.join(root, "calc.py")
    with open(path, encoding="utf-8") as file:
        for n, line in enumerate(file):
            if line.startswith("def add"):
                where = t.Range(start=t.Position(line=n, character=4), end=t.Position(line=n, character=7))
                return [t.Location(uri="file://" + path, range=where)]
    return []


if __name__ == "__main__":
    server.start_io()

"""What this particular client can and cannot do, and the workarounds that follow from it.

``identify`` reads the ``initialize`` params once (pure, unit-tested): who the client is
(``clientInfo`` where sent; Emacs 28's eglot 1.9 sends none, so it is recognized by its
shape), whether it takes ``workspace/applyEdit``, opens documents on
``window/showDocument``, shows ``$/progress``. ``Nudger`` works around the Emacs 28 stall:
its jsonrpc drops a server request that arrives in the same read as the reply to
``workspace/executeCommand`` until the next message comes, so after each request we send
it a harmless ``window/logMessage`` (eglot logs it in its events buffer, nothing on screen).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from lsprotocol import types as t
from pygls.capabilities import get_capability

NUDGE_DELAYS_S = (0.2, 0.6, 1.5)  # measured: a notification 0.3 s after unsticks Emacs 28


@dataclass(frozen=True)
class ClientQuirks:
    name: str  # "Neovim", "Eglot", "unknown"
    apply_edit: bool = True  # workspace.applyEdit: ALE sends false and never answers one
    show_document: bool = False  # window.showDocument.support
    work_done_progress: bool = False  # window.workDoneProgress
    nudge_after_requests: bool = False  # the Emacs 28 stall


def identify(params: t.InitializeParams | None) -> ClientQuirks:
    """The quirks of the client that sent ``params`` (an unknown client gets safe defaults)."""
    if params is None:
        return ClientQuirks("unknown")
    caps = params.capabilities
    apply_edit = bool(get_capability(caps, "workspace.apply_edit", False))
    show_document = bool(get_capability(caps, "window.show_document.support", False))
    progress = bool(get_capability(caps, "window.work_done_progress", False))
    info = params.client_info
    if info is not None:
        name = info.name
    elif _looks_like_eglot(params):
        name = "Eglot"
    else:
        name = "unknown"
    # Eglot by any name, and any client that does not say who it is: a logMessage costs nothing
    nudge = name.lower().startswith(("eglot", "emacs")) or info is None
    return ClientQuirks(name, apply_edit, show_document, progress, nudge)


def _looks_like_eglot(params: t.InitializeParams) -> bool:
    """eglot 1.9: no clientInfo, a rootPath, workspace.configuration and willSaveWaitUntil."""
    caps = params.capabilities
    return (params.root_path is not None
            and bool(get_capability(caps, "workspace.configuration", False))
            and bool(get_capability(caps, "text_document.synchronization.will_save_wait_until", False)))


class Nudger:
    """After each server→client request, a few harmless notifications for clients that need
    them (``ClientQuirks.nudge_after_requests``); nothing for the others."""

    def __init__(self, quirks: Callable[[], ClientQuirks], notify: Callable[[str], None]) -> None:
        self._quirks = quirks
        self._notify = notify

    def after_request(self, what: str) -> None:
        if not self._quirks().nudge_after_requests:
            return
        loop = asyncio.get_running_loop()
        for delay in NUDGE_DELAYS_S:
            loop.call_later(delay, self._notify, f"agent-lsp: sent {what}")


def log_notifier(server: object) -> Callable[[str], None]:
    """``window/logMessage`` (type Log) through a pygls server."""

    def notify(message: str) -> None:
        server.window_log_message(t.LogMessageParams(type=t.MessageType.Log, message=message))  # type: ignore[attr-defined]

    return notify

"""The agent harness's public API: the only names front-ends (LSP, CLI, host, ACP) may use.

The harness knows nothing of LSP or ACP. A front-end opens a ``Harness`` on a ``Workspace``
(with the editor's ``Documents`` and a ``ChangeApplier`` of its own when it has an editor) and
drives it: threads (``start_thread``, ``list_threads``, ``resume``, ``subscribe``,
``on_event``), turns (``start_turn`` → ``TurnHandle``, ``interrupt``, ``wait``), approvals
(``pending_approvals``, ``respond``), settings (``Settings``, ``resolve_settings``) and the
protocol's data types (``agent.protocol``, ``agent.events``, ``agent.params``).
``tests/test_layering.py`` checks that front-ends import nothing else from ``agent``.

Names load on first use (PEP 562), so importing ``agent`` (for ``METHODS``, say) costs
nothing on the path to ``initialize``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_PROTOCOL = (
    "AgentMessageItem", "Approval", "ApprovalSource", "CommandExecutionItem", "CompactionItem", "Decision",
    "DiagnosticPart", "FileChange", "FileChangeItem", "InputPart", "Item", "Location", "PermissionMode", "Position",
    "Range", "ReasoningItem", "SelectionPart", "SubagentItem", "TextPart", "Thread", "Todo", "TodoListItem",
    "ToolCallItem", "Turn", "Usage", "UserMessageItem",
)
_EVENTS = (
    "EVENT_ADAPTER", "ApprovalRequestedEvent", "ApprovalResolvedEvent", "CacheMiss", "ClientAttachedEvent",
    "ClientDetachedEvent", "Event", "ItemCompletedEvent", "ItemDeltaEvent", "ItemStartedEvent",
    "SubagentProgressEvent", "ThreadCompactedEvent", "ThreadStartedEvent", "TurnCompletedEvent", "TurnStartedEvent",
    "TurnUsageEvent",
)
_PARAMS = (
    "ApprovalRespondParams", "EditorDiagnosticsParams", "EditorQueryParams", "ThreadCompactParams",
    "ThreadListParams", "ThreadMemoryParams", "ThreadResumeParams", "ThreadStartParams", "ThreadSubscribeParams",
    "ThreadUnsubscribeParams", "TurnInterruptParams", "TurnStartParams", "TurnUndoParams", "TurnUndoResult",
)

_EXPORTS: dict[str, str] = {
    **{name: "agent.protocol" for name in _PROTOCOL},
    **{name: "agent.events" for name in _EVENTS},
    **{name: "agent.params" for name in _PARAMS},
    "Harness": "agent.engine.harness", "NoDirectInput": "agent.engine.harness", "NothingToCompact": "agent.engine.harness", "Resumed": "agent.engine.harness",
    "TurnBusy": "agent.engine.harness",
    "CancelScope": "agent.engine.turns", "TurnHandle": "agent.engine.turns", "TurnReport": "agent.engine.turns",
    "HostClient": "agent.host.client", "HostMismatch": "agent.host.client", "LocalAgent": "agent.host.local",
    "stop_host": "agent.host.client", "host_status": "agent.host.client", "RemoteError": "agent.host.rpc", "HostPlace": "agent.host.place", "start_early": "agent.host.early",
    "Store": "agent.store.sqlite", "UnknownThread": "agent.store.sqlite", "default_state_dir": "agent.store.sqlite",
    "UnknownApproval": "agent.engine.approvals",
    "UndoError": "agent.engine.undo", "FileUndo": "agent.engine.undo", "HunkError": "agent.files.hunks",
    "EditorSight": "agent.files.sight",
    "Documents": "agent.files.workspace", "OpenDocument": "agent.files.workspace", "ToolError": "agent.files.workspace",
    "Workspace": "agent.files.workspace", "check_uri": "agent.files.workspace", "path_to_uri": "agent.files.workspace",
    "uri_to_path": "agent.files.workspace",
    "OPTIONS": "agent.config", "Settings": "agent.config", "api_key_present": "agent.config",
    "apply_options": "agent.config", "resolve_settings": "agent.config",
    "ApplyResult": "agent.files.changes", "ChangeApplier": "agent.files.changes", "ChangeSet": "agent.files.changes",
    "DiskApplier": "agent.files.changes", "PlannedFile": "agent.files.changes", "changed_lines": "agent.files.changes",
    "split_lines": "agent.files.changes",
    "rebase": "agent.files.patching",
    "ThreadState": "agent.context.thread_state",
    "command_title": "agent.engine.titles", "recap": "agent.engine.titles", "item_title": "agent.engine.titles", "shorten": "agent.engine.titles",
    "COMMANDS": "agent.methods", "COMMAND_NAMES": "agent.methods", "METHODS": "agent.methods",
    "PROTOCOL_VERSION": "agent.methods",
    "NO_KEY_MESSAGE": "agent.model.base",
    "prewarm": "agent.model.anthropic_api",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'agent' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # the same names, for type checkers and editors
    from agent.model.anthropic_api import prewarm
    from agent.engine.approvals import UnknownApproval
    from agent.engine.undo import FileUndo, UndoError
    from agent.files.hunks import HunkError
    from agent.files.changes import (ApplyResult, ChangeApplier, ChangeSet, DiskApplier, PlannedFile,
                               changed_lines, split_lines)
    from agent.config import OPTIONS, Settings, api_key_present, apply_options, resolve_settings
    from agent.engine.harness import Harness, NoDirectInput, NothingToCompact, Resumed, TurnBusy
    from agent.host.client import HostClient, HostMismatch, host_status, stop_host
    from agent.host.local import LocalAgent
    from agent.host.early import start_early
    from agent.host.place import HostPlace
    from agent.host.rpc import RemoteError
    from agent.methods import COMMAND_NAMES, COMMANDS, METHODS, PROTOCOL_VERSION
    from agent.model.base import NO_KEY_MESSAGE
    from agent.files.patching import rebase
    from agent.files.sight import EditorSight
    from agent.events import *  # noqa: F403
    from agent.params import *  # noqa: F403
    from agent.protocol import *  # noqa: F403
    from agent.store.sqlite import Store, UnknownThread, default_state_dir
    from agent.context.thread_state import ThreadState
    from agent.engine.titles import command_title, recap, item_title, shorten
    from agent.engine.turns import CancelScope, TurnHandle, TurnReport
    from agent.files.workspace import (Documents, OpenDocument, ToolError, Workspace, check_uri, path_to_uri,
                                 uri_to_path)

"""The agent harness's public API: the only names front-ends (LSP, CLI, host, ACP) may use.

The harness knows nothing of LSP or ACP. A front-end opens a ``Harness`` on a ``Workspace``
(with the editor's ``Documents`` and a ``ChangeApplier`` of its own when it has an editor) and
drives it: threads (``start_thread``, ``list_threads``, ``resume``, ``subscribe``,
``on_event``), turns (``start_turn`` → ``TurnHandle``, ``interrupt``, ``wait``), approvals
(``pending_approvals``, ``respond``), settings (``Settings``, ``resolve_settings``) and the
protocol's data types (``agent.protocol``). ``tests/test_layering.py`` checks that front-ends
import nothing else from ``agent``.

Names load on first use (PEP 562), so importing ``agent`` (for ``METHODS``, say) costs
nothing on the path to ``initialize``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_PROTOCOL = (
    "AgentMessageItem", "Approval", "ApprovalRequestedEvent", "ApprovalResolvedEvent", "ApprovalRespondParams",
    "ApprovalSource", "CacheMiss", "CommandExecutionItem", "CompactionItem", "Decision", "DiagnosticPart", "Event",
    "EVENT_ADAPTER", "FileChange", "FileChangeItem", "InputPart", "Item", "ItemCompletedEvent", "ItemDeltaEvent",
    "ItemStartedEvent", "Location", "PermissionMode", "Position", "Range", "ReasoningItem", "SelectionPart",
    "SubagentItem", "TextPart", "Thread", "ThreadCompactParams", "ThreadSubscribeParams", "ThreadUnsubscribeParams", "ThreadCompactedEvent", "ThreadListParams", "ThreadResumeParams",
    "ThreadStartParams", "ThreadStartedEvent", "Todo", "TodoListItem", "ToolCallItem", "Turn",
    "TurnCompletedEvent", "TurnInterruptParams", "TurnStartParams", "TurnStartedEvent", "TurnUsageEvent", "Usage",
    "UserMessageItem",
)

_EXPORTS: dict[str, str] = {
    **{name: "agent.protocol" for name in _PROTOCOL},
    "Harness": "agent.harness", "NothingToCompact": "agent.harness", "Resumed": "agent.harness",
    "TurnBusy": "agent.harness",
    "CancelScope": "agent.turns", "TurnHandle": "agent.turns", "TurnReport": "agent.turns",
    "HostClient": "agent.host.client", "HostMismatch": "agent.host.client", "LocalAgent": "agent.host.client",
    "stop_host": "agent.host.client", "host_status": "agent.host.client", "RemoteError": "agent.host.rpc", "HostPlace": "agent.host.place",
    "Store": "agent.store", "UnknownThread": "agent.store", "default_state_dir": "agent.store",
    "UnknownApproval": "agent.approvals",
    "Documents": "agent.workspace", "OpenDocument": "agent.workspace", "ToolError": "agent.workspace",
    "Workspace": "agent.workspace", "check_uri": "agent.workspace", "path_to_uri": "agent.workspace",
    "uri_to_path": "agent.workspace",
    "OPTIONS": "agent.config", "Settings": "agent.config", "api_key_present": "agent.config",
    "apply_options": "agent.config", "resolve_settings": "agent.config",
    "ApplyResult": "agent.changes", "ChangeApplier": "agent.changes", "ChangeSet": "agent.changes",
    "DiskApplier": "agent.changes", "PlannedFile": "agent.changes", "changed_lines": "agent.changes",
    "split_lines": "agent.changes",
    "rebase": "agent.patching",
    "ThreadState": "agent.thread_state",
    "command_title": "agent.titles", "item_title": "agent.titles", "shorten": "agent.titles",
    "COMMANDS": "agent.methods", "COMMAND_NAMES": "agent.methods", "METHODS": "agent.methods",
    "PROTOCOL_VERSION": "agent.methods",
    "NO_KEY_MESSAGE": "agent.model",
    "prewarm": "agent.anthropic_model",
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
    from agent.anthropic_model import prewarm
    from agent.approvals import UnknownApproval
    from agent.changes import (ApplyResult, ChangeApplier, ChangeSet, DiskApplier, PlannedFile,
                               changed_lines, split_lines)
    from agent.config import OPTIONS, Settings, api_key_present, apply_options, resolve_settings
    from agent.harness import Harness, NothingToCompact, Resumed, TurnBusy
    from agent.host.client import HostClient, HostMismatch, LocalAgent, host_status, stop_host
    from agent.host.place import HostPlace
    from agent.host.rpc import RemoteError
    from agent.methods import COMMAND_NAMES, COMMANDS, METHODS, PROTOCOL_VERSION
    from agent.model import NO_KEY_MESSAGE
    from agent.patching import rebase
    from agent.protocol import *  # noqa: F403
    from agent.store import Store, UnknownThread, default_state_dir
    from agent.thread_state import ThreadState
    from agent.titles import command_title, item_title, shorten
    from agent.turns import CancelScope, TurnHandle, TurnReport
    from agent.workspace import (Documents, OpenDocument, ToolError, Workspace, check_uri, path_to_uri,
                                 uri_to_path)

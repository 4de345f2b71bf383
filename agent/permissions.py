"""Permission modes (PROTOCOL.md section 8) as a pure decision over a tool call.

``PermissionPolicy.check`` answers ``Allow``, ``Deny`` or ``Ask``; the dispatcher acts on
it. Session grants ("approve for session") live here, per thread, for this process only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from agent.protocol import PermissionMode

ActionKind = Literal["read", "edit", "command"]


@dataclass(frozen=True)
class Allow:
    why: str = "policy"


@dataclass(frozen=True)
class Deny:
    message: str


@dataclass(frozen=True)
class Ask:
    pass


Verdict = Allow | Deny | Ask


def grant_key(kind: ActionKind, detail: str = "") -> str:
    """What "this kind of action" means for a session grant: every edit, or commands that
    start with the same program."""
    if kind == "command":
        program = detail.strip().split(maxsplit=1)[0] if detail.strip() else ""
        return f"command:{program}"
    return kind


@dataclass
class PermissionPolicy:
    mode: PermissionMode = "ask"
    _session: dict[str, set[str]] = field(default_factory=dict)

    def check(self, thread_id: str, kind: ActionKind, detail: str = "") -> Verdict:
        if kind == "read" or self.mode == "bypass":
            return Allow()
        if self.mode == "readOnly":
            what = "edit files" if kind == "edit" else "run commands"
            return Deny(
                f"Permission mode is readOnly: the agent may not {what}. Describe the change "
                "instead, or ask the user to switch the permission mode."
            )
        if kind == "edit" and self.mode == "acceptEdits":
            return Allow()
        if grant_key(kind, detail) in self._session.get(thread_id, set()):
            return Allow("session")
        return Ask()

    def grant_session(self, thread_id: str, kind: ActionKind, detail: str = "") -> None:
        self._session.setdefault(thread_id, set()).add(grant_key(kind, detail))

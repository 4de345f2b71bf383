"""What the harness keeps about a thread outside the model's context: a typed ``ThreadState``.

The system prompt (built once, so every request of the thread starts with the same bytes), the
todo list, the plan, the files the agent read and changed (path, when, how), the size of the
context as last measured (``agent.context.budget``), and the session grants ("approve for session", valid only in the process that granted them, as PROTOCOL.md
section 3 says). Compaction re-injects this state verbatim from here, never from a summary.
It is stored as JSON beside the thread (``threads.state``) and changed only through
``Store.update_state``, a read-modify-write in one transaction.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.protocol import Todo

FileKind = Literal["read", "add", "update", "delete"]
MAX_FILES = 200


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FileTouch(BaseModel):
    """The last time the agent read or changed a file, and how."""

    model_config = ConfigDict(frozen=True)

    path: str
    kind: FileKind
    at: str = Field(default_factory=_now)


class SessionNote(BaseModel):
    """The background observer's note on a thread, and how much of the thread it covers."""

    note: str
    updated_at_seq: int = 0  # the thread's last seq when the note was stored
    messages: int = 0  # transcript messages the note was written from
    tokens: int = 0  # the context's size (input tokens) then


class SessionGrant(BaseModel):
    """An "approve for session" answer: this kind of action, for this process's lifetime."""

    model_config = ConfigDict(frozen=True)

    key: str
    owner: str  # the granting process's identity (``pid:starttime``)


class ThreadState(BaseModel):
    model_config = ConfigDict(extra="ignore")  # states written by older versions load

    system: str | None = None
    todos: list[Todo] = Field(default_factory=list)
    plan: str | None = None
    files: list[FileTouch] = Field(default_factory=list)  # most recent last, one per path
    grants: list[SessionGrant] = Field(default_factory=list)
    measured_tokens: int | None = None  # the last request's input, as the API counted it
    measured_messages: int | None = None  # how many transcript messages that request held
    memory: SessionNote | None = None  # the background observer's session note
    forked: bool = False  # a subagent started from its parent's request: it keeps the parent's exact tools

    def touched(self, path: str, kind: FileKind) -> ThreadState:
        """This state with ``path`` moved to the end as read or changed now."""
        kept = [f for f in self.files if f.path != path]
        # a read after a change does not hide that the agent changed the file
        previous = next((f for f in self.files if f.path == path), None)
        if kind == "read" and previous is not None and previous.kind != "read":
            kind = previous.kind
        files = (kept + [FileTouch(path=path, kind=kind)])[-MAX_FILES:]
        return self.model_copy(update={"files": files})

    def granted(self, key: str, owner: str) -> bool:
        return any(g.key == key and g.owner == owner for g in self.grants)

    def grant(self, key: str, owner: str) -> ThreadState:
        if self.granted(key, owner):
            return self
        return self.model_copy(update={"grants": [*self.grants, SessionGrant(key=key, owner=owner)]})

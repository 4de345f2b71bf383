"""Undo and redo of an agent turn's file changes (``agent/turn/undo``, ``agent/turn/redo``).

``Undoer.undo`` reverts what a turn wrote (journaled by ``ChangeFlow`` in
``agent.store.changes``), newest change first, three-way (``agent.files.hunks.three_way``):
where a file still holds what the agent wrote, it goes back to its text before; where someone
changed it since, only the agent's hunks that do not meet those changes are reverted and the
rest is kept and named ("partly"), or nothing ("skipped"). A line changed after the agent is
never overwritten. A created file is deleted only when unchanged; a deleted one is recreated.
The result lands as one ``ChangeSet`` through the harness's ``ChangeApplier`` (the editor's
buffers with versioned edits, disk otherwise), as a ``fileChange`` item of a small turn of its
own, journaled as the undo; the model is told in the thread's next user message. ``redo``
reverts that undo's own changes by the same rules. Commands' effects are not tracked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from agent.files.changes import ChangeSet, PlannedFile
from agent.files.hunks import HunkError, check_hunks, describe_lines, three_way
from agent.engine.items import TurnScope
from agent.events import TurnCompletedEvent, TurnStartedEvent
from agent.protocol import FileChangeItem, Turn, Usage
from agent.store.changes import JournaledChange, LandedFile
from agent.store.sqlite import new_id, owner_alive

if TYPE_CHECKING:
    from agent.engine.harness import Harness
    from agent.store.records import ApprovalRecord

Outcome = Literal["reverted", "partly", "skipped"]
COMMANDS_NOTE = "Changes made by commands the agent ran are not tracked and were not undone."


class UndoError(ValueError):
    """An undo or redo that cannot be done as asked (nothing to undo, already undone)."""


@dataclass(frozen=True)
class FileUndo:
    path: str
    outcome: Outcome
    reason: str | None = None

    def to_wire(self) -> dict[str, str]:
        return {"path": self.path, "outcome": self.outcome, **({"reason": self.reason} if self.reason else {})}


@dataclass
class _Plan:
    path: str
    start: str | None  # the file's text now (None: missing)
    text: str | None
    applied: int = 0
    total: int = 0
    problem: str | None = None
    kept: str | None = None

    def result(self) -> FileUndo:
        if self.problem is not None and self.applied == 0:
            return FileUndo(self.path, "skipped", self.problem)
        if self.applied < self.total or self.problem is not None:
            return FileUndo(self.path, "partly", self.problem or self.kept)
        return FileUndo(self.path, "reverted", self.kept)


class Undoer:
    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.store = harness.store

    def last_changed_turn(self, thread_id: str) -> str:
        turns = [turn for turn, undone in self.store.changed_turns(thread_id) if not undone]
        if not turns:
            raise UndoError(f"no turn of thread {thread_id} has file changes left to undo")
        return turns[-1]

    def last_undone_turn(self, thread_id: str) -> str:
        turn = self.store.last_undone(thread_id)
        if turn is None:
            raise UndoError(f"no turn of thread {thread_id} is undone; there is nothing to redo")
        return turn

    async def undo(self, thread_id: str, turn_id: str | None = None) -> list[FileUndo]:
        self.harness.get_thread(thread_id)
        turn_id = turn_id or self.last_changed_turn(thread_id)
        records = [c for c in self.store.turn_changes(turn_id) if c.source == "agent"]
        if not records or records[0].thread_id != thread_id:
            raise UndoError(f"turn {turn_id} of thread {thread_id} changed no files this server can undo "
                            "(only changes made by the agent's file tools are tracked)")
        previous = self.store.undo_of(turn_id)
        if previous is not None and previous[1]:
            raise UndoError(f"turn {turn_id} is already undone; redo it with agent/turn/redo")
        results, undo_turn = await self._revert(thread_id, records, f"Undo: {records[0].title}", "undo")
        if undo_turn is not None:
            self.store.mark_undone(thread_id, turn_id, undo_turn, True)
            self.store.add_undo_note(thread_id, _note("undid", turn_id, records[0].title, results))
        return results

    async def redo(self, thread_id: str, turn_id: str | None = None) -> list[FileUndo]:
        self.harness.get_thread(thread_id)
        turn_id = turn_id or self.last_undone_turn(thread_id)
        undone = self.store.undo_of(turn_id)
        if undone is None or not undone[1]:
            raise UndoError(f"turn {turn_id} is not undone; only an undone turn can be redone")
        records = self.store.turn_changes(undone[0])
        title = next((c.title for c in self.store.turn_changes(turn_id)), "changes")
        results, redo_turn = await self._revert(thread_id, records, f"Redo: {title}", "redo")
        if redo_turn is not None:
            self.store.mark_undone(thread_id, turn_id, undone[0], False)
            self.store.add_undo_note(thread_id, _note("redid", turn_id, title, results))
        return results

    async def _revert(self, thread_id: str, records: list[JournaledChange], title: str,
                      source: Literal["undo", "redo"]) -> tuple[list[FileUndo], str | None]:
        """Revert ``records`` (newest first) against the files now; returns each file's outcome
        and the turn that landed it (None when nothing changed)."""
        workspace = self.harness.workspace
        plans: dict[str, _Plan] = {}
        for record in reversed(records):
            change = record.file
            plan = plans.get(change.path)
            if plan is None:
                now = workspace.read(workspace.root / change.path)
                start = now.text if now.exists else None
                plan = plans[change.path] = _Plan(change.path, start, start)
            _revert_one(plan, change)
        files: list[PlannedFile] = []
        for plan in plans.values():
            if plan.text == plan.start:
                continue
            path = workspace.root / plan.path
            now = workspace.read(path)
            kind: Literal["add", "update", "delete"] = (
                "add" if plan.start is None else "delete" if plan.text is None else "update")
            files.append(PlannedFile(path=path, rel=plan.path, kind=kind, old_text=plan.start or "",
                                     new_text=plan.text or "", version=now.version, from_buffer=now.from_buffer))
        results = [plan.result() for plan in plans.values()]
        if not files:
            return results, None
        changes = ChangeSet(title=title, files=files)
        turn = self._begin(thread_id)
        scope = TurnScope(thread_id, turn.id, self.harness.log.emit, workspace.secrets)
        status = "completed"
        try:
            with scope.item(FileChangeItem(id=scope.new_item_id(), changes=changes.to_protocol())) as handle:
                outcome = await self.harness.changes.applier.apply(changes)
                if outcome.outcome != "applied":
                    handle.finish(status="failed", outcome="conflict")
                    status = "failed"
                    reason = f"nothing was changed: {outcome.detail or 'a file changed while undoing'}; try again"
                    return [FileUndo(r.path, "skipped", reason) for r in results], None
                handle.finish(status="completed", outcome="applied")
                landed = [LandedFile(p.rel, p.kind, None if p.kind == "add" else p.old_text,
                                     None if p.kind == "delete" else p.new_text) for p in files]
                self.store.record_changes(thread_id, turn.id, handle.id, title, landed, source)
        except BaseException:
            status = "failed"
            raise
        finally:
            self.harness.log.emit(TurnCompletedEvent(
                thread_id=thread_id, turn=turn.model_copy(update={"status": status}), usage=Usage()))
        return results, turn.id

    def _begin(self, thread_id: str) -> Turn:
        """A turn of its own for the undo; refused while another turn runs on the thread."""
        from agent.engine.harness import TurnBusy

        running = self.harness.running_turn(thread_id)
        if running is not None:
            raise TurnBusy(running.id)
        turn = Turn(id=new_id("turn"), thread_id=thread_id, status="running")
        started = self.harness.log.emit_turn_start(TurnStartedEvent(thread_id=thread_id, turn=turn), owner_alive)
        if isinstance(started, str):
            raise TurnBusy(started)
        return turn


def _revert_one(plan: _Plan, change: LandedFile) -> None:
    """Take ``change`` back out of ``plan.text`` where that is safe; note what was kept."""
    plan.total += 1
    now = plan.text
    if change.after is None:  # the agent deleted the file
        if now is None:
            plan.text = change.before
            plan.applied += 1
        else:
            plan.problem = "not recreated: a file exists at this path again"
        return
    if now is None:
        if change.before is None:
            plan.applied += 1  # created by the agent and already gone
        else:
            plan.problem = "not restored: the file was deleted since"
        return
    if change.before is None:  # the agent created the file
        if now == change.after:
            plan.text = None
            plan.applied += 1
        else:
            plan.problem = "not deleted: the file was edited since it was created"
        return
    merged = three_way(change.after, change.before, now)
    plan.text = merged.text
    plan.total += max(merged.total, 1) - 1
    plan.applied += merged.applied if merged.total else 1
    if merged.kept:
        where = describe_lines(merged.kept)
        if merged.applied == merged.total:
            plan.kept = f"kept {where}: edited since, apart from the agent's changes"
        elif merged.applied:
            plan.problem = f"kept {where}: edited since the agent changed them"
        else:
            plan.problem = f"nothing reverted: {where} the agent changed were edited since"
    elif merged.applied < merged.total:
        plan.problem = "kept the agent's changes next to lines deleted since"


def _note(verb: str, turn_id: str, title: str, results: list[FileUndo]) -> str:
    parts: list[str] = []
    for outcome, words in (("reverted", "reverted"), ("partly", "partly reverted"), ("skipped", "left as is")):
        chosen = [f"{r.path}" + (f" ({r.reason})" if r.reason and outcome != "reverted" else "")
                  for r in results if r.outcome == outcome]
        if chosen:
            parts.append(f"{words} {', '.join(chosen)}")
    action = "undo" if verb == "undid" else "redo"
    return (f"[The user {verb} the file changes of an earlier turn ({turn_id}: {title}): {'; '.join(parts)}. "
            f"Read files again before changing them. {COMMANDS_NOTE if action == 'undo' else ''}]").replace(" ]", "]")


def check_approved_hunks(record: ApprovalRecord | None, decision: str, hunks: list[int]) -> None:
    """``hunks`` of an approval answer must go with ``approve`` and name hunks of its diff."""
    if decision != "approve":
        raise HunkError(f"hunks go only with decision 'approve' (got {decision!r}); send the decision without hunks")
    if record is None:
        return  # unknown: the broker says so
    if record.approval.kind != "fileChange" or not record.approval.diff:
        raise HunkError("hunks apply only to a file change's approval; this one has no diff")
    check_hunks(record.approval.diff, hunks)

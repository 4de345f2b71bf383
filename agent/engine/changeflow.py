"""A planned change's whole way to the files: show → permit → apply → record.

``ChangeFlow.run`` takes a ``ChangeSet`` that a tool planned (nothing written yet), shows it
as a ``fileChange`` item with its diff, asks the ``Gate`` (an approval that names every file
it touches, with their ranges), lands it through the ``ChangeApplier`` (the editor's buffers
or disk, all or nothing, a conflict rather than an overwrite), and records in the thread's
state which files changed and how. Tools call it through the dispatcher; undo and other
front-ends can call it with any change set, outside a tool call.
"""

from __future__ import annotations

from collections.abc import Callable

from agent.files.changes import ChangeApplier, ChangeSet
from agent.files.hunks import HunkChoice, select_hunks
from agent.engine.gate import Gate
from agent.engine.items import TurnScope
from agent.policy.permissions import Action
from agent.protocol import Approval, FileChangeItem, Location
from agent.store.changes import LandedFile
from agent.store.sqlite import new_id
from agent.files.workspace import FileText, Workspace

CONFLICT_ADVICE = "Nothing was written. Read the file again and redo the change against its current text."


class ChangeFlow:
    def __init__(self, workspace: Workspace, gate: Gate, applier: ChangeApplier,
                 record: Callable[[str, ChangeSet], None],
                 journal: Callable[[str, str, str, str, list[LandedFile]], None] | None = None) -> None:
        self.workspace = workspace
        self.gate = gate
        self.applier = applier
        self._record = record
        self._journal = journal  # (thread, turn, item, title, files): what undo reverts

    async def run(self, scope: TurnScope, changes: ChangeSet, tool: str) -> tuple[str, bool]:
        """Land ``changes`` as ``tool`` would; returns the model's result text and whether it
        is an error. A refusal raises ``Refused`` (the item is then declined)."""
        with scope.item(FileChangeItem(id=scope.new_item_id(), changes=changes.to_protocol())) as handle:
            action = Action(tool, "edit", tuple(f.rel for f in changes.files))
            asked: list[Approval] = []
            await self.gate.permit(scope, action, lambda: _kept(asked, self.approval(scope.turn_id, handle.id, changes)))
            chosen = self.gate.broker.take_hunks(asked[0].id) if asked else None
            choice = select_hunks(changes, chosen) if chosen is not None else None
            if choice is not None:
                if not choice.changes.files:
                    handle.finish(status="declined", outcome="rejected")
                    return f"The user rejected every hunk of this change; nothing was written. {_hunks(choice)}", True
                changes = choice.changes
            texts_before = {f.rel: self.workspace.read(f.path) for f in changes.files}
            before = self.workspace.sight.snapshot(f.path for f in changes.files)  # the editor's view, to compare
            try:
                result = await self.applier.apply(changes)
            except OSError as exc:
                handle.finish(status="failed", outcome="conflict")
                return f"The change could not be written: {exc.strerror or exc}. {CONFLICT_ADVICE}", True
            if result.outcome != "applied":
                handle.finish(status="failed", outcome="conflict")
                return f"Conflict: {result.detail or 'the file changed since it was read'}. {CONFLICT_ADVICE}", True
            handle.finish(status="completed", outcome="applied",
                          **({"changes": changes.to_protocol()} if choice is not None else {}))
        self._record(scope.thread_id, changes)
        if self._journal is not None:
            self._journal(scope.thread_id, scope.turn_id, handle.id, changes.title, self._landed(changes, texts_before))
        seen = await self.workspace.sight.after_edit([(f.path, f.rel, f.version) for f in changes.files
                                                      if f.kind != "delete"], before)  # "" without an editor
        done = f"Applied: {changes.title} ({', '.join(f.rel for f in changes.files)}).{seen}"
        return (f"{done} {_hunks(choice)}" if choice is not None else done), False

    def _landed(self, changes: ChangeSet, before: dict[str, FileText]) -> list[LandedFile]:
        """Each file's text before and after, as the applier left it (a rebased edit included)."""
        landed: list[LandedFile] = []
        for planned in changes.files:
            was, now = before[planned.rel], self.workspace.read(planned.path)
            landed.append(LandedFile(planned.rel, planned.kind, was.text if was.exists else None,
                                     now.text if now.exists else None))
        return landed

    def approval(self, turn_id: str, item_id: str, changes: ChangeSet) -> Approval:
        """The question for a person: the title, the whole diff, and every place it touches."""
        places = [Location(uri=self.workspace.uri_for(f.path), range=f.changed_range()) for f in changes.files]
        return Approval(id=new_id("apr"), turn_id=turn_id, item_id=item_id, kind="fileChange",
                        title=changes.title, diff=changes.diff, uri=places[0].uri, range=places[0].range,
                        locations=places)


def _kept(asked: list[Approval], approval: Approval) -> Approval:
    asked.append(approval)
    return approval


def _hunks(choice: HunkChoice) -> str:
    """For the model: which hunks the user took and which not, so it does not redo them blindly."""
    def listed(hunks: list[tuple[int, str]]) -> str:
        return "; ".join(f"hunk {i + 1} ({label})" for i, label in hunks) or "none"

    return (f"The user approved only some hunks. Applied: {listed(choice.applied)}. Rejected, not written: "
            f"{listed(choice.rejected)}. Do not make the rejected changes again unless the user asks.")

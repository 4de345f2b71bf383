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
from agent.engine.gate import Gate
from agent.engine.items import TurnScope
from agent.policy.permissions import Action
from agent.protocol import Approval, FileChangeItem, Location
from agent.store.sqlite import new_id
from agent.files.workspace import Workspace

CONFLICT_ADVICE = "Nothing was written. Read the file again and redo the change against its current text."


class ChangeFlow:
    def __init__(self, workspace: Workspace, gate: Gate, applier: ChangeApplier,
                 record: Callable[[str, ChangeSet], None]) -> None:
        self.workspace = workspace
        self.gate = gate
        self.applier = applier
        self._record = record

    async def run(self, scope: TurnScope, changes: ChangeSet, tool: str) -> tuple[str, bool]:
        """Land ``changes`` as ``tool`` would; returns the model's result text and whether it
        is an error. A refusal raises ``Refused`` (the item is then declined)."""
        with scope.item(FileChangeItem(id=scope.new_item_id(), changes=changes.to_protocol())) as handle:
            action = Action(tool, "edit", tuple(f.rel for f in changes.files))
            await self.gate.permit(scope, action, lambda: self.approval(scope.turn_id, handle.id, changes))
            before = self.workspace.sight.snapshot(f.path for f in changes.files)  # the editor's view, to compare
            try:
                result = await self.applier.apply(changes)
            except OSError as exc:
                handle.finish(status="failed", outcome="conflict")
                return f"The change could not be written: {exc.strerror or exc}. {CONFLICT_ADVICE}", True
            if result.outcome != "applied":
                handle.finish(status="failed", outcome="conflict")
                return f"Conflict: {result.detail or 'the file changed since it was read'}. {CONFLICT_ADVICE}", True
            handle.finish(status="completed", outcome="applied")
        self._record(scope.thread_id, changes)
        seen = await self.workspace.sight.after_edit([(f.path, f.rel, f.version) for f in changes.files
                                                      if f.kind != "delete"], before)  # "" without an editor
        return f"Applied: {changes.title} ({', '.join(f.rel for f in changes.files)}).{seen}", False

    def approval(self, turn_id: str, item_id: str, changes: ChangeSet) -> Approval:
        """The question for a person: the title, the whole diff, and every place it touches."""
        places = [Location(uri=self.workspace.uri_for(f.path), range=f.changed_range()) for f in changes.files]
        return Approval(id=new_id("apr"), turn_id=turn_id, item_id=item_id, kind="fileChange",
                        title=changes.title, diff=changes.diff, uri=places[0].uri, range=places[0].range,
                        locations=places)

"""Permission as a wrapper: the one place a tool call waits for the policy or a person.

``Gate.permit`` takes what a tool call would do (an ``Action``) and the approval to ask when
the policy says a person must decide. It returns when the action may go ahead, and raises
``Refused`` (whose message is for the model) when a rule, the mode or the user says no; the
item's context (``TurnScope.item``) then completes the item as declined. Session grants
("approve for session") are kept in the thread's state, valid only in the process that
granted them (PROTOCOL.md section 3).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from agent.engine.approvals import ApprovalBroker
from agent.engine.items import CancelledWhileAsking, Refused, TurnScope
from agent.policy.permissions import Action, Allow, Deny, PermissionPolicy
from agent.protocol import Approval, Decision

if TYPE_CHECKING:
    from agent.store.sqlite import Store

log = logging.getLogger(__name__)


class StoredGrants:
    """Session grants kept in each thread's state, tagged with the granting process."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def has(self, thread_id: str, key: str) -> bool:
        root = self._store.root_thread(thread_id)  # a subagent's grants are its main thread's
        return self._store.thread_state(root).granted(key, self._store.owner)

    def add(self, thread_id: str, key: str) -> None:
        root = self._store.root_thread(thread_id)
        self._store.update_state(root, lambda state: state.grant(key, self._store.owner))


class Gate:
    def __init__(self, policy: PermissionPolicy, broker: ApprovalBroker,
                 label: Callable[[str], str | None] | None = None) -> None:
        self.policy = policy
        self.broker = broker
        self.label = label  # names the subagent asking, for its approvals' titles

    async def permit(self, scope: TurnScope, action: Action,
                     approval: Callable[[], Approval] | None = None) -> Decision | None:
        """None when the policy lets the action run; the user's decision when they approved;
        ``Refused`` when it may not run. Reads never ask (``approval`` may be None for them)."""
        verdict = self.policy.check(scope.thread_id, action)
        if isinstance(verdict, Allow):
            return None
        if isinstance(verdict, Deny):
            raise Refused(verdict.message)
        if approval is None:
            raise Refused("This needs a person's approval, which this tool cannot ask for.")
        request = approval()
        asker = self.label(scope.thread_id) if self.label else None
        if asker:  # a subagent's approval, shown on its parent's surfaces, names who asks
            request = request.model_copy(update={"title": f"Subagent '{asker}': {request.title}"})
        if verdict.reason:  # say why no rule could decide
            request = request.model_copy(update={"title": f"{request.title}. {verdict.reason}"})
        try:
            answer = await self.broker.ask(scope.thread_id, request)
        except asyncio.CancelledError as exc:  # interrupted while asking: the item ends declined
            raise CancelledWhileAsking(*exc.args) from exc
        if answer.decision == "reject":
            reason = f" Their reason: {answer.message}" if answer.message else " They gave no reason."
            raise Refused(f"The user rejected this; nothing was done.{reason}")
        problem = self.policy.remember(scope.thread_id, action, answer.decision)
        if problem is not None:
            log.warning("approve always: %s", problem)
        return answer.decision

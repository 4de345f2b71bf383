"""Permission decisions (PROTOCOL.md section 8) over a described action.

``PermissionPolicy.check`` is pure given its inputs: the mode, the workspace rules, and the
grants made in this process. Order: a deny rule always wins (in every mode, ``bypass``
included); ``readOnly`` refuses changes and commands; ``bypass`` runs everything else; an
allow rule or a session grant runs it; ``acceptEdits`` runs edits; everything else asks.
Changes to ``.agent-lsp/`` (where the rules live) always ask, outside ``bypass``. Paths
outside the workspace never reach this point: ``Workspace.resolve`` refuses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from agent.protocol import Decision, PermissionMode
from agent.rules import Rule, RuleFile, denies_path, is_compound, rule_matches

ActionKind = Literal["read", "edit", "command"]
PROTECTED = ".agent-lsp"


@dataclass(frozen=True)
class Action:
    """What a tool call would do: its tool, kind, and targets (paths, or the command)."""

    tool: str
    kind: ActionKind
    targets: tuple[str, ...] = ()


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


def session_key(action: Action) -> str:
    """"This kind of action": every edit, or commands starting with the same program."""
    if action.kind == "command":
        words = action.targets[0].split() if action.targets else []
        return f"command:{words[0] if words else ''}"
    return action.kind


def always_rules(action: Action) -> list[Rule]:
    """The rules "approve always" saves for this action."""
    if action.kind == "command":
        words = action.targets[0].split() if action.targets else []
        return [Rule("run_command", f"{words[0]} *" if words else None)]
    return [Rule(action.tool, target) for target in action.targets]


@dataclass
class PermissionPolicy:
    mode: PermissionMode = "ask"
    rules: RuleFile | None = None
    _session: dict[str, set[str]] = field(default_factory=dict)

    def check(self, thread_id: str, action: Action) -> Verdict:
        ruleset = self.rules.rules() if self.rules is not None else None
        if ruleset is not None:
            for rule in ruleset.deny:
                named = any(rule_matches(rule, action.tool, t, for_allow=False) for t in action.targets or ("",))
                hidden = action.kind != "command" and any(denies_path(rule, t) for t in action.targets)
                if named or hidden:
                    return Deny(f"A deny rule ({rule}) in .agent-lsp/settings.json forbids this; do not retry it.")
        if action.kind == "read":
            return Allow()
        if self.mode == "readOnly":
            what = "change files" if action.kind == "edit" else "run commands"
            return Deny(f"Permission mode is readOnly: the agent may not {what}. Describe the change "
                        "instead, or ask the user to switch the permission mode.")
        if self.mode == "bypass":
            return Allow()
        if action.kind == "edit" and any(t.split("/", 1)[0].lower() == PROTECTED for t in action.targets):
            return Ask()  # the agent's own permission rules: never changed without a person
        if ruleset is not None and action.targets and all(
            any(rule_matches(rule, action.tool, t, for_allow=True) for rule in ruleset.allow)
            for t in action.targets
        ):
            return Allow("rule")
        compound = action.kind == "command" and any(is_compound(t) for t in action.targets)
        if session_key(action) in self._session.get(thread_id, set()) and not compound:
            return Allow("session")  # never for `ls && rm -rf ~` after approving `ls`
        if action.kind == "edit" and self.mode == "acceptEdits":
            return Allow()
        return Ask()

    def path_denied(self, rel: str) -> bool:
        """Whether deny rules hide this workspace path from every file tool."""
        ruleset = self.rules.rules() if self.rules is not None else None
        return ruleset is not None and any(denies_path(rule, rel) for rule in ruleset.deny)

    def remember(self, thread_id: str, action: Action, decision: Decision) -> str | None:
        """Record an approval's scope; returns a message if saving a rule failed."""
        if decision in ("approveForSession", "approveAlways"):
            self._session.setdefault(thread_id, set()).add(session_key(action))
        if decision == "approveAlways" and self.rules is not None:
            try:
                for rule in always_rules(action):
                    self.rules.add_allow(rule)
            except (OSError, ValueError) as exc:
                return f"could not save the rule: {exc}"
        return None

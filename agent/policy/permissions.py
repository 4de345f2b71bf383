"""Permission decisions (PROTOCOL.md section 8) over a described action.

``PermissionPolicy.check`` is pure given its inputs: the mode, the workspace rules, and the
session grants (kept with each thread, valid in the process that made them). Order: a deny rule always wins (in every mode, ``bypass``
included); ``readOnly`` refuses changes and commands; ``bypass`` runs everything else; an
allow rule or a session grant runs it; ``acceptEdits`` runs edits; everything else asks.
Changes to ``.agent-lsp/`` (where the rules live) always ask, outside ``bypass``. Paths
outside the workspace never reach this point: ``Workspace.resolve`` refuses them.

Commands are judged on ``agent.policy.shell``'s parse. When a line cannot be fully analysed and a
``run_command`` deny rule exists (any one), a deny rule might apply unseen: the command is
refused in ``bypass``, ``acceptEdits`` and ``readOnly``, and asked in ``ask`` with an
``Ask.reason``; no allow rule or session grant answers for it.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Literal, Protocol

from agent.protocol import Decision, PermissionMode
from agent.policy.rules import Rule, RuleFile, command_verdict, denies_path, literal_path_pattern, rule_matches
from agent.policy.shell import RUNS_OTHERS, analyse

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
    """The action may run."""


@dataclass(frozen=True)
class Deny:
    message: str


@dataclass(frozen=True)
class Ask:
    reason: str | None = None  # why a person must decide, when a rule could not


Verdict = Allow | Deny | Ask


def _command(action: Action) -> str:
    return action.targets[0] if action.targets else ""


def session_key(action: Action) -> str | None:
    """"This kind of action": every edit; for a plain simple command its program; for a program
    that runs another one named in its arguments (``env``, ``bash``, ``eval``…) or a compound
    line, that exact text; nothing for a line that cannot be analysed."""
    if action.kind != "command":
        return action.kind
    command = _command(action)
    analysis = analyse(command)
    if analysis.problems or not command.strip():
        return None
    if analysis.plain is not None and posixpath.basename(analysis.plain[0]) not in RUNS_OTHERS:
        return f"command:{analysis.plain[0]}"
    return f"command-exact:{command.strip()}"


def always_rules(action: Action) -> list[Rule]:
    """The rules "approve always" saves for this action: as wide as ``session_key``; a path is
    saved with its glob syntax escaped, so that ``app/[id]/page.tsx`` names that file alone."""
    if action.kind != "command":
        return [Rule(action.tool, literal_path_pattern(target)) for target in action.targets]
    key = session_key(action)
    if key is None:
        return []
    if key.startswith("command:"):
        return [Rule("run_command", f"{key.removeprefix('command:')} *")]
    exact = _command(action).strip()
    if analyse(exact).plain is not None and "*" in exact:
        return []  # as a pattern its `*` would allow more than was approved
    return [Rule("run_command", exact)]


def _deny_message(rule: Rule) -> str:
    return f"A deny rule ({rule}) in .agent-lsp/settings.json forbids this; do not retry it."


class Grants(Protocol):
    """Where "approve for session" answers are kept (``agent.engine.gate.StoredGrants``)."""

    def has(self, thread_id: str, key: str) -> bool: ...

    def add(self, thread_id: str, key: str) -> None: ...


@dataclass
class MemoryGrants:
    """Grants held in memory: for a policy used without a store (tests, tools)."""

    keys: dict[str, set[str]] = field(default_factory=dict)

    def has(self, thread_id: str, key: str) -> bool:
        return key in self.keys.get(thread_id, set())

    def add(self, thread_id: str, key: str) -> None:
        self.keys.setdefault(thread_id, set()).add(key)


@dataclass
class PermissionPolicy:
    mode: PermissionMode = "ask"
    rules: RuleFile | None = None
    grants: Grants = field(default_factory=MemoryGrants)

    def check(self, thread_id: str, action: Action) -> Verdict:
        ruleset = self.rules.rules() if self.rules is not None else None
        analysis = analyse(_command(action)) if action.kind == "command" else None
        doubt: str | None = None  # why a command deny rule might apply but cannot be checked
        if ruleset is not None:
            for rule in ruleset.deny:
                if analysis is not None:
                    if rule.tool != action.tool:
                        continue
                    verdict = command_verdict(rule.pattern, analysis) if rule.pattern else ("match", "")
                    if verdict is not None and verdict[0] == "match":
                        return Deny(_deny_message(rule))
                    if verdict is not None and doubt is None:
                        doubt = f"it cannot be checked against the deny rule {rule}: {verdict[1]}"
                elif any(rule_matches(rule, action.tool, t, for_allow=False) or denies_path(rule, t)
                         for t in action.targets or ("",)):
                    return Deny(_deny_message(rule))
        if action.kind == "read":
            return Allow()
        if self.mode == "readOnly":
            what = "change files" if action.kind == "edit" else "run commands"
            return Deny(f"Permission mode is readOnly: the agent may not {what}. Describe the change "
                        "instead, or ask the user to switch the permission mode.")
        if doubt is not None:
            if self.mode == "ask":
                return Ask(f"This command needs a person: {doubt}.")
            return Deny(f"This command was not run: {doubt}. Write it as plain commands, without "
                        "eval, nested shells fed from variables or stdin, or programs named by variables; "
                        "do not retry it as it is.")
        if self.mode == "bypass":
            return Allow()
        if action.kind == "edit" and any(t.split("/", 1)[0].lower() == PROTECTED for t in action.targets):
            return Ask()  # the agent's own permission rules: never changed without a person
        if ruleset is not None and action.targets and all(
            any(rule_matches(rule, action.tool, t, for_allow=True) for rule in ruleset.allow)
            for t in action.targets
        ):
            return Allow()
        key = session_key(action)
        if key is not None and self.grants.has(thread_id, key):
            return Allow()  # never `ls && rm -rf ~` after approving `ls`
        if action.kind == "edit" and self.mode == "acceptEdits":
            return Allow()
        return Ask()

    def path_denied(self, rel: str) -> bool:
        """Whether deny rules hide this workspace path from every file tool."""
        ruleset = self.rules.rules() if self.rules is not None else None
        return ruleset is not None and any(denies_path(rule, rel) for rule in ruleset.deny)

    def remember(self, thread_id: str, action: Action, decision: Decision) -> str | None:
        """Record an approval's scope; returns a message if saving a rule failed."""
        key = session_key(action)
        if decision in ("approveForSession", "approveAlways") and key is not None:
            self.grants.add(thread_id, key)
        if decision == "approveAlways" and self.rules is not None:
            try:
                for rule in always_rules(action):
                    self.rules.add_allow(rule)
            except (OSError, ValueError) as exc:
                return f"could not save the rule: {exc}"
        return None

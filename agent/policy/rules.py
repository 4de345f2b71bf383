"""Permission rules from the workspace's ``.agent-lsp/settings.json``.

``{"permissions": {"allow": ["run_command(pytest *)", "edit_file(src/**)"], "deny": [...]}}``

A rule names a tool, optionally with a pattern in parentheses. For file tools the pattern is
a path glob relative to the workspace, in the one dialect ``glob`` and ``grep`` use
(``search_common.compile_glob``: ``*`` stays within a folder, ``**`` crosses folders,
``{a,b}``, ``[...]``, ``\\`` escapes; "approve always" saves a path with these escaped).
For ``run_command`` it is a command glob where ``*`` matches anything and ``prog *`` also
matches ``prog`` alone. A deny rule is tried on every simple command the
line runs, in every form ``agent.policy.shell`` unwraps it to (``bash -c '…'``, ``$(…)``, ``env``,
``/usr/bin/git``, ``git -C dir``…). An allow rule with a wildcard matches only a line that is
one plain simple command: ``pytest *`` must not allow ``pytest; rm -rf ~``.
The file is re-read when it changes; a broken file is reported and treated as empty.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

from agent.files.changes import write_atomic
from agent.policy.shell import Analysis, analyse, text_of
from agent.tools.search_common import compile_glob
from agent.files.workspace import ToolError

SETTINGS_PATH = Path(".agent-lsp") / "settings.json"
_RULE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*$", re.S)


@dataclass(frozen=True)
class Rule:
    tool: str
    pattern: str | None

    def __str__(self) -> str:
        return self.tool if self.pattern is None else f"{self.tool}({self.pattern})"


def parse_rule(text: str) -> Rule:
    match = _RULE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a rule; write TOOL or TOOL(pattern), e.g. run_command(pytest *)")
    pattern = match.group(2)
    return Rule(match.group(1), pattern.strip() if pattern is not None and pattern.strip() else None)


@lru_cache(maxsize=512)
def _command_regex(pattern: str) -> re.Pattern[str]:
    body = "".join(".*" if ch == "*" else re.escape(ch) for ch in pattern)
    if pattern.endswith(" *"):
        body = body[: -len(re.escape(" ") + ".*")] + "(?: .*)?"
    return re.compile(body + r"\Z", re.S)


def could_match(pattern: str, prefix: str) -> bool:
    """Whether some command starting with ``prefix`` matches the command glob ``pattern``."""
    def closure(states: set[int]) -> set[int]:
        todo = list(states)
        while todo:
            i = todo.pop()
            if i < len(pattern) and pattern[i] == "*" and i + 1 not in states:
                states.add(i + 1)
                todo.append(i + 1)
        return states

    states = closure({0})
    for ch in prefix:
        states = closure({i if pattern[i] == "*" else i + 1 for i in states
                          if i < len(pattern) and pattern[i] in ("*", ch)})
        if not states:
            return False
    return True


CommandVerdict = tuple[Literal["match", "maybe"], str]


def command_verdict(pattern: str, analysis: Analysis) -> CommandVerdict | None:
    """Whether a command rule's pattern names what a command line runs: ``match`` when a simple
    command in it, in any of its forms, matches; ``maybe`` (with the reason) when a word only
    known at run time or a part that cannot be analysed leaves it open; None when it cannot."""
    regex = _command_regex(pattern)
    for command in analysis.commands:
        if any(regex.match(text_of(form)) for form in command.forms):
            return "match", ""
    for command in analysis.commands:
        for form in command.forms:
            unknown = next((i for i, word in enumerate(form) if not word.known), None)
            if unknown is not None and could_match(pattern, "".join(w.text + " " for w in form[:unknown])):
                return "maybe", f"in `{command.typed}`, {form[unknown].text!r} is only known when it runs"
    if analysis.problems:
        return "maybe", analysis.problems[0]
    return None


def is_compound(command: str) -> bool:
    """Whether a command line is more than one plain simple command (chains, pipes, redirects,
    substitutions, assignments, groups), or cannot be analysed."""
    return analyse(command).plain is None


FILE_TOOLS = frozenset({"read_file", "glob", "grep", "edit_file", "write_file", "apply_patch"})


def denies_path(rule: Rule, rel: str) -> bool:
    """A deny rule on any file tool with a path pattern hides that path from every file tool:
    `read_file(.env)` also keeps `.env` out of grep, glob and edits."""
    return rule.tool in FILE_TOOLS and rule.pattern is not None and _path_matches(rule.pattern, rel)


_GLOB_SYNTAX = re.compile(r"([*?\[\]{}\\])")


def literal_path_pattern(rel: str) -> str:
    """A path rule pattern that matches exactly the path ``rel``: the glob syntax of the dialect
    (``*``, ``?``, ``[``, ``]``, ``{``, ``}`` and the escape ``\\``) escaped, and whitespace at
    either end, which ``parse_rule`` would strip, put in a ``[ ]`` class."""
    body = _GLOB_SYNTAX.sub(r"\\\1", rel)
    stripped = body.strip()
    start = body.index(stripped) if stripped else len(body)
    lead, trail = body[:start], body[start + len(stripped):]
    return "".join(f"[{ch}]" for ch in lead) + stripped + "".join(f"[{ch}]" for ch in trail)


def _path_matches(pattern: str, rel: str) -> bool:
    try:
        return compile_glob(pattern)(rel)
    except ToolError:
        return False  # a pattern that is no glob names no path


def allows_command(rule: Rule, command: str, analysis: Analysis) -> bool:
    """An allow rule runs a command only when the line is one plain simple command whose words
    (or text) match the pattern, or, for any other line that can be analysed, when the pattern
    is that exact text. A line that cannot be analysed is never allowed by a rule."""
    if rule.tool != "run_command" or analysis.problems:
        return False
    if analysis.plain is not None and any(ch.isspace() for ch in analysis.plain[0]):
        return False  # `git\ push` is one program word, not `git` with `push`
    if rule.pattern is None:
        return True
    if analysis.plain is None:
        return rule.pattern == command.strip()
    regex = _command_regex(rule.pattern)
    return bool(regex.match(" ".join(analysis.plain)) or regex.match(command.strip()))


def rule_matches(rule: Rule, tool: str, target: str, *, for_allow: bool) -> bool:
    """Whether a rule names this tool call; for commands, see ``allows_command`` and
    ``command_verdict`` (a deny rule matches only on a definite ``match`` here)."""
    if rule.tool != tool:
        return False
    if rule.pattern is None:
        return True
    if tool == "run_command":
        analysis = analyse(target)
        if for_allow:
            return allows_command(rule, target, analysis)
        verdict = command_verdict(rule.pattern, analysis)
        return verdict is not None and verdict[0] == "match"
    return _path_matches(rule.pattern, target)


@dataclass
class RuleSet:
    allow: list[Rule] = field(default_factory=list)
    deny: list[Rule] = field(default_factory=list)


class RuleFile:
    """The workspace's rules, re-read when the file changes."""

    def __init__(self, root: Path) -> None:
        self.path = root / SETTINGS_PATH
        self._stamp: tuple[int, int] | None = None
        self._rules = RuleSet()
        self.errors: list[str] = []

    def rules(self) -> RuleSet:
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            self._stamp, self._rules, self.errors = None, RuleSet(), []
            return self._rules
        if stamp != self._stamp:
            self._stamp = stamp
            self._rules, self.errors = self._load()
        return self._rules

    def _load(self) -> tuple[RuleSet, list[str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            permissions = data.get("permissions", {}) if isinstance(data, dict) else {}
        except (OSError, ValueError) as exc:
            return RuleSet(), [f"{self.path} is not valid JSON ({exc}); its rules are ignored"]
        rules, errors = RuleSet(), []
        for key in ("allow", "deny"):
            for text in permissions.get(key, []) if isinstance(permissions, dict) else []:
                try:
                    getattr(rules, key).append(parse_rule(text))
                except ValueError as exc:
                    errors.append(f"{self.path}: {exc}")
        return rules, errors

    def add_allow(self, rule: Rule) -> None:
        """Append an allow rule, keeping everything else in the file as it was."""
        data: dict[str, object] = {}
        if self.path.exists():
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
                data = loaded if isinstance(loaded, dict) else {}
            except ValueError:
                raise ValueError(f"{self.path} is not valid JSON; fix it before saving rules") from None
        permissions = data.setdefault("permissions", {})
        if not isinstance(permissions, dict):
            raise ValueError(f"{self.path}: 'permissions' must be an object")
        allow = permissions.setdefault("allow", [])
        if str(rule) not in allow:
            allow.append(str(rule))
        write_atomic(self.path, json.dumps(data, indent=2) + "\n")
        self._stamp = None

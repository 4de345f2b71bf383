"""Permission rules from the workspace's ``.agent-lsp/settings.json``.

``{"permissions": {"allow": ["run_command(pytest *)", "edit_file(src/**)"], "deny": [...]}}``

A rule names a tool, optionally with a pattern in parentheses. For file tools the pattern is
a path glob relative to the workspace (``*`` stays within a folder, ``**`` crosses folders);
for ``run_command`` it is a command glob where ``*`` matches anything, and ``prog *`` also
matches ``prog`` alone. A wildcard allow rule never matches a compound command (``;``,
``&&``, ``|``, redirections, substitutions): ``pytest *`` must not allow ``pytest; rm -rf ~``.
The file is re-read when it changes; a broken file is reported and treated as empty.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from agent.changes import write_atomic

SETTINGS_PATH = Path(".agent-lsp") / "settings.json"
_RULE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*$", re.S)
_COMPOUND = re.compile(r"[;&|<>`\n]|\$\(")


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
def _path_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.S)


@lru_cache(maxsize=512)
def _command_regex(pattern: str) -> re.Pattern[str]:
    body = "".join(".*" if ch == "*" else re.escape(ch) for ch in pattern)
    if pattern.endswith(" *"):
        body = body[: -len(re.escape(" ") + ".*")] + "(?: .*)?"
    return re.compile(body + r"\Z", re.S)


def is_compound(command: str) -> bool:
    """Whether a command chains, pipes, redirects or substitutes (more than one program)."""
    return bool(_COMPOUND.search(command))


def split_compound(command: str) -> list[str]:
    """The simple commands inside a compound one, for deny rules to inspect each."""
    return [part.strip() for part in re.split(r"&&|\|\||[;|&\n]", command) if part.strip()]


FILE_TOOLS = frozenset({"read_file", "glob", "grep", "edit_file", "write_file", "apply_patch"})


def denies_path(rule: Rule, rel: str) -> bool:
    """A deny rule on any file tool with a path pattern hides that path from every file tool:
    `read_file(.env)` also keeps `.env` out of grep, glob and edits."""
    return rule.tool in FILE_TOOLS and rule.pattern is not None and bool(_path_regex(rule.pattern).match(rel))


def rule_matches(rule: Rule, tool: str, target: str, *, for_allow: bool) -> bool:
    if rule.tool != tool:
        return False
    if rule.pattern is None:
        return True
    if tool == "run_command":
        command = " ".join(target.split())
        if for_allow:
            if _COMPOUND.search(command):
                return rule.pattern == command
            return bool(_command_regex(rule.pattern).match(command))
        candidates = [command, *split_compound(command)]
        return any(_command_regex(rule.pattern).match(c) for c in candidates)
    return bool(_path_regex(rule.pattern).match(target))


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

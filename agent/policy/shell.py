"""What a shell command line runs: its simple commands, found by a real parser (``bashlex``).

``analyse(text)`` parses a ``run_command`` command the way bash would and returns every simple
command in it: inside ``$(…)``, backticks, subshells, ``{ …; }`` groups, pipelines, lists,
process substitutions, redirections, ``if``/``for``/``while``/``until`` bodies and function
bodies. Each simple command comes in several *forms*, all of which a deny rule is tried on:
the words as typed (quotes removed, leading ``VAR=value`` assignments dropped), then the forms
``agent.policy.shell_unwrap`` finds by following what the program runs (its basename,
wrappers such as ``env``, ``sudo`` or ``xargs``, ``su``, git's global options, the script of
``bash -c``, ``eval``, ``find -exec``…). This module owns the words and the ``Analysis`` they
make up, and the parse: walking bashlex's tree down to its simple commands.

A word only known when the command runs (``$X``, ``$(…)``, ``<(…)``, a glob, ``{a,b}``,
``$'…'``) is an unknown word. What cannot be analysed is reported in ``problems``, with the
reason. Found here: a parse error or a construct the parser does not know (``case``, ``[[ ]]``,
``$((…))``), a substitution hidden in ``${…}`` or in a here-document, and a shell's startup
script read from a descriptor (``BASH_ENV=<(…)``); ``agent.policy.shell_unwrap`` lists the
rest. What a program or a script does once it runs is beyond any command rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from agent.policy.shell_programs import RUNS_OTHERS, SHELLS, WRAPPERS, Options, reads_descriptor

__all__ = ["RUNS_OTHERS", "SHELLS", "WRAPPERS", "Analysis", "Form", "Options", "SimpleCommand", "Word", "analyse",
           "text_of"]

MAX_DEPTH = 8
_GLOB_OR_BRACE = re.compile(r"[*?\[]|\{[^}]*(,|\.\.)[^}]*\}")
_QUOTED_HEREDOC = re.compile(r"<<(-?)[ \t]*(?:'(\w+)'|\"(\w+)\"|\\(\w+))")
_TIME_WORD = re.compile(r"(^|[;&|({!\n]|\b(?:then|do|else|elif)\b)([ \t]*)time\b")
_EXPANDS = ("$(", "`", "<(", ">(")
_STARTUP = ("BASH_ENV=", "ENV=")  # a script a shell runs before its own


class Word(NamedTuple):
    """One word after quote removal; ``known`` is False when only the running shell knows it."""

    text: str
    known: bool = True


Form = tuple[Word, ...]


def text_of(form: Form) -> str:
    return " ".join(word.text for word in form)


@dataclass(frozen=True)
class SimpleCommand:
    """One program run: its words as typed, and every unwrapped form of them."""

    forms: tuple[Form, ...]

    @property
    def typed(self) -> str:
        return text_of(self.forms[0])


@dataclass
class Analysis:
    """Every simple command a command line runs, and why any part of it cannot be known."""

    commands: list[SimpleCommand] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    plain: tuple[str, ...] | None = None  # the words, when the line is one simple command and nothing else


def analyse(text: str, depth: int = 0) -> Analysis:
    """Parse ``text`` as bash would; see the module docstring for what is found and flagged."""
    result = Analysis()
    if depth > MAX_DEPTH:
        result.problems.append(f"shells nest more than {MAX_DEPTH} deep")
        return result
    if not text.strip():
        return result
    import bashlex  # type: ignore[import-untyped]  # here: its import (~0.1 s) stays off the path to a first request

    source, quoted = _prepare(text)
    try:
        try:
            nodes = bashlex.parse(source)
        except NotImplementedError as exc:
            if "time" not in str(exc):
                raise
            source = _TIME_WORD.sub(r"\1\2\\time", source)  # bashlex lacks the `time` keyword
            nodes = bashlex.parse(source)
    except NotImplementedError as exc:
        result.problems.append(f"it uses shell syntax the parser does not know ({_first_line(exc)})")
        return result
    except Exception as exc:  # bashlex raises assorted errors on what it cannot read
        result.problems.append(f"it cannot be parsed as a shell command ({_first_line(exc)})")
        return result
    walker = _Walker(source, quoted, depth, result)
    for node in nodes:
        walker.visit(node)
    if len(nodes) == 1 and nodes[0].kind == "command" and walker.simple_count == 1 and not walker.extras \
            and not result.problems:
        words = [part for part in nodes[0].parts if part.kind == "word"]
        if len(words) == len(nodes[0].parts) and words and _literal(source, words[0]):
            result.plain = tuple(part.word for part in words)
    return result


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:120]


def _prepare(text: str) -> tuple[str, set[str]]:
    """bashlex cannot read quoted here-document delimiters: unquote them, remembering which."""
    quoted: set[str] = set()

    def unquote(match: re.Match[str]) -> str:
        name = match.group(2) or match.group(3) or match.group(4)
        quoted.add(name)
        return f"<<{match.group(1)}{name}"

    return _QUOTED_HEREDOC.sub(unquote, text), quoted


def _literal(source: str, node: Any) -> bool:
    """Whether a word is the same text whenever it runs: no expansion, glob, brace or ``$'…'``."""
    raw = source[node.pos[0]:node.pos[1]]
    if any(part.kind != "tilde" for part in getattr(node, "parts", [])):
        return False
    return not ("$'" in raw or '$"' in raw or "$" in node.word or _GLOB_OR_BRACE.search(raw))


class _Walker:
    """Visits bashlex nodes, collecting simple commands into an ``Analysis``."""

    def __init__(self, source: str, quoted: set[str], depth: int, result: Analysis) -> None:
        self.source, self.quoted, self.depth, self.result = source, quoted, depth, result
        self.simple_count = 0
        self.extras = False  # anything beyond one simple command of plain words

    def visit(self, node: Any) -> None:
        kind = node.kind
        if kind == "command":
            self.command(node)
        elif kind in ("list", "pipeline", "compound", "if", "for", "while", "until", "function"):
            self.extras = True
            for child in getattr(node, "parts", None) or getattr(node, "list", None) or []:
                self.visit(child)
            for child in getattr(node, "redirects", None) or []:
                self.visit(child)
        elif kind in ("word", "assignment"):
            for part in getattr(node, "parts", []):
                self.visit(part)
        elif kind in ("commandsubstitution", "processsubstitution"):
            self.extras = True
            self.visit(node.command)
        elif kind == "parameter":
            if any(mark in node.value for mark in _EXPANDS):
                self.result.problems.append(f"a command substitution is hidden inside ${{{node.value}}}")
        elif kind == "redirect":
            self.extras = True
            self.redirect(node)
        elif kind not in ("reservedword", "operator", "pipe", "tilde", "heredoc"):
            self.result.problems.append(f"it contains a shell construct that is not understood ({kind})")

    def redirect(self, node: Any) -> None:
        target = getattr(node, "output", None)
        if target is not None and not isinstance(target, int):
            self.visit(target)
        heredoc = getattr(node, "heredoc", None)
        if heredoc is not None:
            delimiter = getattr(target, "word", "")
            body = heredoc.value
            if delimiter not in self.quoted and any(mark in body for mark in ("$(", "`")):
                self.result.problems.append("a here-document with an unquoted delimiter runs substitutions")

    def command(self, node: Any) -> None:
        self.simple_count += 1
        words: list[Word] = []
        for part in node.parts:
            if part.kind == "word":
                words.append(Word(part.word, _literal(self.source, part)))
            elif part.kind == "assignment":
                self.extras = True
                _startup(Word(part.word, _literal(self.source, part)), self.result)
            self.visit(part)
        for word in words:
            _startup(word, self.result)
        if words:
            from agent.policy.shell_unwrap import unwrap  # here: unwrap analyses nested scripts with analyse

            unwrap(tuple(words), self.depth, self.result)


def _startup(word: Word, result: Analysis) -> None:
    """``BASH_ENV=<(…) bash x.sh``: a shell first runs the script its ``BASH_ENV`` names."""
    name, _, value = word.text.partition("=")
    if word.text.startswith(_STARTUP) and (not word.known or reads_descriptor(value)):
        result.problems.append(f"it sets {name} to a script read from a descriptor or only known when it runs")

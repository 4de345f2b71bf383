"""What a shell command line runs: its simple commands, found by a real parser (``bashlex``).

``analyse(text)`` parses a ``run_command`` command the way bash would and returns every simple
command in it: inside ``$(…)``, backticks, subshells, ``{ …; }`` groups, pipelines, lists,
process substitutions, redirections, ``if``/``for``/``while``/``until`` bodies and function
bodies. Each simple command comes in several *forms*, all of which a deny rule is tried on:
the words as typed (quotes removed, leading ``VAR=value`` assignments dropped), then the
program by its basename (``/usr/bin/git`` is ``git``), then through each wrapper (``env``,
``command``, ``builtin``, ``exec``, ``nohup``, ``setsid``, ``timeout``, ``nice``, ``ionice``,
``stdbuf``, ``time``, ``xargs``, ``sudo``, ``doas``) with its options skipped, then with git's
global options (``-C dir``, ``-c k=v``, ``--git-dir=…``) skipped. The script of ``bash -c``,
``sh -c``, ``zsh -c``, ``dash -c``, ``ksh -c``, of ``eval`` and of ``trap`` is analysed in turn
when it is literal text, and so is the command of ``find -exec``.

A word only known when the command runs (``$X``, ``$(…)``, a glob, ``{a,b}``, ``$'…'``) is an
unknown word. What cannot be analysed is reported in ``problems``, with the reason: a parse
error or a construct the parser does not know (``case``, ``[[ ]]``, ``$((…))``), a program
word that is unknown (``$CMD push``), a nested shell fed from stdin, a variable or a file
descriptor, ``eval`` of unknown text, a substitution hidden in ``${…}`` or in a here-document,
an unknown option of a wrapper, and an alias or a git alias defined on the command line.
``source FILE`` and ``bash FILE`` run a script file, which is a program like any other: what a
program or a script does once it runs is beyond any command rule.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import bashlex  # type: ignore[import-untyped]

MAX_DEPTH = 8
SHELLS = frozenset({"bash", "sh", "zsh", "dash", "ksh", "mksh", "ash"})
_GLOB_OR_BRACE = re.compile(r"[*?\[]|\{[^}]*(,|\.\.)[^}]*\}")
_QUOTED_HEREDOC = re.compile(r"<<(-?)[ \t]*(?:'(\w+)'|\"(\w+)\"|\\(\w+))")
_TIME_WORD = re.compile(r"(^|[;&|({!\n]|\b(?:then|do|else|elif)\b)([ \t]*)time\b")
_EXPANDS = ("$(", "`", "<(", ">(")


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


@dataclass(frozen=True)
class Options:
    """A wrapper's command line: which options take an argument, what comes before the program."""

    with_arg: str = ""
    flags: str = ""
    long_with_arg: frozenset[str] = frozenset()
    long_flags: frozenset[str] = frozenset()
    positionals: int = 0  # operands before the program (timeout's duration)
    assignments: bool = False  # NAME=value words before the program (env, sudo)
    digits: bool = False  # -N as an option (nice -10)
    optional: str = ""  # short options whose argument, if any, is attached (xargs -i{})


def _set(*names: str) -> frozenset[str]:
    return frozenset(names)


WRAPPERS: dict[str, Options] = {
    "env": Options("uCS", "i0v", _set("unset", "chdir", "split-string"),
                   _set("ignore-environment", "null", "debug", "default-signal", "ignore-signal", "block-signal",
                        "list-signal-handling"), assignments=True),
    "command": Options(flags="pvV"),
    "builtin": Options(),
    "exec": Options("a", "cl"),
    "nohup": Options(),
    "setsid": Options(flags="cfw", long_flags=_set("ctty", "fork", "wait")),
    "timeout": Options("sk", "v", _set("signal", "kill-after"), _set("preserve-status", "foreground", "verbose"),
                       positionals=1),
    "nice": Options("n", long_with_arg=_set("adjustment"), digits=True),
    "ionice": Options("cnpPu", "t", _set("class", "classdata", "pid", "pgid", "uid"), _set("ignore")),
    "stdbuf": Options("ioe", long_with_arg=_set("input", "output", "error")),
    "time": Options("fo", "apqv", _set("format", "output"), _set("append", "portability", "verbose", "quiet")),
    "xargs": Options("aEdILnPs", "0oprtx", _set("arg-file", "delimiter", "max-args", "max-procs", "max-chars",
                                                "process-slot-var"),
                     _set("null", "interactive", "no-run-if-empty", "verbose", "exit", "open-tty", "show-limits",
                          "eof", "replace", "max-lines"), optional="eil"),
    "sudo": Options("ughpCDRrtTU", "AbEeHiKklnPSsVvB",
                    _set("user", "group", "host", "prompt", "close-from", "chdir", "chroot", "role", "type",
                         "command-timeout", "other-user"),
                    _set("askpass", "background", "bell", "preserve-env", "edit", "set-home", "login",
                         "remove-timestamp", "reset-timestamp", "list", "non-interactive", "preserve-groups", "stdin",
                         "shell", "validate", "version", "help"), assignments=True),
    "doas": Options("uC", "nsL"),
}
GIT = Options("Cc", "pPhv", _set("git-dir", "work-tree", "namespace", "super-prefix", "config-env", "attr-source",
                                 "list-cmds"),
              _set("paginate", "no-pager", "bare", "no-replace-objects", "literal-pathspecs", "glob-pathspecs",
                   "noglob-pathspecs", "icase-pathspecs", "no-optional-locks", "no-advice", "exec-path", "version",
                   "help", "html-path", "man-path", "info-path", "no-lazy-fetch"))
SHELL = Options("oO", "abefhkmnptuvxBCEHPTilrsDc", _set("rcfile", "init-file"))
EVALUATORS = frozenset({"eval", "trap"})
RUNS_OTHERS = frozenset(WRAPPERS) | SHELLS | EVALUATORS | {"find", "source", "."}  # run a command named in args


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
            self.visit(part)
        if words:
            unwrap(tuple(words), self.depth, self.result)


def unwrap(words: Form, depth: int, result: Analysis) -> None:
    """Add the simple command ``words`` with all its forms; follow shells, ``eval`` and ``find -exec``."""
    forms: list[Form] = [words]
    while words:
        program = words[0]
        if not program.known:
            result.problems.append(f"the program {program.text!r} is only known when the command runs")
            break
        base = posixpath.basename(program.text.rstrip("/")) or program.text
        if base != program.text:
            words = (Word(base), *words[1:])
            forms.append(words)
        if base in WRAPPERS:
            rest = skip_options(WRAPPERS[base], words[1:], base, result)
            if rest is None or not rest:
                break
            words = rest
            forms.append(words)
            continue
        if base == "git":
            _git(words, forms, result)
        elif base in SHELLS:
            _shell(words, depth, result)
        elif base in EVALUATORS:
            _evaluate(base, words, depth, result)
        elif base == "find":
            _find(words, depth, result)
        elif base == "alias" and any("=" in word.text or not word.known for word in words[1:]):
            result.problems.append("it defines an alias, which may rename any program")
        break
    result.commands.append(SimpleCommand(tuple(forms)))


def skip_options(spec: Options, words: Form, name: str, result: Analysis) -> Form | None:
    """The words after ``name``'s options (and operands before its program); None if unreadable."""
    i, positionals = 0, spec.positionals
    while i < len(words):
        word = words[i]
        text = word.text
        if not word.known:
            if positionals or text.startswith("-"):
                result.problems.append(f"an option or operand of {name} ({text!r}) is only known when it runs")
                return None
            return words[i:]
        if text == "--":
            i += 1
            break
        if spec.assignments and "=" in text and not text.startswith("-") and re.match(r"\w+=", text):
            i += 1
            continue
        if text.startswith("--") and len(text) > 2:
            option = text[2:].split("=", 1)[0]
            if "=" in text or option in spec.long_flags:
                i += 1
            elif option in spec.long_with_arg:
                i += 2
            else:
                result.problems.append(f"{name} is given an option it is not known to take ({text})")
                return None
            if name == "env" and option == "split-string":
                return _split_string(text, words, i, result)
            continue
        if text.startswith("-") and len(text) > 1:
            if spec.digits and text[1:].isdigit():
                i += 1
                continue
            j, taken = 1, 1
            while j < len(text):
                letter = text[j]
                if letter in spec.with_arg:
                    taken = 1 if j + 1 < len(text) else 2
                    if name == "env" and letter == "S":
                        return _split_string(text[j + 1:] if taken == 1 else "", words, i + taken, result)
                    break
                if letter in spec.optional:
                    break
                if letter not in spec.flags:
                    result.problems.append(f"{name} is given an option it is not known to take (-{letter})")
                    return None
                j += 1
            i += taken
            continue
        if positionals:
            positionals -= 1
            i += 1
            continue
        break
    return words[i + positionals:] if i + positionals <= len(words) else ()


def _split_string(attached: str, words: Form, after: int, result: Analysis) -> Form | None:
    """``env -S 'prog args'``: the string is split into words that come before the rest."""
    value = attached.split("=", 1)[1] if attached.startswith("--") else attached
    if not value:
        if after - 1 >= len(words) or not words[after - 1].known:
            result.problems.append("env -S is given a string only known when it runs")
            return None
        value = words[after - 1].text
    return tuple(Word(part) for part in value.split()) + words[after:]


def _git(words: Form, forms: list[Form], result: Analysis) -> None:
    rest = skip_options(GIT, words[1:], "git", result)
    settings = [b.text for a, b in zip(words, words[1:]) if a.text in ("-c", "--config-env")]
    settings += [w.text[2:] for w in words if w.text.startswith("-c") and len(w.text) > 2]
    if any(s.lstrip().lower().startswith("alias.") for s in settings):
        result.problems.append("it defines a git alias on the command line, which may run any git command")
    if rest is not None and rest != words[1:]:
        forms.append((words[0], *rest))


def _shell(words: Form, depth: int, result: Analysis) -> None:
    command_mode = reads_stdin = False
    i = 1
    while i < len(words) and words[i].known and words[i].text[:1] in ("-", "+") and words[i].text not in ("-", "--"):
        text = words[i].text
        if text.startswith("--"):
            i += 2 if text[2:] in SHELL.long_with_arg else 1
            continue
        command_mode |= "c" in text
        reads_stdin |= "s" in text
        i += 2 if any(letter in SHELL.with_arg for letter in text[1:]) else 1
    if i < len(words) and words[i].text in ("-", "--"):
        i += 1
    operands = words[i:]
    name = words[0].text
    if command_mode:
        if operands and not operands[0].known:
            result.problems.append(f"the script given to {name} -c is only known when it runs")
        elif operands:
            _nested(operands[0].text, depth, result)
    elif reads_stdin or not operands:
        result.problems.append(f"{name} reads its commands from standard input, which cannot be checked")
    elif not operands[0].known:
        result.problems.append(f"the script {name} runs is only known when the command runs")


def _evaluate(name: str, words: Form, depth: int, result: Analysis) -> None:
    args = [w for w in words[1:] if w.text != "--"]
    if name == "trap":
        args = args[:1] if args and not args[0].text.startswith("-") else []
    if any(not w.known for w in args):
        result.problems.append(f"{name} runs text that is only known when the command runs")
    elif args:
        _nested(" ".join(w.text for w in args), depth, result)


def _find(words: Form, depth: int, result: Analysis) -> None:
    i = 0
    while i < len(words):
        if words[i].text in ("-exec", "-execdir", "-ok", "-okdir"):
            end = next((j for j in range(i + 1, len(words)) if words[j].text in (";", "+")), len(words))
            if end > i + 1:
                unwrap(words[i + 1:end], depth + 1, result)
            i = end
        i += 1


def _nested(script: str, depth: int, result: Analysis) -> None:
    inner = analyse(script, depth + 1)
    result.commands.extend(inner.commands)
    result.problems.extend(inner.problems)

"""What a simple command runs: its forms, through wrappers, nested shells, ``eval`` and ``find -exec``.

``unwrap(words, depth, result)`` adds one simple command of ``agent.policy.shell``'s parse with
every form a deny rule is tried on: the words as typed, then the program by its basename
(``/usr/bin/git`` is ``git``), then through each wrapper of
``agent.policy.shell_programs.WRAPPERS`` (``env``, ``sudo``, ``timeout``, ``xargs``, ``busybox``,
``flock``, ``chroot``, ``watch``, ``unshare``, ``nsenter``, ``taskset``, ``chrt``, ``prlimit``,
``strace``, ``setpriv``, ``pkexec``…) with its options skipped, and through ``su``, ``runuser``
and ``script``, whose options may come anywhere; then with git's global options (``-C dir``,
``-c k=v``, ``--git-dir=…``) skipped. The script of ``bash -c`` (and of every shell in
``SHELLS``), ``su -c``, ``script -c``, ``flock FILE -c``, ``watch``, ``eval`` and ``trap`` is
analysed in turn (``agent.policy.shell.analyse``) when it is literal text, and so is the
command of ``find -exec``. Words that xargs or find fill in (``{}``, xargs' input) are unknown
words.

Reported in ``problems``: a program word that is unknown (``$CMD push``), a shell or ``source``
fed from stdin, a variable or a file descriptor (``bash /dev/stdin``, ``source <(…)``,
``sh /proc/self/fd/0``), a wrapper that starts a shell reading stdin (``chroot DIR``, ``su``), a
program of ``OPAQUE`` (``parallel``, ``ssh``, ``systemd-run``…), ``eval`` of unknown text, an
unknown option of a wrapper, and an alias or a git alias defined on the command line.
``source FILE`` and ``bash FILE`` run a script file, which is a program like any other.
"""

from __future__ import annotations

import posixpath
import re

from agent.policy.shell import Analysis, Form, SimpleCommand, Word, analyse, text_of
from agent.policy.shell_programs import (EVALUATORS, GIT, OPAQUE, PERMUTED, RUNUSER, SCRIPT, SHELL, SHELLS, SU, WRAPPERS,
                                         Options, reads_descriptor)


def unwrap(words: Form, depth: int, result: Analysis) -> None:
    """Add the simple command ``words`` with all its forms; follow wrappers, shells, ``eval``,
    ``source`` and ``find -exec``."""
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
            rest = _wrapped(base, words, depth, result)
        elif base in PERMUTED:
            rest = _permuted_program(base, words[1:], result)
        else:
            rest = None
            if base in OPAQUE:
                result.problems.append(f"{base} runs commands in ways that cannot be followed, so they cannot "
                                       "be checked")
            elif base == "git":
                _git(words, forms, result)
            elif base in SHELLS:
                _shell(words, depth, result)
            elif base in EVALUATORS:
                _evaluate(base, words, depth, result)
            elif base in ("source", "."):
                _source(words, result)
            elif base == "find":
                _find(words, depth, result)
            elif base == "alias" and any("=" in word.text or not word.known for word in words[1:]):
                result.problems.append("it defines an alias, which may rename any program")
        if not rest:
            break
        words = rest
        forms.append(words)
    result.commands.append(SimpleCommand(tuple(forms)))


def _wrapped(base: str, words: Form, depth: int, result: Analysis) -> Form | None:
    """The program (and its arguments) a wrapper runs; None when there is none to follow."""
    spec = WRAPPERS[base]
    rest = skip_options(spec, words[1:], base, result)
    if rest is None:
        return None
    options = words[1:len(words) - len(rest)]
    if base == "xargs" and rest:
        return _xargs(spec, options, rest)
    if base == "flock" and rest and rest[0].text in ("-c", "--command"):
        return (Word("sh"), *rest)  # flock FILE -c SCRIPT runs SCRIPT with the shell
    if base == "watch" and rest:  # `sh -c` of the words joined, or the words themselves with -x
        _shell((Word("sh"), Word("-c"), Word(text_of(rest), all(w.known for w in rest))), depth, result)
    if not rest and (spec.shell_default or base == "sudo" and _given(spec, options, "is", ("shell", "login"))):
        result.problems.append(f"{base} with no program starts a shell reading standard input, which cannot be "
                               "checked")
    return rest


def _xargs(spec: Options, options: Form, rest: Form) -> Form:
    """What xargs runs: words holding its ``-I`` replace string are only known when it runs, and
    without one, the words it reads are appended (``… | xargs env`` runs whatever it reads)."""
    replace = None
    for k, word in enumerate(options):
        text = word.text
        if text.startswith("--replace"):
            replace = text.partition("=")[2] or "{}"
        elif text.startswith("-") and not text.startswith("--"):
            for j, letter in enumerate(text[1:], start=2):
                if letter == "I":
                    replace = text[j:] or (options[k + 1].text if k + 1 < len(options) else "")
                elif letter == "i":
                    replace = text[j:] or "{}"
                if letter in spec.with_arg or letter in spec.optional:
                    break
    if replace:
        return tuple(Word(w.text, w.known and replace not in w.text) for w in rest)
    return (*rest, Word("<input>", known=False))


def _given(spec: Options, options: Form, letters: str, longs: tuple[str, ...]) -> bool:
    """Whether any of these options is among a wrapper's option words."""
    for word in options:
        text = word.text
        if text.startswith("--"):
            if text[2:].split("=", 1)[0] in longs:
                return True
        elif text.startswith("-"):
            for letter in text[1:]:
                if letter in letters:
                    return True
                if letter in spec.with_arg or letter in spec.optional:
                    break
    return False


def _permuted_program(name: str, words: Form, result: Analysis) -> Form | None:
    """What ``su``, ``runuser`` and ``script`` run: a ``-c`` script through the shell, the program
    of ``runuser -u USER PROG``, or the shell with su's extra arguments (``su root -- -c '…'``)."""
    spec = {"su": SU, "runuser": RUNUSER, "script": SCRIPT}[name]
    parsed = _permuted(spec, words, name, result)
    if parsed is None:
        return None
    options, operands = parsed
    scripts = [value for option, value in options if option in ("c", "C", "command", "session-command")]
    shell = next((value for option, value in reversed(options) if option in ("s", "shell")), Word("sh"))
    if scripts:
        return (shell, Word("-c"), scripts[-1], *operands[1:])
    if name == "runuser" and any(option in ("u", "user") for option, _ in options) and operands:
        return tuple(operands)
    if name != "script" and len(operands) > 1:
        return (shell, *operands[1:])
    result.problems.append(f"{name} with no command starts a shell reading standard input, which cannot be checked")
    return None


def _permuted(spec: Options, words: Form, name: str,
              result: Analysis) -> tuple[list[tuple[str, Word]], list[Word]] | None:
    """Options and operands of a program whose options may come anywhere before ``--``."""
    options: list[tuple[str, Word]] = []
    operands: list[Word] = []
    i = 0
    while i < len(words):
        word, text = words[i], words[i].text
        if not word.known:
            result.problems.append(f"a word given to {name} ({text!r}) is only known when it runs")
            return None
        after = words[i + 1] if i + 1 < len(words) else Word("")
        if text == "--":
            operands.extend(words[i + 1:])
            break
        if text.startswith("--"):
            option, eq, value = text[2:].partition("=")
            if option in spec.long_with_arg:
                options.append((option, Word(value) if eq else after))
                i += 1 if eq else 2
            elif option in spec.long_flags and not eq:
                options.append((option, Word("")))
                i += 1
            else:
                result.problems.append(f"{name} is given an option it is not known to take ({text})")
                return None
            continue
        if not text.startswith("-") or text == "-":
            operands.extend([word] if text != "-" else [])  # `su -` is `su --login`
            i += 1
            continue
        i += 1
        for j, letter in enumerate(text[1:], start=2):
            if letter in spec.with_arg or letter in spec.optional:
                attached = j < len(text) or letter in spec.optional
                options.append((letter, Word(text[j:]) if attached else after))
                i += 0 if attached else 1
                break
            if letter not in spec.flags:
                result.problems.append(f"{name} is given an option it is not known to take (-{letter})")
                return None
            options.append((letter, Word("")))
    return options, operands


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
        if positionals and spec.shape and not re.fullmatch(spec.shape, text):
            positionals = 0  # `chrt -o rm …`: no priority given, this is the program
        if positionals:
            positionals -= 1
            i += 1
            if positionals:
                continue
        break  # options stop at the first operand (getopt's `+`)
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
    """A nested shell: its ``-c`` script (and fish's ``-C``) analysed in turn; a script read from
    standard input or a descriptor (``-s``, no operand, ``/dev/stdin``, ``/dev/fd/N``) is a problem."""
    name = words[0].text
    with_arg = "oOCpdfD" if name == "fish" else SHELL.with_arg
    command_mode = reads_stdin = False
    scripts: list[Word] = []
    i = 1
    while i < len(words) and words[i].text[:1] in ("-", "+") and words[i].text not in ("-", "--"):
        word, text = words[i], words[i].text
        after = words[i + 1] if i + 1 < len(words) else Word("")
        if not word.known:
            result.problems.append(f"an option of {name} ({text!r}) is only known when it runs")
            return
        if text.startswith("--"):
            option, eq, value = text[2:].partition("=")
            if option in ("command", "init-command"):
                scripts.append(Word(value) if eq else after)
            i += 2 if not eq and option in SHELL.long_with_arg else 1
            continue
        command_mode |= "c" in text
        reads_stdin |= "s" in text
        if name == "fish" and "C" in text:
            attached = text[text.index("C") + 1:]
            scripts.append(Word(attached) if attached else after)
        i += 2 if any(letter in with_arg for letter in text[1:]) else 1
    if i < len(words) and words[i].text in ("-", "--"):
        i += 1
    operands = words[i:]
    for script in scripts:
        _script(name, script, depth, result)
    if command_mode:
        if not operands:
            result.problems.append(f"{name} -c is given no script here (it would come from elsewhere, e.g. "
                                   "xargs), which cannot be checked")
        else:
            _script(name, operands[0], depth, result)
    elif reads_stdin or not operands:
        result.problems.append(f"{name} reads its commands from standard input, which cannot be checked")
    elif not operands[0].known:
        result.problems.append(f"the script {name} runs is only known when the command runs")
    elif reads_descriptor(operands[0].text):
        result.problems.append(f"{name} {operands[0].text} reads its commands from standard input or a file "
                               "descriptor, which cannot be checked")


def _script(name: str, script: Word, depth: int, result: Analysis) -> None:
    if script.known:
        _nested(script.text, depth, result)
    else:
        result.problems.append(f"the script given to {name} -c is only known when it runs")


def _source(words: Form, result: Analysis) -> None:
    """``source FILE`` runs a script file, beyond any rule; one read from a descriptor
    (``<(…)``, ``/dev/stdin``, ``/dev/fd/N``) or only known at run time cannot be checked."""
    name, operands = words[0].text, words[1:]
    if operands and operands[0].text == "-p":
        operands = operands[2:]  # bash 5.3: source -p PATH FILE
    if operands and operands[0].text == "--":
        operands = operands[1:]
    if not operands:
        return
    if not operands[0].known:
        result.problems.append(f"the script {name} runs is only known when the command runs")
    elif reads_descriptor(operands[0].text):
        result.problems.append(f"{name} {operands[0].text} runs commands read from standard input or a file "
                               "descriptor, which cannot be checked")


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
            if end > i + 1:  # `{}` is a file name, only known when find runs
                unwrap(tuple(Word(w.text, w.known and "{}" not in w.text) for w in words[i + 1:end]), depth + 1,
                       result)
            i = end
        i += 1


def _nested(script: str, depth: int, result: Analysis) -> None:
    inner = analyse(script, depth + 1)
    result.commands.extend(inner.commands)
    result.problems.extend(inner.problems)

"""The command-line grammars of programs that run other programs, for ``agent.policy.shell_unwrap``.

``WRAPPERS`` maps each program that runs the program named in its arguments (``env``,
``sudo``, ``timeout``, ``busybox``, ``chroot``…) to its ``Options``: which options take an
argument, how many operands come before the program, whether it starts a shell reading
standard input when no program is given. ``SHELLS`` run a script given with ``-c`` or read
from a file. ``OPAQUE`` programs run commands in ways too varied to follow (``parallel``,
``ssh``, ``systemd-run``, ``tmux``…): under any command deny rule they cannot be checked.
``reads_descriptor`` says whether a script path is standard input or a file descriptor.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Options:
    """A wrapper's command line: which options take an argument, what comes before the program."""

    with_arg: str = ""
    flags: str = ""
    long_with_arg: frozenset[str] = frozenset()
    long_flags: frozenset[str] = frozenset()
    positionals: int = 0  # operands before the program (timeout's duration, chroot's directory)
    assignments: bool = False  # NAME=value words before the program (env, sudo)
    digits: bool = False  # -N as an option (nice -10)
    optional: str = ""  # short options whose argument, if any, is attached (xargs -i{})
    shape: str = ""  # a positional must look like this, else it is the program (chrt's priority)
    shell_default: bool = False  # with no program it starts a shell reading standard input


def _set(*names: str) -> frozenset[str]:
    return frozenset(names)


_RESOURCES = _set("core", "data", "nice", "fsize", "sigpending", "memlock", "rss", "nofile", "msgqueue", "rtprio",
                  "stack", "cpu", "nproc", "as", "locks", "rttime")
_NAMESPACES = _set("mount", "uts", "ipc", "net", "pid", "user", "cgroup", "time")

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
    "busybox": Options(),  # busybox APPLET args
    "flock": Options("wE", "sexnoFu", _set("timeout", "wait", "conflict-exit-code"),
                     _set("shared", "exclusive", "unlock", "nonblock", "nb", "close", "no-fork", "verbose"),
                     positionals=1),  # flock FILE PROG…, or flock FILE -c SCRIPT (see agent.policy.shell_unwrap)
    "chroot": Options(long_with_arg=_set("userspec", "groups"), long_flags=_set("skip-chdir"), positionals=1,
                      shell_default=True),
    "watch": Options("nq", "bcCegprtwx", _set("interval", "equexit"),
                     _set("beep", "color", "no-color", "differences", "errexit", "chgexit", "precise", "no-rerun",
                          "no-title", "no-wrap", "exec", "no-linewrap"), optional="d"),
    "unshare": Options("RwSGl", "muinpUCTfrc",
                       _set("propagation", "setgroups", "root", "wd", "setuid", "setgid", "monotonic", "boottime",
                            "map-user", "map-group", "map-users", "map-groups", "load-interp"),
                       _NAMESPACES | _set("fork", "kill-child", "mount-proc", "mount-binfmt", "map-root-user",
                                          "map-current-user", "map-auto", "keep-caps"), shell_default=True),
    "nsenter": Options("tSGN", "aceFZ", _set("target", "setuid", "setgid", "net-socket", "wdns"),
                       _NAMESPACES | _set("all", "root", "wd", "user-parent", "preserve-credentials", "keep-caps",
                                          "no-fork", "follow-context", "env"),
                       optional="muinpCUTrwW", shell_default=True),
    "taskset": Options(flags="acp", long_flags=_set("all-tasks", "pid", "cpu-list"), positionals=1,
                       shape=r"[0-9a-fA-FxX,:\-]+"),
    "chrt": Options("TPD", "abdefimoprRv", _set("sched-runtime", "sched-period", "sched-deadline"),
                    _set("all-tasks", "batch", "deadline", "ext", "fifo", "idle", "max", "other", "pid", "rr",
                         "reset-on-fork", "verbose"), positionals=1, shape=r"[+-]?[0-9]+"),
    "prlimit": Options("op", "", _set("output", "pid"), _RESOURCES | _set("noheadings", "raw", "verbose"),
                       optional="cdefilmnqrstuvxy"),
    "strace": Options("abeEIoOpPsSuUX", "AcCdDfFhiknqrtTvVwxyYzZ",
                      _set("attach", "columns", "detach-on", "env", "expr", "decode-fds", "trace", "trace-path",
                           "output", "signal", "status", "summary-columns", "summary-sort-by", "string-limit",
                           "user", "quiet", "absolute-timestamps", "seccomp-bpf", "kvm", "const-print-style"),
                      _set("follow-forks", "output-separately", "summary", "summary-only", "summary-wall-clock",
                           "debug", "daemonize", "instruction-pointer", "stack-trace", "no-abbrev", "verbose",
                           "relative-timestamps", "syscall-times", "decode-pids", "failed-only", "successful-only",
                           "tips")),
    "setpriv": Options(flags="dv",
                       long_with_arg=_set("ruid", "euid", "rgid", "egid", "reuid", "regid", "groups", "inh-caps",
                                          "ambient-caps", "bounding-set", "securebits", "pdeathsig", "selinux-label",
                                          "apparmor-profile", "landlock-access", "landlock-rule", "ptracer"),
                       long_flags=_set("dump", "verbose", "clear-groups", "keep-groups", "init-groups", "reset-env",
                                       "nnp", "no-new-privs")),
    "pkexec": Options(long_with_arg=_set("user"), long_flags=_set("disable-internal-agent", "keep-cwd")),
}

# su, runuser and script parse their options anywhere on the line (getopt permutes them).
SU = Options("cCgGsPw", "flmp", _set("command", "session-command", "group", "supp-group", "shell",
                                     "whitelist-environment", "user"),
             _set("fast", "login", "preserve-environment", "pty"))
RUNUSER = Options("cCgGsPwu", "flmp", SU.long_with_arg | _set("user"), SU.long_flags)
SCRIPT = Options("BcEIOmoT", "aefq", _set("log-io", "command", "echo", "log-in", "log-out", "logging-format",
                                           "output-limit", "log-timing"),
                 _set("append", "return", "flush", "force", "quiet", "timing"), optional="t")

GIT = Options("Cc", "pPhv", _set("git-dir", "work-tree", "namespace", "super-prefix", "config-env", "attr-source",
                                 "list-cmds"),
              _set("paginate", "no-pager", "bare", "no-replace-objects", "literal-pathspecs", "glob-pathspecs",
                   "noglob-pathspecs", "icase-pathspecs", "no-optional-locks", "no-advice", "exec-path", "version",
                   "help", "html-path", "man-path", "info-path", "no-lazy-fetch"))
SHELL = Options("oOC", "abefhkmnptuvxBEHPTilrsD", _set("rcfile", "init-file", "command", "init-command"))
SHELLS = frozenset({"bash", "sh", "zsh", "dash", "ksh", "mksh", "ash", "rbash", "yash", "posh", "oksh", "loksh",
                    "fish", "csh", "tcsh"})
EVALUATORS = frozenset({"eval", "trap"})
OPAQUE = frozenset({
    "parallel", "sem", "ssh", "systemd-run", "machinectl", "systemd-nspawn", "tmux", "screen", "at", "batch",
    "sg", "newgrp", "setarch", "linux32", "linux64", "numactl", "cgexec", "firejail", "bwrap", "fakeroot", "proot",
    "schroot", "valgrind", "ltrace", "gdb", "catchsegv", "unbuffer", "expect", "xvfb-run", "dbus-run-session",
    "run-parts", "start-stop-daemon", "daemonize", "chpst", "torsocks", "proxychains", "proxychains4",
})
PERMUTED = frozenset({"su", "runuser", "script"})
RUNS_OTHERS = frozenset(WRAPPERS) | SHELLS | EVALUATORS | OPAQUE | PERMUTED | {"find", "source", "."}

_DESCRIPTOR = re.compile(r"/dev/(?:stdin|fd(?:/.*)?)|/proc/[^/]+/(?:task/[^/]+/)?fd(?:/.*)?")


def reads_descriptor(path: str) -> bool:
    """Whether a script path is standard input or an open file descriptor (``-``, ``/dev/stdin``,
    ``/dev/fd/N``, ``/proc/self/fd/N``, however spelt: ``//dev/./stdin``, ``../../dev/fd/0``)."""
    if path == "-":
        return True
    return bool(_DESCRIPTOR.fullmatch(posixpath.normpath("/" + path.lstrip("/"))))

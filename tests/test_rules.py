"""Command and path rules (issue 18): every spelling of `git push`, in every mode, under a deny
rule, an allow rule and no rule; session grants and "approve always"; path rules on wcmatch.

Each row of ``SPELLINGS`` is a command line, what a ``run_command(git push *)`` deny rule makes
of it (``DENY``: refused in every mode; ``UNSURE``: cannot be analysed, so refused in bypass,
acceptEdits and readOnly, asked with a reason in ask; ``FREE``: the rule does not apply), and
whether the allow rules ``run_command(git push *)``, ``run_command(pytest *)`` run it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.policy.permissions import Action, Allow, Ask, Deny, PermissionPolicy, always_rules, session_key
from agent.protocol import PermissionMode, TextPart
from agent.policy.rules import Rule, RuleFile, denies_path, parse_rule, rule_matches
from agent_run import Run
from fake_anthropic import FakeAnthropic, Reply, text, tool_use

DENY, UNSURE, FREE = "deny", "unsure", "free"
RULE, ASKS = True, False
MODES: list[PermissionMode] = ["ask", "acceptEdits", "readOnly", "bypass"]

SPELLINGS: list[tuple[str, str, bool]] = [
    # the plain forms, and the five spellings that were already refused
    ("git push origin main", DENY, RULE),
    ("git push", DENY, RULE),
    ("echo hi; git push origin main", DENY, ASKS),
    ("echo hi && git push origin main", DENY, ASKS),
    ("echo hi||git push", DENY, ASKS),
    ("git   push\torigin main", DENY, RULE),
    # the sixteen spellings that ran before
    ("echo $(git push origin main)", DENY, ASKS),
    ("echo `git push`", DENY, ASKS),
    ("bash -c 'git push origin main'", DENY, ASKS),
    ('sh -c "git push"', DENY, ASKS),
    ("eval 'git push origin main'", DENY, ASKS),
    ("/usr/bin/git push origin main", DENY, ASKS),
    ("GIT_DIR=.git git push origin main", DENY, ASKS),
    ("env git push", DENY, ASKS),
    ("command git push", DENY, ASKS),
    ("timeout 5 git push", DENY, ASKS),
    ("nohup git push", DENY, ASKS),
    ("xargs git push", DENY, ASKS),
    ("git -C . push origin main", DENY, ASKS),
    ("(git push)", DENY, ASKS),
    ("{ git push; }", DENY, ASKS),
    ("git \\\npush origin main", DENY, RULE),
    # quoting tricks
    ("'git' push", DENY, RULE),
    ('g"it" push', DENY, RULE),
    ("git\\ push", DENY, ASKS),
    ("\"git\" 'push' origin", DENY, RULE),
    # more places a command hides, more wrappers, more nested shells
    ("cat <(git push)", DENY, ASKS),
    ('x="$(git push)"', DENY, ASKS),
    ("echo ok | git push", DENY, ASKS),
    ("git push &", DENY, ASKS),
    ("(git push) > out.txt 2>&1", DENY, ASKS),
    ("if true; then git push; fi", DENY, ASKS),
    ("for r in a b; do git push $r; done", DENY, ASKS),
    ("while false; do git push; done", DENY, ASKS),
    ("f() { git push; }; f", DENY, ASKS),
    ("time git push", DENY, ASKS),
    ("timeout -s KILL 5 git push", DENY, ASKS),
    ("nice -n 5 git push", DENY, ASKS),
    ("nice -10 git push", DENY, ASKS),
    ("ionice -c 3 git push", DENY, ASKS),
    ("stdbuf -oL git push", DENY, ASKS),
    ("sudo -u deploy git push", DENY, ASKS),
    ("doas -u deploy git push", DENY, ASKS),
    ("env -i A=1 -u B git push", DENY, ASKS),
    ('env -S "git push"', DENY, ASKS),
    ("exec git push", DENY, ASKS),
    ("builtin eval 'git push'", DENY, ASKS),
    ("sudo sh -c 'cd /tmp && git push'", DENY, ASKS),
    ("bash -lc 'git push'", DENY, ASKS),
    ("zsh -c 'git push'", DENY, ASKS),
    ("bash -c \"bash -c 'git push'\"", DENY, ASKS),
    ("git -c user.name=x --no-pager --git-dir=.git push", DENY, ASKS),
    ("git --work-tree . -P push", DENY, ASKS),
    ("find . -maxdepth 0 -exec git push \\;", DENY, ASKS),
    ("trap 'git push' EXIT", DENY, ASKS),
    # issue 18, round 2: more wrappers, and the scripts they run
    ("busybox sh -c 'git push'", DENY, ASKS),
    ("busybox env git push", DENY, ASKS),
    ("flock /tmp/lock git push", DENY, ASKS),
    ("flock -w 5 /tmp/lock -c 'git push'", DENY, ASKS),
    ("chroot --userspec=me:me / git push", DENY, ASKS),
    ("watch -n 60 git push", DENY, ASKS),
    ("watch 'git push origin main'", DENY, ASKS),
    ("watch -x git push", DENY, ASKS),
    ("unshare -rn git push", DENY, ASKS),
    ("unshare --mount=/run/ns -f git push", DENY, ASKS),
    ("nsenter -t 1 -m git push", DENY, ASKS),
    ("taskset -c 0-1 git push", DENY, ASKS),
    ("taskset 0x3 git push", DENY, ASKS),
    ("chrt -f 10 git push", DENY, ASKS),
    ("chrt -o git push", DENY, ASKS),
    ("prlimit --nofile=64 -n64 git push", DENY, ASKS),
    ("strace -f -o /dev/null git push", DENY, ASKS),
    ("su -c 'git push' deploy", DENY, ASKS),
    ("su deploy -c 'git push'", DENY, ASKS),
    ("su - deploy -- -c 'git push'", DENY, ASKS),
    ("runuser -u deploy -- git push", DENY, ASKS),
    ("runuser -u deploy git push", DENY, ASKS),
    ("script -qc 'git push' /dev/null", DENY, ASKS),
    ("setpriv --reuid=1000 --clear-groups git push", DENY, ASKS),
    ("pkexec --user deploy git push", DENY, ASKS),
    ("fish -c 'git push'", DENY, ASKS),
    ("find . -maxdepth 0 -exec git push {} \\;", DENY, ASKS),
    # what cannot be analysed
    ("source <(echo git push origin main)", UNSURE, ASKS),
    (". <(echo git push)", UNSURE, ASKS),
    ("source /dev/stdin <<< 'git push'", UNSURE, ASKS),
    (". /dev/fd/3 3<<< 'git push'", UNSURE, ASKS),
    ("bash /dev/stdin <<< 'git push'", UNSURE, ASKS),
    ("echo 'git push' | sh /dev/stdin", UNSURE, ASKS),
    ("bash /dev/fd/0 <<< 'git push'", UNSURE, ASKS),
    ("sh /proc/self/fd/0 <<< 'git push'", UNSURE, ASKS),
    ("echo 'git push' | bash //dev/./stdin", UNSURE, ASKS),
    ("echo 'git push' | sh -", UNSURE, ASKS),
    ("BASH_ENV=<(echo git push) bash build.sh", UNSURE, ASKS),
    ("echo 'git push' | chroot /", UNSURE, ASKS),
    ("echo 'git push' | su", UNSURE, ASKS),
    ("echo 'git push' | script -q /dev/null", UNSURE, ASKS),
    ("echo 'git push' | unshare -r", UNSURE, ASKS),
    ("echo 'git push' | sudo -s", UNSURE, ASKS),
    ("parallel git ::: push", UNSURE, ASKS),
    ("systemd-run --user git push", UNSURE, ASKS),
    ("ssh localhost git push", UNSURE, ASKS),
    ("echo git push | xargs -I{} sh -c '{}'", UNSURE, ASKS),
    ("echo git push | xargs sh -c", UNSURE, ASKS),
    ("echo git push | xargs env", UNSURE, ASKS),
    ("echo push | xargs git", UNSURE, ASKS),
    ("find . -name '*.sh' -exec sh -c {} \\;", UNSURE, ASKS),
    ("flock /tmp/lock -c \"$SCRIPT\"", UNSURE, ASKS),
    ("su -s \"$SH\" deploy", UNSURE, ASKS),
    ("$CMD push", UNSURE, ASKS),
    ("$(echo git) push", UNSURE, ASKS),
    ("git $SUB origin", UNSURE, ASKS),
    ("echo git push | bash", UNSURE, ASKS),
    ("bash < script.txt", UNSURE, ASKS),
    ('bash -c "$SCRIPT"', UNSURE, ASKS),
    ('eval "$X"', UNSURE, ASKS),
    ("echo ${X:-$(git push)}", UNSURE, ASKS),
    ("cat <<EOF\n$(git push)\nEOF", UNSURE, ASKS),
    ("case x in x) git push;; esac", UNSURE, ASKS),
    ("echo $((1 + 2))", UNSURE, ASKS),
    ("echo 'unclosed", UNSURE, ASKS),
    ("git -c alias.p=push p", UNSURE, ASKS),
    ("$'git' push", UNSURE, ASKS),
    ("{git,push} origin", UNSURE, ASKS),
    ("gi? push", UNSURE, ASKS),
    # what the rule does not name
    ("git status", FREE, ASKS),
    ("git log --grep push", FREE, ASKS),
    ("echo git push", FREE, ASKS),
    ("pytest -q", FREE, RULE),
    ("'pytest' tests/test_rules.py", FREE, RULE),
    ("pytest -k 'push or pull'", FREE, RULE),
    ("pytest; rm -rf build", FREE, ASKS),
    ("pytest && git status", FREE, ASKS),
    ("pytest > log.txt", FREE, ASKS),
    ("pytest $(cat args)", FREE, ASKS),
    ("FOO=1 pytest", FREE, ASKS),
    ("timeout 60 pytest", FREE, ASKS),
    ("cat <<'EOF'\n$(git push)\nEOF", FREE, ASKS),
    ("bash script.sh", FREE, ASKS),
    ("source .venv/bin/activate && pytest", FREE, ASKS),
    ("flock /tmp/lock pytest", FREE, ASKS),
    ("watch -n 5 git status", FREE, ASKS),
    ("taskset -c 0 pytest -q", FREE, ASKS),
    ("xargs -0 grep push", FREE, ASKS),
    ("timeout 5 -v git push", FREE, ASKS),  # timeout's options end at its duration: it runs `-v`
    ("su deploy -c 'git status'", FREE, ASKS),
]


def policy(tmp_path: Path, mode: PermissionMode, **rules: list[str]) -> PermissionPolicy:
    settings = tmp_path / ".agent-lsp" / "settings.json"
    settings.parent.mkdir(exist_ok=True)
    settings.write_text(json.dumps({"permissions": rules}))
    return PermissionPolicy(mode, RuleFile(tmp_path))


def command(text: str) -> Action:
    return Action("run_command", "command", (text,))


def default(mode: PermissionMode) -> type:
    return {"ask": Ask, "acceptEdits": Ask, "readOnly": Deny, "bypass": Allow}[mode]


def test_the_table_is_large_and_names_every_spelling_of_the_issue() -> None:
    assert len(SPELLINGS) >= 40
    assert len({row[0] for row in SPELLINGS}) == len(SPELLINGS)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("line", "under_deny", "allowed"), SPELLINGS, ids=[repr(r[0])[:40] for r in SPELLINGS])
def test_spelling_under_a_deny_rule(tmp_path: Path, mode: PermissionMode, line: str, under_deny: str,
                                    allowed: bool) -> None:
    verdict = policy(tmp_path, mode, deny=["run_command(git push *)"]).check("t", command(line))
    if under_deny == DENY:
        assert isinstance(verdict, Deny) and "deny rule (run_command(git push *))" in verdict.message
    elif under_deny == UNSURE and mode == "ask":
        assert isinstance(verdict, Ask) and verdict.reason and "cannot be checked" in verdict.reason
    elif under_deny == UNSURE:
        assert isinstance(verdict, Deny)
        assert ("readOnly" if mode == "readOnly" else "cannot be checked against the deny rule") in verdict.message
    else:  # the deny rule is silent: the mode decides
        assert isinstance(verdict, default(mode))
        assert not isinstance(verdict, Ask) or verdict.reason is None


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("line", "under_deny", "allowed"), SPELLINGS, ids=[repr(r[0])[:40] for r in SPELLINGS])
def test_spelling_under_allow_rules(tmp_path: Path, mode: PermissionMode, line: str, under_deny: str,
                                    allowed: bool) -> None:
    verdict = policy(tmp_path, mode, allow=["run_command(git push *)", "run_command(pytest *)"]).check(
        "t", command(line))
    if allowed and mode in ("ask", "acceptEdits"):
        assert verdict == Allow()
    else:
        assert isinstance(verdict, default(mode))
        assert not isinstance(verdict, Ask) or verdict.reason is None


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("line", "under_deny", "allowed"), SPELLINGS, ids=[repr(r[0])[:40] for r in SPELLINGS])
def test_spelling_under_no_rule(tmp_path: Path, mode: PermissionMode, line: str, under_deny: str,
                                allowed: bool) -> None:
    verdict = PermissionPolicy(mode, RuleFile(tmp_path)).check("t", command(line))
    assert isinstance(verdict, default(mode))
    assert not isinstance(verdict, Ask) or verdict.reason is None


def test_a_deny_rule_without_pattern_refuses_every_command(tmp_path: Path) -> None:
    verdict = policy(tmp_path, "bypass", deny=["run_command"]).check("t", command("ls"))
    assert isinstance(verdict, Deny)


def test_an_unanalysable_command_is_never_allowed_by_a_rule(tmp_path: Path) -> None:
    for line in ["eval \"$X\"", "$CMD", "case x in x) ls;; esac"]:
        assert policy(tmp_path, "ask", allow=["run_command(*)"]).check("t", command(line)) == Ask()


def test_an_exact_allow_rule_names_one_compound_line(tmp_path: Path) -> None:
    checker = policy(tmp_path, "ask", allow=["run_command(make && make test)"])
    assert checker.check("t", command("make && make test")) == Allow()
    assert checker.check("t", command("make && make install")) == Ask()


# --- session grants and "approve always" --------------------------------------------------------

@pytest.mark.parametrize(("line", "key", "saved"), [
    ("pytest -q", "command:pytest", ["run_command(pytest *)"]),
    ("'pytest' -q", "command:pytest", ["run_command(pytest *)"]),
    ("ls && rm -rf build", "command-exact:ls && rm -rf build", ["run_command(ls && rm -rf build)"]),
    ("bash -c 'ls'", "command-exact:bash -c 'ls'", ["run_command(bash -c 'ls')"]),
    ("env ls *.py", "command-exact:env ls *.py", []),  # as a pattern, `*` would widen it
    ("eval \"$X\"", None, []),
])
def test_what_a_session_grant_and_approve_always_cover(line: str, key: str | None, saved: list[str]) -> None:
    assert session_key(command(line)) == key
    assert [str(rule) for rule in always_rules(command(line))] == saved


def test_a_session_grant_covers_the_program_of_a_simple_command_only(tmp_path: Path) -> None:
    checker = PermissionPolicy("ask", RuleFile(tmp_path))
    checker.remember("t", command("pytest -q"), "approveForSession")
    assert checker.check("t", command("pytest -x tests")) == Allow()
    assert checker.check("t", command("pytest -q; touch sneaky")) == Ask()
    assert checker.check("t", command("$(echo pytest) -q")) == Ask()
    assert checker.check("other thread", command("pytest -q")) == Ask()
    checker.remember("t", command("ls && rm -rf build"), "approveForSession")
    assert checker.check("t", command("ls && rm -rf build")) == Allow()
    assert checker.check("t", command("ls && rm -rf ~")) == Ask()
    checker.remember("t", command("bash -c 'ls'"), "approveForSession")
    assert checker.check("t", command("bash -c 'rm -rf ~'")) == Ask()


def test_a_session_grant_never_beats_a_deny_rule_or_a_doubt(tmp_path: Path) -> None:
    checker = policy(tmp_path, "ask", deny=["run_command(git push *)"])
    checker.remember("t", command("git status"), "approveForSession")
    assert checker.check("t", command("git log")) == Allow()
    assert isinstance(checker.check("t", command("git push")), Deny)
    verdict = checker.check("t", command("git $SUB"))
    assert isinstance(verdict, Ask) and verdict.reason and "'$SUB' is only known when it runs" in verdict.reason


def test_approve_always_saves_the_rule_and_it_allows_the_next_time(tmp_path: Path) -> None:
    checker = PermissionPolicy("ask", RuleFile(tmp_path))
    assert checker.remember("t", command("ls && rm -rf build"), "approveAlways") is None
    saved = json.loads((tmp_path / ".agent-lsp" / "settings.json").read_text())
    assert saved == {"permissions": {"allow": ["run_command(ls && rm -rf build)"]}}
    assert PermissionPolicy("ask", RuleFile(tmp_path)).check("u", command("ls && rm -rf build")) == Allow()


@pytest.mark.parametrize(("path", "saved", "near_misses"), [
    ("app/[id]/page.tsx", "app/\\[id\\]/page.tsx", ["app/i/page.tsx", "app/d/page.tsx", "app/[id]/page.ts"]),
    ("src/{a,b}.ts", "src/\\{a,b\\}.ts", ["src/a.ts", "src/b.ts"]),
    ("notes/wh?t*.md", "notes/wh\\?t\\*.md", ["notes/what.md", "notes/whit-else.md"]),
    ("docs/[!x]\\[y].md", "docs/\\[!x\\]\\\\\\[y\\].md", ["docs/a\\y.md", "docs/a[y].md"]),
    ("lib/**/x.py", "lib/\\*\\*/x.py", ["lib/a/x.py", "lib/x.py"]),
    (" padded.txt ", "[ ]padded.txt[ ]", ["padded.txt", " padded.txt"]),
    ("plain/file.py", "plain/file.py", ["plain/file.pyc", "plain/file_py"]),
])
def test_approve_always_on_a_path_saves_a_rule_for_that_path_alone(tmp_path: Path, path: str, saved: str,
                                                                  near_misses: list[str]) -> None:
    action = Action("edit_file", "edit", (path,))
    assert [str(rule) for rule in always_rules(action)] == [f"edit_file({saved})"]
    assert PermissionPolicy("ask", RuleFile(tmp_path)).remember("t", action, "approveAlways") is None
    checker = PermissionPolicy("ask", RuleFile(tmp_path))  # a new session: only the saved rule answers
    assert checker.check("u", action) == Allow()
    for other in near_misses:
        assert checker.check("u", Action("edit_file", "edit", (other,))) == Ask(), other


# --- path rules ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("pattern", "path", "expected"), [
    ("src/**", "src/a/b.py", True),
    ("src/**", "lib/a.py", False),
    ("src/*", "src/a.py", True),
    ("src/*", "src/a/b.py", False),
    ("*.py", "a.py", True),
    ("*.py", "pkg/a.py", False),
    ("**/*.py", "a.py", True),
    ("**/*.py", "pkg/deep/a.py", True),
    ("**/*.{py,pyi}", "pkg/a.pyi", True),
    (".env", ".env", True),
    (".env", "sub/.env", False),
    ("**/.env", "sub/.env", True),
    ("*", ".env", True),
    ("secret?.txt", "secret1.txt", True),
    ("secret[!0-9].txt", "secret1.txt", False),
    ("a\\*b", "a*b", True),
    ("a\\*b", "axb", False),
])
def test_path_rules_use_the_glob_dialect_of_the_search_tools(pattern: str, path: str, expected: bool) -> None:
    assert rule_matches(Rule("edit_file", pattern), "edit_file", path, for_allow=True) is expected
    assert denies_path(Rule("read_file", pattern), path) is expected


def test_a_path_deny_rule_hides_the_path_from_every_file_tool(tmp_path: Path) -> None:
    checker = policy(tmp_path, "bypass", deny=["read_file(.env)", "edit_file(src/**)"])
    assert isinstance(checker.check("t", Action("grep", "read", (".env",))), Deny)
    assert isinstance(checker.check("t", Action("write_file", "edit", ("src/x/y.py",))), Deny)
    assert checker.check("t", Action("write_file", "edit", ("lib/y.py",))) == Allow()
    assert checker.path_denied(".env") and not checker.path_denied("env")


def test_rules_that_are_not_rules_say_how_to_write_one() -> None:
    with pytest.raises(ValueError, match=r"write TOOL or TOOL\(pattern\)"):
        parse_rule("run_command(")


# --- through the harness: the approval says why ---------------------------------------------------

async def test_an_unanalysable_command_under_a_deny_rule_asks_and_says_why(run: Run, fake: FakeAnthropic,
                                                                        root: Path) -> None:
    (root / ".agent-lsp").mkdir()
    (root / ".agent-lsp" / "settings.json").write_text(json.dumps({"permissions": {
        "deny": ["run_command(git push *)"]}}))
    fake.script(Reply([tool_use("run_command", {"command": "echo hi | bash"})]), Reply([text("ok")]))
    thread_id = run.harness.start_thread("t").id
    run.harness.start_turn(thread_id, [TextPart(text="go")])
    asked = await run.until("approval/requested")
    assert "cannot be checked against the deny rule run_command(git push *)" in asked.approval.title
    assert "reads its commands from standard input" in asked.approval.title
    run.harness.respond(asked.approval.id, "reject", None, "request")
    await run.harness.wait(thread_id)

"""Secrets never leak: the API key, secret-named variables and values listed in settings are
redacted from events, the store (read raw), the transcript sent to the model, and streams,
even when a value is split across deltas; malformed URIs and paths are refused clearly."""

from __future__ import annotations

import json
import math
import os
import sqlite3
from pathlib import Path

import pytest

from agent.config import Settings
from agent.engine.input import render_input
from agent.protocol import DiagnosticPart, Range, SelectionPart
from agent.policy.secrets import Secret, Secrets, SecretSource, child_environment
from agent.files.workspace import ToolError, Workspace, uri_to_path
from agent_run import Run
from fake_anthropic import FakeAnthropic, Reply, text, tool_use

KEY = "sk-ant-api03-" + "Zq7xW2pL9mK4vB8nR1tY6uE3o"  # 38 characters
BYPASS = [Settings(permission_mode="bypass")]


# --- the redaction itself ----------------------------------------------------------------------


def test_redact_hides_every_value_and_merges_overlaps() -> None:
    secrets = Secrets.of([Secret("abcdefgh", "A"), Secret("efghijkl", "B"), Secret("zzzzzzzz", "C")])
    assert secrets.redact("x abcdefghijkl y zzzzzzzz") == "x [redacted: A] y [redacted: C]"
    assert secrets.redact("nothing here") == "nothing here"
    nested = {"content": [{"type": "text", "text": "key abcdefgh"}, ("zzzzzzzz", 3)], "n": None}
    assert secrets.redact_json(nested) == {
        "content": [{"type": "text", "text": "key [redacted: A]"}, ["[redacted: C]", 3]], "n": None}


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 13])
def test_a_stream_never_shows_a_secret_and_adds_up_to_the_redacted_text(size: int) -> None:
    secrets = Secrets.of([Secret(KEY, "API key"), Secret("ghp_0123456789", "GH_TOKEN"), Secret("aaaaaaaa", "A")])
    whole = f"start {KEY} mid sk-ant- ghp_0123 {KEY}{KEY} aaaaaaaaaaaa ghp_0123456789 end s"
    stream = secrets.stream()
    shown = [stream.push(whole[i:i + size]) for i in range(0, len(whole), size)] + [stream.flush()]
    assert "".join(shown) == secrets.redact(whole)
    assert KEY not in "".join(shown) and "ghp_0123456789" not in "".join(shown)


def test_which_environment_values_are_secret(tmp_path: Path) -> None:
    env = {"ANTHROPIC_API_KEY": KEY, "GITHUB_TOKEN": "ghp_realtoken123", "DB_PASSWORD": "correct horse",
           "my_service_pat": "pat-0123456789", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG",
           "DEBUG_KEY": "1", "FEATURE_TOKEN": "disabled", "PASSWORD_STORE_DIR": "/home/me/.password-store",
           "RETRY_TOKEN": "1234567890", "HOME": "/home/me", "EDITOR_THEME": "solarized-dark"}
    found = {s.label: s.value for s in SecretSource(environ=env).current().values}
    assert found == {"API key": KEY, "GITHUB_TOKEN": "ghp_realtoken123", "DB_PASSWORD": "correct horse",
                     "my_service_pat": "pat-0123456789", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG"}


def test_settings_listed_values_are_read_and_reread_when_the_file_changes(tmp_path: Path) -> None:
    source = SecretSource(tmp_path, environ={})
    assert source.current().values == ()
    settings = tmp_path / ".agent-lsp" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps({"permissions": {"allow": []}, "redact": ["db-pass-4711", "ab", 7]}))
    assert [s.value for s in source.current().values] == ["db-pass-4711"]  # too short / not text: ignored
    settings.write_text(json.dumps({"redact": ["another-one-99", "db-pass-4711"]}))
    os.utime(settings, ns=(1, 1))  # a different stamp even within the same clock tick
    assert sorted(s.value for s in source.current().values) == ["another-one-99", "db-pass-4711"]
    settings.write_text("{not json")
    assert source.current().values == ()


def test_commands_lose_the_anthropic_credentials_but_keep_other_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "bearer-token-0123")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_realtoken123")
    env = child_environment()
    assert "ANTHROPIC_API_KEY" not in env and "ANTHROPIC_AUTH_TOKEN" not in env
    assert env["GITHUB_TOKEN"] == "ghp_realtoken123"


def test_a_selection_of_a_secret_file_is_redacted_in_the_user_message(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_SECRET", "sk_live_0123456789abc")
    (root / ".env").write_text("STRIPE_SECRET=sk_live_0123456789abc\n")
    workspace = Workspace(root)
    part = SelectionPart(uri=(root / ".env").as_uri(), range=Range.model_validate(
        {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 5}}))
    rendered = json.dumps(render_input([part], workspace))
    assert "sk_live_0123456789abc" not in rendered and "[redacted: STRIPE_SECRET]" in rendered


# --- URIs and paths --------------------------------------------------------------------------------


@pytest.mark.parametrize(("uri", "reason"), [
    ("file:///tmp/a%00b.py", "%00"),
    ("file:///tmp/a\x00b.py", "NUL"),
    ("file:///tmp/a%zz.py", "invalid percent-escape"),
    ("file:///tmp/a%", "invalid percent-escape"),
    ("file:///tmp/%ff.py", "not UTF-8"),
    ("untitled:Untitled-1", "only file://"),
    ("/tmp/a.py", "not a URI"),
    ("file://server/share/a.py", "on host 'server'"),
])
def test_uri_to_path_refuses_bad_uris_saying_why(uri: str, reason: str) -> None:
    with pytest.raises(ToolError, match=reason):
        uri_to_path(uri)


def test_uri_to_path_decodes_good_uris() -> None:
    assert uri_to_path("file:///tmp/a%20b%25c.py") == Path("/tmp/a b%c.py")
    assert uri_to_path("file://localhost/tmp/x.py") == Path("/tmp/x.py")


def test_resolve_refuses_nul_and_takes_file_uris(root: Path) -> None:
    workspace = Workspace(root)
    with pytest.raises(ToolError, match="NUL"):
        workspace.resolve("a\x00b.py")
    with pytest.raises(ToolError, match="%00"):
        workspace.resolve(root.as_uri() + "/a%00b.py")
    assert workspace.resolve((root / "calc.py").as_uri()) == root.resolve() / "calc.py"
    assert workspace.resolve("100%.txt") == root.resolve() / "100%.txt"  # a path is not a URI


def test_input_parts_refuse_malformed_uris() -> None:
    with pytest.raises(ValueError, match="invalid percent-escape"):
        DiagnosticPart.model_validate({"uri": "file:///a%zz.py", "diagnostic": {}})
    assert DiagnosticPart.model_validate({"uri": "untitled:x", "diagnostic": {}}).uri == "untitled:x"


# --- through the real harness ------------------------------------------------------------------------


def stored(db: Path) -> str:
    """Every row of every table of the store, read from the file itself."""
    con = sqlite3.connect(db)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert {"events", "items", "messages"} <= set(tables)
        rows = [r for table in tables for r in con.execute(f"SELECT * FROM {table}")]
    finally:
        con.close()
    return json.dumps(rows)


def everything_seen(run: Run, fake: FakeAnthropic, db: Path) -> str:
    return (json.dumps([r.body for r in fake.requests]) + json.dumps([e.to_wire() for e in run.events])
            + stored(db))


def deltas_of(run: Run) -> dict[str, str]:
    joined: dict[str, str] = {}
    for event in run.of_type("item/delta"):
        joined[event.item_id] = joined.get(event.item_id, "") + event.text
    return joined


@pytest.mark.parametrize("pieces", [2, 3, 7])
async def test_a_key_split_across_model_deltas_never_leaks(run: Run, fake: FakeAnthropic, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch, pieces: int) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    chunk = math.ceil(len(KEY) / pieces)
    said = f"{KEY} is your key."
    assert len({i // chunk for i in range(len(KEY))}) == pieces  # the key really spans `pieces` deltas
    fake.script(Reply([text(said), tool_use("read_file", {"path": "calc.py"})], chunk=chunk),
                Reply([text("done")], chunk=chunk))
    done = await run.turn("what is my key?")
    assert done.turn.status == "completed" and len(fake.requests) == 2
    message = run.items("agentMessage")[0]
    assert deltas_of(run)[message.id] == message.text == "[redacted: API key] is your key."
    assert len(run.of_type("item/delta")) >= 2
    seen = everything_seen(run, fake, tmp_path / "s.db") + json.dumps(deltas_of(run))
    assert KEY not in seen and KEY[:len(KEY) // 2] not in seen and KEY[len(KEY) // 2:] not in seen
    assert "[redacted: API key] is your key." in json.dumps(fake.requests[1].body["messages"])


@pytest.mark.parametrize("settings", BYPASS)
async def test_command_output_split_across_chunks_hides_a_secret_named_variable(
        run: Run, fake: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "svc-0123456789-abcdefghij"
    monkeypatch.setenv("MY_SERVICE_TOKEN", secret)
    command = ('printf "token=%s" "${MY_SERVICE_TOKEN:0:12}"; sleep 0.3; '
               'printf "%s done\\n" "${MY_SERVICE_TOKEN:12}"')
    fake.script(Reply([tool_use("run_command", {"command": command})]), Reply([text("ok")]))
    done = await run.turn("print it")
    assert done.turn.status == "completed"
    item = run.items("commandExecution")[0]
    streamed = [e.text for e in run.of_type("item/delta") if e.item_id == item.id]
    assert len(streamed) >= 2  # the output really came in more than one delta
    assert "".join(streamed) == "token=[redacted: MY_SERVICE_TOKEN] done\n" == item.output
    seen = everything_seen(run, fake, tmp_path / "s.db") + json.dumps(deltas_of(run))
    assert secret not in seen and secret[:12] not in seen and secret[12:] not in seen
    assert "[redacted: MY_SERVICE_TOKEN]" in json.dumps(fake.requests[1].body["messages"])


@pytest.mark.parametrize("settings", BYPASS)
async def test_a_value_listed_in_settings_is_hidden_everywhere(run: Run, fake: FakeAnthropic, root: Path,
                                                               tmp_path: Path) -> None:
    listed = "corp-db-pass-4711"
    (root / ".agent-lsp").mkdir()
    (root / ".agent-lsp" / "settings.json").write_text(json.dumps({"redact": [listed]}))
    (root / "config.ini").write_text(f"[db]\npassword = {listed}\n")
    fake.script(Reply([text(f"Reading config; the password may be {listed}."),
                       tool_use("read_file", {"path": "config.ini"})], chunk=5),
                Reply([text("found it")]))
    done = await run.turn(f"is the password {listed}?")
    assert done.turn.status == "completed"
    seen = everything_seen(run, fake, tmp_path / "s.db") + json.dumps(deltas_of(run))
    assert listed not in seen and listed[:8] not in seen
    sent = json.dumps(fake.requests[1].body["messages"])
    assert sent.count("[redacted: value listed in settings]") == 3  # the prompt, the reply, the file

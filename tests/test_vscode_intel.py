"""The agent sees what VS Code sees (issue 20), end to end in real VS Code: code-server in
Debian's Chromium with the extension and the fixture linter (`editors/vscode/e2e/intel.mjs`,
started through `e2e/run.sh` like tests/test_vscode.py's end-to-end test).

The fixture linter flags a line holding ``TODO-LINT`` and answers Go to Definition. The
scripted model (served by this file, see ``serve_fake``) adds the marker with ``edit_file``;
the next request must carry the linter's message as a new problem in that edit's tool result;
the model removes the marker, and the next tool result must report it fixed; then
``definition``, ``references``, ``hover`` and ``workspace_symbols`` must answer from the
fixture's providers. Each check runs in
the fake as the request arrives: a failed one is printed and fails the run.

Run as a script (``python tests/test_vscode_intel.py --port-file F``), this file is the
fake model API that intel.mjs starts inside the test's network namespace.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fake_anthropic import FakeAnthropic, Reply, text, tool_use
from test_vscode import EXTENSION, need, run

MARKER_MESSAGE = "fakelint: TODO-LINT marker must not be committed"  # e2e/fixture-linter
CALC = "def add(a, b):\n    return a + b\n\n\ntotal = add(1, 2)\n"  # intel.mjs writes it


def tool_results(body: dict[str, Any]) -> str:
    """The text of every tool_result in the request's last user message."""
    last = (body.get("messages") or [{}])[-1]
    out: list[str] = []
    for block in last.get("content") if isinstance(last.get("content"), list) else []:
        if block.get("type") != "tool_result":
            continue
        content = block.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out += [part.get("text", "") for part in content if isinstance(part, dict)]
    return "\n".join(out)


def expect(what: str, check: Callable[[str], bool], reply: Reply) -> Callable[[dict[str, Any]], Reply]:
    """A step that answers ``reply`` once the tool result passes ``check``; else says why, loudly."""
    def step(body: dict[str, Any]) -> Reply:
        seen = tool_results(body)
        if not check(seen):
            message = f"expected {what}; the tool result was:\n{seen}"
            print(f"[fake] {message}", file=sys.stderr, flush=True)
            raise AssertionError(message)
        print(f"[fake] ok: {what}: {' '.join(seen.split())[:300]}", file=sys.stderr, flush=True)
        return reply
    return step


def script() -> list[Reply | Callable[[dict[str, Any]], Reply]]:
    marked = "    return a + b  # TODO-LINT"
    return [
        Reply([tool_use("edit_file", {"path": "calc.py", "old_string": "    return a + b",
                                      "new_string": marked})]),
        expect("the linter's message as a new problem in the edit's result",
               lambda seen: "new:" in seen and MARKER_MESSAGE in seen and "[fakelint]" in seen
               and "todo-lint" in seen,
               Reply([tool_use("edit_file", {"path": "calc.py", "old_string": marked,
                                             "new_string": "    return a + b"})])),
        expect("the linter's message reported fixed",
               lambda seen: "fixed:" in seen and MARKER_MESSAGE in seen and "new:" not in seen,
               Reply([tool_use("definition", {"path": "calc.py", "line": 5, "column": 9})])),
        expect("add's definition at calc.py:1:5, from the fixture's DefinitionProvider",
               lambda seen: "calc.py:1:5" in seen,
               Reply([tool_use("references", {"path": "calc.py", "line": 1, "column": 5})])),
        expect("add's references at calc.py:1:5 and calc.py:5:9 (the fixture's ReferenceProvider)",
               lambda seen: "calc.py:1:5" in seen and "calc.py:5:9" in seen,
               Reply([tool_use("hover", {"path": "calc.py", "line": 5, "column": 2})])),
        expect("the fixture's hover on total",
               lambda seen: "**fakelint**: `total` is an int" in seen,
               Reply([tool_use("workspace_symbols", {"query": "ad"})])),
        expect("the symbol add at calc.py:1:5 (the fixture's WorkspaceSymbolProvider)",
               lambda seen: "calc.py:1:5" in seen and "add" in seen,
               Reply([text("Done: the marker is gone and `add` is defined on line 1.")])),
    ]


def serve_fake(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="The scripted fake model API of intel.mjs.")
    parser.add_argument("--port-file", type=Path, required=True, help="where to write the base URL")
    args = parser.parse_args(argv)
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    with FakeAnthropic() as fake:
        fake.script(*script())
        partial = args.port_file.with_name(args.port_file.name + ".tmp")
        partial.write_text(fake.url)
        partial.replace(args.port_file)
        done.wait()
    for violation in fake.violations:
        print(violation, file=sys.stderr)
    if fake.pending:
        print(f"{fake.pending} scripted step(s) never requested", file=sys.stderr)
    return 1 if fake.violations or fake.pending else 0


@pytest.mark.timeout(420)
def test_agent_sees_vscode_diagnostics_and_definitions() -> None:
    need(EXTENSION / "node_modules", EXTENSION / "e2e" / "node_modules" / ".bin" / "code-server",
         Path("/usr/bin/chromium"))
    run(["bash", "e2e/run.sh"], timeout=400, AGENT_LSP_BIN_DIR=str(Path(sys.executable).parent),
        E2E_TEST="intel.mjs")


def test_the_checks_can_fail() -> None:
    """The fake's checks reject a tool result without the linter's message."""
    step = script()[1]
    assert callable(step)
    body = {"messages": [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "Edited calc.py."}]}]}
    with pytest.raises(AssertionError, match="linter's message"):
        step(body)
    body["messages"][0]["content"][0]["content"] = [{"type": "text", "text": (
        f"Edited calc.py.\nEditor diagnostics for calc.py now: new: L2:20 error [fakelint] "
        f"{MARKER_MESSAGE} (todo-lint).")}]
    assert isinstance(step(body), Reply)


if __name__ == "__main__":
    sys.exit(serve_fake(sys.argv[1:]))

"""Architecture rules that a test can hold: layering and a lean start-up path."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path, depth: int = 1) -> set[str]:
    """Every module ``path`` imports, cut to its first ``depth`` dotted parts."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(".".join(alias.name.split(".")[:depth]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(".".join(node.module.split(".")[:depth]))
    return names


FRONT_ENDS = ("lsp_server", "agent_cli", "acp_server")
ALLOWED_IN_FRONT_ENDS = {"agent"}  # the public API (lazy: the method table alone loads for initialize)


def test_agent_knows_nothing_of_lsp() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_modules(path) & {"pygls", "lsprotocol", "lsp_server", "agent_cli"})
        for path in (ROOT / "agent").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_front_ends_use_only_the_public_harness_api() -> None:
    offenders = {}
    for package in FRONT_ENDS:
        for path in (ROOT / package).rglob("*.py"):
            used = {m for m in imported_modules(path, depth=2) if m.split(".")[0] == "agent"}
            if used - ALLOWED_IN_FRONT_ENDS:
                offenders[str(path.relative_to(ROOT))] = sorted(used - ALLOWED_IN_FRONT_ENDS)
    assert offenders == {}


def test_every_public_name_resolves() -> None:
    import agent

    assert [name for name in agent.__all__ if not hasattr(agent, name)] == []


def test_the_path_to_initialize_imports_neither_the_model_sdk_nor_the_harness() -> None:
    code = (
        "import sys; from lsp_server.server import create_server; create_server(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('anthropic', 'httpx2', 'httpx', 'agent', "
        "'pydantic')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "['agent', 'agent.methods']"


def test_the_server_serves_exactly_the_methods_and_commands_the_table_declares() -> None:
    from agent.methods import COMMAND_NAMES, served
    from lsp_server import methods
    from lsp_server.server import create_server

    server = create_server()
    methods.register(server)
    features = server.protocol.fm
    assert sorted(name for name in features.features if name.startswith("agent/")) == sorted(m.name for m in served())
    assert sorted(features.commands) == sorted(COMMAND_NAMES)

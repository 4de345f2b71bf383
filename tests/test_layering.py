"""Architecture rules that a test can hold: layering and a lean start-up path."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_agent_knows_nothing_of_lsp() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_modules(path) & {"pygls", "lsprotocol", "lsp_server"})
        for path in (ROOT / "agent").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_path_to_initialize_imports_neither_the_model_sdk_nor_the_harness() -> None:
    code = (
        "import sys; from lsp_server.server import create_server; create_server(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('anthropic', 'httpx2', 'httpx', 'agent')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"

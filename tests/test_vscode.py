"""The VS Code extension's own tests, run as subprocesses: its unit tests (`npm test`, node's
test runner) and its end-to-end test in real VS Code (`editors/vscode/e2e/run.sh`: code-server
in Debian's Chromium, the real server from this interpreter's folder, the fake model API).

Both need the extension's tools installed (README, "VS Code"); without them the tests are
skipped on a developer's machine and fail in CI (``CI`` set).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent_run import require_tools

EXTENSION = Path(__file__).resolve().parent.parent / "editors" / "vscode"


def need(*paths: Path) -> None:
    missing = [str(p) for p in paths if not p.exists()]
    if shutil.which("npm") is None:
        missing.append("npm on PATH")
    require_tools(missing, "VS Code extension tools not installed (README, 'VS Code')")


def run(command: list[str], timeout: float, **env: str) -> None:
    result = subprocess.run(command, cwd=EXTENSION, capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, **env}, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {result.returncode}\n--- stdout ---\n{result.stdout}"
                    f"\n--- stderr ---\n{result.stderr}", pytrace=False)


@pytest.mark.timeout(180)
def test_unit_tests_of_the_extension_pass() -> None:
    need(EXTENSION / "node_modules")
    run(["npm", "test"], timeout=170)


@pytest.mark.timeout(420)
def test_end_to_end_in_real_vscode() -> None:
    need(EXTENSION / "node_modules", EXTENSION / "e2e" / "node_modules" / ".bin" / "code-server",
         Path("/usr/bin/chromium"))
    run(["bash", "e2e/run.sh"], timeout=400, AGENT_LSP_BIN_DIR=str(Path(sys.executable).parent))

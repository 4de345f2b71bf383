"""Time from spawning ``agent-lsp serve`` to its ``initialize`` answer, against a bare pygls
server measured in the same run (the floor: Python + pygls + lsprotocol imports).

    .venv/bin/python benchmarks/startup.py [RUNS]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE = """
from pygls.lsp.server import LanguageServer
LanguageServer("bare", "0").start_io()
"""


def message(payload: dict) -> bytes:
    body = json.dumps(payload).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def time_initialize(command: list[str], env: dict[str, str]) -> float:
    root = Path(tempfile.mkdtemp())
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdin and proc.stdout
    proc.stdin.write(message({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                              "params": {"processId": None, "rootUri": root.as_uri(), "capabilities": {}}}))
    proc.stdin.flush()
    header = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    assert header.startswith(b"Content-Length"), header
    proc.kill()
    proc.wait()
    return elapsed


def main(runs: int) -> None:
    env = {**os.environ, "AGENT_LSP_STATE_DIR": tempfile.mkdtemp()}
    exe = shutil.which("agent-lsp", path=str(Path(sys.executable).parent)) or "agent-lsp"
    agent = [time_initialize([exe, "serve"], env) for _ in range(runs)]
    bare = [time_initialize([sys.executable, "-c", BARE], env) for _ in range(runs)]
    a, b = statistics.median(agent), statistics.median(bare)
    print(f"agent-lsp serve → initialize (median of {runs}): {a * 1000:7.1f} ms")
    print(f"bare pygls server (baseline):            {b * 1000:7.1f} ms")
    print(f"ratio agent-lsp / bare:                  {a / b:7.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)

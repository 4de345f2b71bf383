"""agent.model.sdk_import: the lazy SDK import binds every name the eager one does, to the same
objects, and leaves the parts of the SDK a turn does not use unimported."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# Every public name of the packages below, as (kind, qualified name): the same in both imports.
DUMP = r"""
import json, sys
lazy = sys.argv[1] == "lazy"
if lazy:
    from agent.model.sdk_import import import_sdk
    anthropic = import_sdk()
else:
    import anthropic
import importlib
out = {}
wanted = json.loads(sys.stdin.read() or "{}")  # the lazy run looks up the eager run's names
for package in ("anthropic", "anthropic.types", "anthropic.types.beta", "anthropic.types.shared", "anthropic.lib.tools"):
    module = importlib.import_module(package)
    names = sorted(n for n in dir(module) if not n.startswith("_"))
    names = sorted(set(names) | {key[len(package) + 1:] for key in wanted if key.rpartition(".")[0] == package})
    for name in names:
        value = getattr(module, name, "<missing>")
        kind = type(value).__name__
        qual = getattr(value, "__qualname__", None) or getattr(value, "__name__", None) or kind
        out[f"{package}.{name}"] = [kind, str(qual)]
print(json.dumps({"names": out, "typing_ok": anthropic._t.TYPE_CHECKING is False}))
"""

SLIM = r"""
import json, sys
from agent.model.sdk_import import import_sdk
anthropic = import_sdk()
client = anthropic.AsyncAnthropic(api_key="k", max_retries=0)
used = (anthropic.types.Message, anthropic.AsyncStream[anthropic.types.RawMessageStreamEvent],
        anthropic.APIStatusError, anthropic.APITimeoutError, anthropic.APIConnectionError)
print(json.dumps({"modules": sorted(m for m in sys.modules if m.startswith("anthropic")),
                  "module_of_error": anthropic.APIStatusError.__module__}))
"""


def run(code: str, *args: str, lazy: bool = True, stdin: str = "") -> dict:
    env = {**os.environ, "AGENT_LSP_SDK_LAZY": "1" if lazy else "0"}
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120,
                          input=stdin)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(300)
def test_lazy_import_binds_the_same_names_as_the_eager_one() -> None:
    eager = run(DUMP, "eager", lazy=False)
    lazy = run(DUMP, "lazy", stdin=json.dumps(eager["names"]))
    assert lazy["typing_ok"]
    assert len(eager["names"]) > 1000  # the dump did look at the SDK's packages
    extra = sorted(set(lazy["names"]) - set(eager["names"]))  # dir() of a lazy package lists no more
    assert not extra, extra[:20]
    differ = {name: (eager["names"][name], lazy["names"][name]) for name in eager["names"]
              if eager["names"][name] != lazy["names"][name]}
    assert not differ, list(differ.items())[:10]


def test_a_turn_imports_only_what_it_uses() -> None:
    slim = run(SLIM)
    modules = set(slim["modules"])
    assert "anthropic._client" in modules and "anthropic.types.message" in modules
    assert "anthropic.resources.beta" not in modules  # the beta resources: hundreds of models
    assert "anthropic.lib.vertex" not in modules and "anthropic.lib.bedrock" not in modules
    assert slim["module_of_error"] == "anthropic"  # as the eager import renames the exported classes
    eager = run(SLIM, lazy=False)
    assert len(modules) < len(eager["modules"]) * 0.6, (len(modules), len(eager["modules"]))

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


STATE_PROBE = r"""
import importlib, json, sys
from agent.model.sdk_import import LazyPackages, sdk_ready
sys.meta_path.insert(0, LazyPackages("anthropic"))
importlib.import_module("anthropic")  # what the prewarm thread has done when a turn asks
print(json.dumps({"ready": sdk_ready(), "streaming": "anthropic.lib.streaming" in sys.modules}))
"""


def test_asking_whether_the_sdk_is_ready_imports_nothing() -> None:
    """A turn asks while the prewarm thread is still importing: the question must not make the
    lazy package search its star imports (``anthropic.lib.streaming`` and 500 beta modules)."""
    probe = run(STATE_PROBE)
    assert probe == {"ready": False, "streaming": False}


FIRST_REQUEST = r"""
import asyncio, json, sys
from opentelemetry import trace


class RecordingSpan(trace.NonRecordingSpan):  # the API alone has no recording span
    def is_recording(self):
        return True


class Tracer(trace.NoOpTracer):
    def start_span(self, *args, **kwargs):
        return RecordingSpan(trace.INVALID_SPAN_CONTEXT)


class Provider(trace.NoOpTracerProvider):
    def get_tracer(self, *args, **kwargs):
        return Tracer()


from agent.model.anthropic_api import AnthropicModel
from agent.model.base import ModelRequest, QuietSink
from agent.model.sdk_import import import_sdk

TRACING = "anthropic.lib._tracing._api_call"
anthropic = import_sdk()
model = AnthropicModel()
model._get_client()
seen = {"before_request": TRACING in sys.modules}
request = ModelRequest(model="claude-sonnet-4-5", max_tokens=100, system="Be brief.", tools=[],
                       messages=[{"role": "user", "content": "hi"}])
seen["text"] = asyncio.run(model.stream(request, QuietSink())).content[0]["text"]
seen["untraced"] = TRACING in sys.modules  # a client without a tracer never finishes a span
traced = anthropic.AsyncAnthropic(max_retries=0, open_telemetry={"tracer_provider": Provider()})


async def traced_call():  # an SDK method names its span; the client finishes it when the response comes
    stream = await traced.messages.create(model="claude-sonnet-4-5", max_tokens=100, stream=True,
                                          messages=[{"role": "user", "content": "hi"}])
    return "".join([event.delta.text async for event in stream if event.type == "content_block_delta"])


seen["traced_text"] = asyncio.run(traced_call())
seen["traced"] = TRACING in sys.modules  # the forwarder imported the module and finished the span
print(json.dumps(seen))
"""


def test_the_first_request_does_not_wait_for_the_tracing_module(fake) -> None:
    """``finish_api_call_span`` is a forwarder: the module behind it (with 560 beta modules) is
    not imported for the harness's requests (no span: the raw post names none, and no tracer is
    configured), and a tracing client's SDK method calls it all the same (the forwarder imports
    the module then and finishes the span)."""
    from fake_anthropic import Reply, text

    fake.script(Reply([text("Hello.")]), Reply([text("Traced.")]))
    done = subprocess.run([sys.executable, "-c", FIRST_REQUEST], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "AGENT_LSP_SDK_LAZY": "1", "ANTHROPIC_BASE_URL": fake.url,
                               "ANTHROPIC_API_KEY": "test-key"})
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"before_request": False, "text": "Hello.", "untraced": False, "traced_text": "Traced.",
                    "traced": True}
    assert len(fake.requests) == 2

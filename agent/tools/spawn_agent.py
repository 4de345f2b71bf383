"""``spawn_agent``: delegate a self-contained task to a subagent with its own thread.

The tool only declares the call; the dispatcher's ``agent`` wrapper runs it through the
harness's ``Subagents`` (``agent.engine.subagents``), which creates the child thread, runs its
loop and returns its final report as this call's result.
"""

from __future__ import annotations

from pydantic import Field

from agent.tools.base import Tool, ToolInput


class SpawnAgentInput(ToolInput):
    description: str = Field(min_length=1, max_length=80,
                             description="A few words naming the task, shown to the user (\"explore tests\").")
    prompt: str = Field(min_length=1, description="The whole task for the subagent: it sees nothing else of this "
                                                  "conversation unless fork is true. Say what to report back.")
    fork: bool = Field(False, description="Start the subagent from this conversation as it stands (it reads the same "
                                          "prompt cache) instead of a fresh context.")


class SpawnAgent(Tool):
    name = "spawn_agent"
    description = (
        "Start a subagent with its own context to do a self-contained task (explore part of the codebase, run "
        "and triage a test matrix, review a change) and return its final report. It has your tools and your "
        "permissions, no more. Several spawn_agent calls in one message run in parallel. Use it to keep your "
        "own context small; do not use it for a single quick read or edit."
    )
    Input = SpawnAgentInput
    kind = "agent"

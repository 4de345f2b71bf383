"""The LSP surfaces when a turn's events arrive before ``turn/start``'s reply, which a short
turn run in the agent host can do: the end-of-turn message still carries the answer, the
answer diagnostic still lands on the asking line, and no work-done progress begins that
would never end. (Found by the Emacs end-to-end test, which once saw "Agent: Done (...)"
instead of the answer.)"""

from __future__ import annotations

from typing import Any

from lsprotocol import types as t

from agent import AgentMessageItem, ItemCompletedEvent, Turn, TurnCompletedEvent, Usage
from lsp_server.surfaces import PlainSurfaces, ProgressTracker


class Window:
    """The client's side of ``window/showMessage`` and of work-done progress."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.progress: list[str] = []
        self.client_capabilities = t.ClientCapabilities(window=t.WindowClientCapabilities(work_done_progress=True))
        self.work_done_progress = self

    def window_show_message(self, params: t.ShowMessageParams) -> None:
        self.messages.append(params.message)

    def begin(self, token: Any, value: Any) -> None:
        self.progress.append(f"begin {token}")

    def end(self, token: Any, value: Any) -> None:
        self.progress.append(f"end {token}")


class Answers:
    def __init__(self) -> None:
        self.set: dict[str, t.Diagnostic | None] = {}

    def set_answer(self, uri: str, diagnostic: t.Diagnostic | None) -> None:
        self.set[uri] = diagnostic


def short_turn(turn_id: str) -> tuple[Turn, list[Any]]:
    turn = Turn(id=turn_id, thread_id="thr_1")
    return turn, [
        ItemCompletedEvent(thread_id="thr_1", turn_id=turn_id,
                           item=AgentMessageItem(id="itm_1", status="completed", text="No tests yet.")),
        TurnCompletedEvent(thread_id="thr_1", turn=turn.model_copy(update={"status": "completed"}), usage=Usage()),
    ]


def test_a_turn_that_ended_before_its_reply_still_gets_its_answer_shown() -> None:
    window, answers = Window(), Answers()
    plain = PlainSurfaces(window, answers, lambda: False, lambda thread_id: ".agent-lsp/chats/thr_1.md")  # type: ignore[arg-type]
    turn, events = short_turn("trn_fast")
    for event in events:  # the host's events, before turn/start's reply
        plain.on_event(event)
    plain.started(turn, "file:///w/calc.py", 0)
    assert window.messages == ["Agent: No tests yet. (full chat: .agent-lsp/chats/thr_1.md)"]
    diagnostic = answers.set["file:///w/calc.py"]
    assert diagnostic is not None and diagnostic.message == "Agent: No tests yet." and diagnostic.range.start.line == 0
    slow, later = short_turn("trn_slow")  # the usual order: the reply first, then the events
    plain.started(slow, "file:///w/calc.py", 0)
    for event in later:
        plain.on_event(event)
    assert window.messages[1:] == ["Agent: working on it (chat: .agent-lsp/chats/thr_1.md)",
                                   "Agent: No tests yet. (full chat: .agent-lsp/chats/thr_1.md)"]


def test_no_progress_begins_for_a_turn_that_already_ended() -> None:
    window = Window()
    progress = ProgressTracker(window, lambda thread_id: None)  # type: ignore[arg-type]
    turn, events = short_turn("trn_fast")
    for event in events:
        progress.on_event(event)
    progress.start(turn, "tok-1")
    assert window.progress == []  # a begin here would never get its end

"""Keeping secrets out of everything the harness stores, shows or sends to the model.

Which values are secret (``SecretSource.current``):

- the Anthropic credentials, ``ANTHROPIC_API_KEY`` and ``ANTHROPIC_AUTH_TOKEN``;
- the value of every environment variable whose *name* looks like a secret: ``*_KEY``,
  ``*_TOKEN``, ``*_PAT``, or containing ``SECRET``, ``PASSWORD``, ``PASSWD`` or
  ``CREDENTIAL`` (case-insensitive);
- the values listed in the workspace's ``.agent-lsp/settings.json`` under
  ``"redact": ["value", ...]`` (re-read when the file changes).

Environment values shorter than 8 characters are ignored (``DEBUG_KEY=1`` would otherwise
blank every "1"), and so are values that are plainly not secrets but where a secret is kept:
a path (``PASSWORD_STORE_DIR=/home/me/.pass``, ``GOOGLE_APPLICATION_CREDENTIALS=./sa.json``),
a number, or a word like ``true``/``disabled``. Hiding those would only garble tool output.
A value the user lists in settings is always hidden if it has at least 4 characters.

What happens to them: commands the agent runs never get the Anthropic credentials in their
environment (nothing the agent runs needs them). The other secret-named variables *stay* in
the commands' environment, since ``gh``, ``npm publish`` or a test suite may need them; but
their values are replaced by ``[redacted: NAME]`` in every text the harness keeps: events
(and so the store and every client), stored messages (and so every request to the model),
and streamed output. Streams are redacted over a sliding window (``StreamRedactor``) so a
secret split across two chunks is caught too.

``child_environment`` gives the environment commands run with.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ANTHROPIC_VARIABLES = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
SECRET_NAME = re.compile(r"(_KEY|_TOKEN|_PAT)$|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
MIN_SECRET_LENGTH = 8
MIN_LISTED_LENGTH = 4
SETTINGS_FILE = Path(".agent-lsp") / "settings.json"
_NOT_SECRET_WORDS = frozenset({"true", "false", "yes", "no", "none", "null", "enabled", "disabled", "undefined"})
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
API_KEY_LABEL = "API key"
LISTED_LABEL = "value listed in settings"


def is_secret_name(name: str) -> bool:
    return name in ANTHROPIC_VARIABLES or bool(SECRET_NAME.search(name))


def looks_secret(value: str) -> bool:
    """Whether an environment value could be a secret (see the module docstring)."""
    value = value.strip()
    if len(value) < MIN_SECRET_LENGTH or value.lower() in _NOT_SECRET_WORDS or _NUMBER.fullmatch(value):
        return False
    return not (value.startswith(("/", "~/", "./", "../")) and not any(c.isspace() for c in value))


@dataclass(frozen=True)
class Secret:
    value: str
    label: str  # what the marker names: "API key", the variable's name, ...

    @property
    def marker(self) -> str:
        return f"[redacted: {self.label}]"


@dataclass(frozen=True)
class Secrets:
    """A snapshot of the values to hide, longest first, and how to hide them."""

    values: tuple[Secret, ...] = ()

    @staticmethod
    def of(found: list[Secret]) -> Secrets:
        unique: dict[str, Secret] = {}
        for secret in found:
            unique.setdefault(secret.value, secret)
        return Secrets(tuple(sorted(unique.values(), key=lambda s: -len(s.value))))

    @property
    def longest(self) -> int:
        return len(self.values[0].value) if self.values else 0

    def _occurrences(self, text: str) -> list[tuple[int, int, Secret]]:
        found: list[tuple[int, int, Secret]] = []
        for secret in self.values:
            start = text.find(secret.value)
            while start >= 0:
                found.append((start, start + len(secret.value), secret))
                start = text.find(secret.value, start + 1)
        found.sort(key=lambda o: (o[0], -o[1]))
        return found

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by its marker; overlapping secrets become one."""
        if not self.values or not any(s.value in text for s in self.values):
            return text
        out: list[str] = []
        pos = 0
        end = -1
        for start, stop, secret in self._occurrences(text):
            if start < end:  # overlaps the span being hidden: widen it
                end = max(end, stop)
                continue
            if end >= 0:
                pos = end
            out.append(text[pos:start])
            out.append(secret.marker)
            end = stop
        out.append(text[max(pos, end):])
        return "".join(out)

    def redact_json(self, obj: Any) -> Any:
        """A copy of a JSON-like value (message dicts, tool inputs) with every string redacted."""
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, dict):
            return {k: self.redact_json(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.redact_json(v) for v in obj]
        return obj

    def stream(self) -> StreamRedactor:
        return StreamRedactor(self)


@dataclass
class StreamRedactor:
    """Redacts a stream of text chunks: ``push`` returns the text that can be shown now,
    holding back any tail that could still be the start of a secret; ``flush`` returns the
    rest. The concatenation of everything returned equals ``secrets.redact(whole text)``."""

    secrets: Secrets
    _pending: str = ""

    def push(self, text: str) -> str:
        if not self.secrets.values:
            return text
        self._pending += text
        cut = self._safe_cut()
        shown, self._pending = self._pending[:cut], self._pending[cut:]
        return self.secrets.redact(shown)

    def flush(self) -> str:
        shown, self._pending = self._pending, ""
        return self.secrets.redact(shown)

    def _safe_cut(self) -> int:
        """The largest index no secret occurrence (seen, or still possible) straddles."""
        text = self._pending
        cut = len(text)
        for secret in self.secrets.values:  # a tail that may continue into a secret
            for k in range(min(len(secret.value) - 1, len(text)), 0, -1):
                if len(text) - k >= cut:
                    break
                if text.endswith(secret.value[:k]):
                    cut = len(text) - k
                    break
        spans = [(start, stop) for start, stop, _ in self.secrets._occurrences(text)]
        moved = True
        while moved:  # never cut through a secret already complete in the window
            moved = False
            for start, stop in spans:
                if start < cut < stop:
                    cut, moved = start, True
        return cut


@dataclass
class SecretSource:
    """Where the current ``Secrets`` come from: the environment, and the settings file of a
    workspace (cached on its modification time). ``environ`` defaults to ``os.environ``."""

    root: Path | None = None
    environ: Mapping[str, str] | None = None
    _cache: tuple[tuple[int, int], tuple[str, ...]] | None = field(default=None, repr=False)

    def current(self) -> Secrets:
        found = environment_secrets(os.environ if self.environ is None else self.environ)
        found += [Secret(value, LISTED_LABEL) for value in self.listed()]
        return Secrets.of(found)

    def listed(self) -> tuple[str, ...]:
        """The ``"redact"`` values of the workspace's settings file (none if it has none)."""
        if self.root is None:
            return ()
        path = self.root / SETTINGS_FILE
        try:
            stat = path.stat()
        except OSError:
            return ()
        key = (stat.st_mtime_ns, stat.st_size)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        values = _read_listed(path)
        self._cache = (key, values)
        return values


def _read_listed(path: Path) -> tuple[str, ...]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ()  # the permission rules report a broken file
    raw = data.get("redact", []) if isinstance(data, dict) else []
    if not isinstance(raw, list):
        log.warning('%s: "redact" must be a list of strings; ignoring it', path)
        return ()
    values = tuple(v for v in raw if isinstance(v, str) and len(v.strip()) >= MIN_LISTED_LENGTH)
    if len(values) != len(raw):
        log.warning('%s: "redact" entries must be strings of at least %d characters; '
                    "ignoring the others", path, MIN_LISTED_LENGTH)
    return values


def environment_secrets(environ: Mapping[str, str]) -> list[Secret]:
    found: list[Secret] = []
    for name, value in environ.items():
        if name in ANTHROPIC_VARIABLES:
            if len(value) >= MIN_SECRET_LENGTH:
                found.append(Secret(value, API_KEY_LABEL))
        elif is_secret_name(name) and looks_secret(value):
            found.append(Secret(value, name))
    return found


# --- the commands' environment -------------------------------------------------------------------


def child_environment() -> dict[str, str]:
    """The environment for commands the agent runs: everything but the Anthropic credentials
    (other secret-named variables stay; their values are redacted from what is kept)."""
    return {k: v for k, v in os.environ.items() if k not in ANTHROPIC_VARIABLES}

"""What a model request cost, and why it read less of the prompt cache than it could have.

``price_for`` finds a model's ``Price`` (dollars per million tokens: input, output, cache read,
cache write) in the table below, by the longest matching name prefix, unless the setting
``prices`` names the model (exact name or prefix). ``cost_usd`` prices a ``Usage``; with
``cacheTtl`` 1h, cache writes cost 1.6 times the 5-minute write price (2x input instead of
1.25x, as the API charges).

``CacheWatch`` remembers, per loaded thread, what the previous request put in the cache (its
model, digests of its tools and system prompt, the transcript's rewrite count, when it ended
and how many input tokens it left cached). A request that reads fewer cached tokens than that
is a *cache miss*; ``observe`` names the first difference in cache-prefix order: model, tools,
system, a transcript rewritten by compaction, else an idle longer than the TTL. A shortfall it
cannot explain is not reported (the event never guesses).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from agent.events import CacheMiss
from agent.protocol import Usage

CacheTtl = Literal["5m", "1h"]
TTL_SECONDS: dict[str, float] = {"5m": 300.0, "1h": 3600.0}
ONE_HOUR_WRITE = 1.6  # the 1-hour write price over the 5-minute one (2.0 / 1.25 of input)


class Price(BaseModel):
    """US dollars per million tokens."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True, extra="forbid")

    input: float = Field(ge=0, description="uncached input tokens")
    output: float = Field(ge=0, description="output tokens")
    cache_read: float = Field(ge=0, description="input tokens read from the prompt cache")
    cache_write: float = Field(ge=0, description="input tokens written to the prompt cache (5-minute TTL)")


def _price(input_: float, output: float) -> Price:
    return Price(input=input_, output=output, cache_read=round(input_ * 0.1, 6),
                 cache_write=round(input_ * 1.25, 6))


# Longest matching prefix wins; public list prices, override with the setting `prices`.
PRICES: tuple[tuple[str, Price], ...] = (
    ("claude-opus-4-0", _price(15.0, 75.0)),
    ("claude-opus-4-1", _price(15.0, 75.0)),
    ("claude-opus-4-2", _price(15.0, 75.0)),
    ("claude-3-opus", _price(15.0, 75.0)),
    ("claude-opus", _price(5.0, 25.0)),
    ("claude-sonnet", _price(3.0, 15.0)),
    ("claude-3-7-sonnet", _price(3.0, 15.0)),
    ("claude-3-5-sonnet", _price(3.0, 15.0)),
    ("claude-3-5-haiku", _price(0.8, 4.0)),
    ("claude-3-haiku", _price(0.25, 1.25)),
    ("claude-haiku", _price(1.0, 5.0)),
)


def price_for(model: str, overrides: Mapping[str, Price] | None = None) -> Price | None:
    """The model's price: from ``overrides`` (exact name, else longest prefix), else the table."""
    for table in (overrides or {}, dict(PRICES)):
        if model in table:
            return table[model]
        matches = [prefix for prefix in table if model.startswith(prefix)]
        if matches:
            return table[max(matches, key=len)]
    return None


def cost_usd(usage: Usage, price: Price | None, ttl: str = "5m") -> float:
    """What ``usage`` cost at ``price`` (0 without a price)."""
    if price is None:
        return 0.0
    write = price.cache_write * (ONE_HOUR_WRITE if ttl == "1h" else 1.0)
    total = (usage.input_tokens * price.input + usage.output_tokens * price.output
             + usage.cache_read_tokens * price.cache_read + usage.cache_creation_tokens * write)
    return round(total / 1_000_000, 8)


def cache_read_share(usage: Usage) -> float:
    """The share of the request's input tokens read from the cache."""
    total = usage.input_tokens + usage.cache_read_tokens + usage.cache_creation_tokens
    return round(usage.cache_read_tokens / total, 4) if total else 0.0


def digest(value: Any) -> str:
    """A short stable digest of JSON-like data."""
    encoded = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.blake2b(encoded, digest_size=12).hexdigest()


@dataclass(frozen=True)
class Prefix:
    """What decides whether a request can read the previous request's cache entries."""

    model: str
    tools: str
    system: str
    rewrites: int


@dataclass
class CacheWatch:
    """The previous request's prefix, per loaded thread (``clock``: wall seconds). ``load`` and
    ``save`` keep it in the store, so the next process working on the thread (another
    ``agent-lsp ask``) compares against it too."""

    clock: Callable[[], float] = time.time
    load: Callable[[], dict[str, Any] | None] | None = None
    save: Callable[[dict[str, Any]], None] | None = None
    _last: tuple[Prefix, float, int] | None = field(default=None, repr=False)

    def observe(self, prefix: Prefix, usage: Usage, ttl: str = "5m") -> CacheMiss | None:
        """Record a finished request; the miss against the previous one, if any and explained."""
        now = self.clock()
        if self._last is None and self.load is not None:
            self._last = _restored(self.load())
        cached_now = usage.cache_read_tokens + usage.cache_creation_tokens
        last, self._last = self._last, (prefix, now, cached_now)
        if self.save is not None:
            self.save({"prefix": asdict(prefix), "at": now, "cached": cached_now})
        if last is None:
            return None
        before, at, cached = last
        missed = cached - usage.cache_read_tokens
        if missed <= 0:
            return None
        reason: str | None = None
        if prefix.model != before.model:
            reason = "model"
        elif prefix.tools != before.tools:
            reason = "tools"
        elif prefix.system != before.system:
            reason = "system"
        elif prefix.rewrites != before.rewrites:
            reason = "rewritten"
        elif now - at > TTL_SECONDS.get(ttl, 300.0):
            reason = "expired"
        return None if reason is None else CacheMiss(reason=reason, tokens=missed)  # type: ignore[arg-type]


def _restored(saved: dict[str, Any] | None) -> tuple[Prefix, float, int] | None:
    try:
        return (Prefix(**saved["prefix"]), float(saved["at"]), int(saved["cached"])) if saved else None
    except (KeyError, TypeError, ValueError):
        return None  # written by another version: start afresh

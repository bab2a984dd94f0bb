"""What a call cost: the provider's own figure when it gives one, else the price table.

The table is data (`prices.yml` beside this module) so updating a price is a one-line change
reviewed like any other. A model not in it costs 0 and is marked "unpriced" in its usage row,
so an operator can see which lines to add.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import yaml

from bot.providers.types import Artifact, Completion

PRICES_FILE = Path(__file__).with_name("prices.yml")
MILLION = Decimal(1_000_000)
CENT_MILLIONTHS = Decimal("0.000001")  # the usage table keeps 6 decimals


@dataclass(frozen=True)
class Price:
    """USD per million tokens, per image, per second of video."""

    input: Decimal = Decimal(0)
    output: Decimal = Decimal(0)
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    per_image: Decimal = Decimal(0)
    per_second: Decimal = Decimal(0)

    def text_cost(self, c: Completion) -> Decimal:
        """Cost of a text reply; `tokens_in` includes cached and cache-written tokens."""
        fresh = max(0, c.tokens_in - c.cached_tokens - c.cache_write_tokens)
        cached = self.cached_input if self.cached_input is not None else self.input
        written = self.cache_write if self.cache_write is not None else self.input
        total = (
            fresh * self.input
            + c.cached_tokens * cached
            + c.cache_write_tokens * written
            + c.tokens_out * self.output
        ) / MILLION
        return total.quantize(CENT_MILLIONTHS)

    def artifact_cost(self, a: Artifact) -> Decimal:
        """Cost of an image or video: per item, per second, or by tokens (gpt-image-1)."""
        total = (
            self.per_image * a.images
            + self.per_second * Decimal(str(a.seconds))
            + (a.tokens_in * self.input + a.tokens_out * self.output) / MILLION
        )
        return total.quantize(CENT_MILLIONTHS)

    def max_text_cost(self, prompt_tokens: int, max_tokens: int) -> Decimal:
        """The most a call could cost: no cache hits and every allowed token written."""
        return ((prompt_tokens * self.input + max_tokens * self.output) / MILLION).quantize(
            CENT_MILLIONTHS
        )


class PriceTable:
    """Prices by `provider:model`."""

    def __init__(self, prices: dict[str, Price]) -> None:
        self.prices = prices

    @classmethod
    def load(cls, path: Path = PRICES_FILE) -> PriceTable:
        """Read a YAML price file (see `prices.yml` for the format)."""
        raw = yaml.safe_load(path.read_text()) or {}
        prices: dict[str, Price] = {}
        for name, entry in (raw.get("models") or {}).items():
            fields = {key: Decimal(str(value)) for key, value in (entry or {}).items()}
            prices[str(name)] = Price(**fields)
        return cls(prices)

    def lookup(self, model: str) -> Price | None:
        """The price of `provider:model`, matching dated snapshots to their family."""
        price = self.prices.get(model)
        if price is not None:
            return price
        best: str | None = None
        for name in self.prices:
            if model.startswith(name + "-") and (best is None or len(name) > len(best)):
                best = name
        return self.prices[best] if best else None


@lru_cache(maxsize=1)
def default_table() -> PriceTable:
    """The table shipped in the repository."""
    return PriceTable.load()

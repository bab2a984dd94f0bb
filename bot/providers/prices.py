"""What a call cost: the provider's own figure when it gives one, else the price table.

The table is data (`prices.yml` beside this module) so updating a price is a one-line change
reviewed like any other. A model not in it costs 0 and is marked "unpriced" in its usage row,
so an operator can see which lines to add.

A name matches its line exactly, or as a dated snapshot of it (`…-2025-08-07`, `…-20250929`
→ the undated name); nothing else falls back, since `gpt-5-pro` is not priced like `gpt-5`.

Budgets need a figure *before* a call: an unpriced model of a paid hosted provider is
estimated at that provider's ceiling (the `ceilings` of `prices.yml`, above the dearest model
it lists), so a missing line cannot let a call past the budget. Providers without a ceiling
(custom OpenAI-compatible servers such as Ollama or vLLM) estimate unpriced models at 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.providers.types import Artifact, Completion

PRICES_FILE = Path(__file__).with_name("prices.yml")
MILLION = Decimal(1_000_000)
CENT_MILLIONTHS = Decimal("0.000001")  # the usage table keeps 6 decimals

# A dated snapshot: `-YYYY-MM-DD` (OpenAI) or `-YYYYMMDD` (Anthropic, some OpenAI models).
_DATED = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8})$")


@dataclass(frozen=True)
class Price:
    """USD per million tokens, per image, per second of video.

    `per_image_by` prices images by how they were made, keyed `"<quality> <size>"` as the
    provider names them (DALL·E 3: `hd 1792x1024`); `per_image` covers any other variant.

    `long` prices a whole request whose prompt (cached and cache-written tokens included)
    is longer than `long_above` tokens: OpenAI's GPT-6 models above 272K input tokens,
    Claude Haiku 5.5 above 100K.
    """

    input: Decimal = Decimal(0)
    output: Decimal = Decimal(0)
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    per_image: Decimal = Decimal(0)
    per_second: Decimal = Decimal(0)
    per_image_by: dict[str, Decimal] = field(default_factory=dict)
    long_above: int | None = None
    long: Price | None = None

    def for_prompt(self, prompt_tokens: int) -> Price:
        """The price that applies to a request with `prompt_tokens` of prompt."""
        if self.long is not None and self.long_above is not None:
            if prompt_tokens > self.long_above:
                return self.long
        return self

    def text_cost(self, c: Completion) -> Decimal:
        """Cost of a text reply; `tokens_in` includes cached and cache-written tokens."""
        price = self.for_prompt(c.tokens_in)
        if price is not self:
            return price.text_cost(c)
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

    def image_price(self, variant: str | None) -> Decimal:
        """The price of one image made as `variant` (`"hd 1024x1024"`), else `per_image`."""
        if variant is not None and variant in self.per_image_by:
            return self.per_image_by[variant]
        return self.per_image

    def max_image_price(self) -> Decimal:
        """The dearest image this model makes, whatever its size and quality."""
        return max((self.per_image, *self.per_image_by.values()))

    def artifact_cost(self, a: Artifact) -> Decimal:
        """Cost of an image or video: per item, per second, or by tokens (gpt-image-1)."""
        total = (
            self.image_price(a.variant) * a.images
            + self.per_second * Decimal(str(a.seconds))
            + (a.tokens_in * self.input + a.tokens_out * self.output) / MILLION
        )
        return total.quantize(CENT_MILLIONTHS)

    def max_text_cost(
        self, prompt_tokens: int, max_tokens: int, cache_written_tokens: int = 0
    ) -> Decimal:
        """The most a call could cost: no cache hits, every allowed token written, and
        `cache_written_tokens` of the prompt written to the cache (at the dearer of the
        cache-write and input prices)."""
        price = self.for_prompt(prompt_tokens)
        written = min(cache_written_tokens, prompt_tokens)
        write_price = max(price.input, price.cache_write or price.input)
        total = (
            (prompt_tokens - written) * price.input
            + written * write_price
            + max_tokens * price.output
        ) / MILLION
        return total.quantize(CENT_MILLIONTHS)


def _price(entry: dict[str, Any] | None) -> Price:
    fields: dict[str, Any] = {}
    for key, value in (entry or {}).items():
        if key == "per_image_by":
            fields[key] = {str(k): Decimal(str(v)) for k, v in (value or {}).items()}
        elif key == "above":
            tier = dict(value)
            fields["long_above"] = int(tier.pop("tokens"))
            fields["long"] = _price(tier)
        else:
            fields[key] = Decimal(str(value))
    return Price(**fields)


class PriceTable:
    """Prices by `provider:model`, and the ceilings that stand in for missing ones."""

    def __init__(self, prices: dict[str, Price], ceilings: dict[str, Price] | None = None) -> None:
        self.prices = prices
        self.ceilings = ceilings or {}

    @classmethod
    def load(cls, path: Path = PRICES_FILE) -> PriceTable:
        """Read a YAML price file (see `prices.yml` for the format)."""
        return cls.from_mapping(yaml.safe_load(path.read_text()) or {})

    @classmethod
    def from_mapping(cls, raw: dict[str, Any]) -> PriceTable:
        """A table from the parsed YAML's `models` and `ceilings`."""
        prices = {str(name): _price(entry) for name, entry in (raw.get("models") or {}).items()}
        ceilings = {str(name): _price(entry) for name, entry in (raw.get("ceilings") or {}).items()}
        return cls(prices, ceilings)

    def lookup(self, model: str) -> Price | None:
        """The price of `provider:model`; a dated snapshot falls back to its undated name."""
        price = self.prices.get(model)
        if price is not None:
            return price
        undated = _DATED.sub("", model)
        return self.prices.get(undated) if undated != model else None

    def ceiling(self, model: str) -> Price | None:
        """What to assume an unpriced `provider:model` could cost, for estimates before a
        call: its provider's ceiling (paid hosted providers), else None (free unless priced)."""
        return self.ceilings.get(model.partition(":")[0])


@lru_cache(maxsize=1)
def default_table() -> PriceTable:
    """The table shipped in the repository."""
    return PriceTable.load()

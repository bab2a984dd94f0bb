"""Settings that point the provider layer at stand-ins, for tests and benches."""

from __future__ import annotations

from typing import Any

from bot.providers.prices import PriceTable, default_table
from bot.providers.settings import ProviderSettings
from standins.providers.server import StandIn

# Fixed prices for tests that check arithmetic (cost, budgets): the shipped table follows the
# providers' price lists and changes; these do not. The ceilings are the shipped ones.
TEST_PRICES = PriceTable.from_mapping(
    {
        "models": {
            "openai:gpt-4.1": {"input": 2, "cached_input": "0.50", "output": 8},
            "openai:gpt-4.1-mini": {"input": "0.40", "cached_input": "0.10", "output": "1.60"},
            "openrouter:openai/gpt-4.1": {"input": 2, "cached_input": "0.50", "output": 8},
            "together:meta-llama/Llama-3.3-70B-Instruct-Turbo": {"input": "0.88", "output": "0.88"},
            "together:deepseek-ai/DeepSeek-V3": {"input": "1.25", "output": "1.25"},
            "anthropic:claude-haiku-4-5": {
                "input": 1,
                "cached_input": "0.10",
                "cache_write": "1.25",
                "output": 5,
            },
        }
    }
)
TEST_PRICES.ceilings.update(default_table().ceilings)

_KEY_FIELDS = {"replicate": "replicate_api_token"}


def settings_for(**standins_and_overrides: Any) -> ProviderSettings:
    """`ProviderSettings` with each named provider's base URL and key taken from its stand-in.

    `settings_for(openai=std, anthropic=std2, retry_base_s=0.01)`; the `.env` file is ignored
    and fast retries are the default, so tests do not wait on backoff unless they mean to.
    """
    values: dict[str, Any] = {"retry_base_s": 0.01, "retry_cap_s": 0.05}
    for name, value in standins_and_overrides.items():
        if isinstance(value, StandIn):
            values[f"{name}_base_url"] = value.base_url
            values[_KEY_FIELDS.get(name, f"{name}_api_key")] = value.api_key
        else:
            values[name] = value
    return ProviderSettings(_env_file=None, **values)  # type: ignore[call-arg]

"""Settings that point the provider layer at stand-ins, for tests and benches."""

from __future__ import annotations

from typing import Any

from bot.providers.settings import ProviderSettings
from standins.providers.server import StandIn

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

"""The provider layer's settings: keys, base URLs, rate limits, timeouts.

Kept apart from `bot.settings.Settings` so the layer can be used alone (the `generate`
command, a bench). Names follow the official SDKs where they have one (`OPENAI_BASE_URL`,
`ANTHROPIC_BASE_URL`, `REPLICATE_API_TOKEN`). Any other `<NAME>_BASE_URL` in the environment
makes `<name>:model` an OpenAI-compatible provider (Ollama, vLLM, LM Studio), with an
optional `<NAME>_API_KEY`, `<NAME>_RPM` and `<NAME>_CONCURRENCY`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.providers.errors import NoApiKey, UnknownProvider
from bot.providers.names import KNOWN_PROVIDERS

Kind = Literal["openai_compat", "anthropic", "stability", "replicate", "runway"]

_KINDS: dict[str, Kind] = {
    "openai": "openai_compat",
    "openrouter": "openai_compat",
    "together": "openai_compat",
    "anthropic": "anthropic",
    "stability": "stability",
    "replicate": "replicate",
    "runway": "runway",
}


@dataclass(frozen=True)
class Endpoint:
    """Everything needed to talk to one provider."""

    provider: str
    kind: Kind
    base_url: str
    api_key: str | None
    key_env: str
    rpm: int
    concurrency: int
    key_required: bool = True

    def require_key(self) -> str:
        """The key, or `NoApiKey` naming the variable to set."""
        if self.api_key:
            return self.api_key
        if not self.key_required:
            return ""
        raise NoApiKey(self.provider, self.key_env)


class ProviderSettings(BaseSettings):
    """Keys, endpoints and limits of every provider; field names are the environment names."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    openai_api_key: SecretStr | None = None
    openai_base_url: str = "https://api.openai.com/v1"
    openai_rpm: int = Field(default=60, ge=0)
    openai_concurrency: int = Field(default=8, ge=1)

    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str = "https://api.anthropic.com"
    # The Messages API version this client speaks.
    anthropic_version: str = "2023-06-01"
    anthropic_rpm: int = Field(default=50, ge=0)
    anthropic_concurrency: int = Field(default=8, ge=1)

    openrouter_api_key: SecretStr | None = None
    openrouter_base_url: str = "https://openrouter.ai/api/v1"
    openrouter_rpm: int = Field(default=100, ge=0)
    openrouter_concurrency: int = Field(default=8, ge=1)
    # OpenRouter's app attribution headers (HTTP-Referer, X-Title).
    openrouter_referer: str = "https://github.com/apps/liquid-book"
    openrouter_title: str = "Liquid Book"

    together_api_key: SecretStr | None = None
    together_base_url: str = "https://api.together.xyz/v1"
    together_rpm: int = Field(default=60, ge=0)
    together_concurrency: int = Field(default=8, ge=1)

    stability_api_key: SecretStr | None = None
    stability_base_url: str = "https://api.stability.ai"
    stability_rpm: int = Field(default=60, ge=0)
    stability_concurrency: int = Field(default=4, ge=1)

    replicate_api_token: SecretStr | None = None
    replicate_base_url: str = "https://api.replicate.com/v1"
    replicate_rpm: int = Field(default=60, ge=0)
    replicate_concurrency: int = Field(default=4, ge=1)

    runway_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("runway_api_key", "runwayml_api_secret")
    )
    runway_base_url: str = "https://api.dev.runwayml.com"
    runway_version: str = "2024-11-06"
    runway_rpm: int = Field(default=30, ge=0)
    runway_concurrency: int = Field(default=2, ge=1)

    # Other OpenAI-compatible servers, by name: filled from `<NAME>_BASE_URL` variables.
    custom_base_urls: dict[str, str] = Field(default_factory=dict)
    custom_api_keys: dict[str, SecretStr] = Field(default_factory=dict)
    custom_rpm: dict[str, int] = Field(default_factory=dict)
    custom_concurrency: dict[str, int] = Field(default_factory=dict)

    # Timeouts in seconds. `read` applies to each read, so a stream stays alive as long as
    # chunks keep coming; non-streaming calls must finish within it.
    connect_timeout_s: float = Field(default=10.0, gt=0)
    read_timeout_s: float = Field(default=180.0, gt=0)
    write_timeout_s: float = Field(default=30.0, gt=0)
    # Stream when a request allows at least this many output tokens.
    stream_min_tokens: int = Field(default=2048, ge=1)

    # Retries on the same model (429, 5xx, timeouts): tries in all, and total sleep.
    retry_max_tries: int = Field(default=4, ge=1)
    retry_max_wait_s: float = Field(default=60.0, ge=0)
    retry_base_s: float = Field(default=1.0, ge=0)
    retry_cap_s: float = Field(default=20.0, ge=0)

    # Replicate predictions and Runway tasks.
    poll_interval_s: float = Field(default=1.0, gt=0)
    poll_timeout_s: float = Field(default=600.0, gt=0)

    # The window of the requests-per-minute limits; only tests and benches shorten it.
    ratelimit_window_s: float = Field(default=60.0, gt=0)
    http_max_connections: int = Field(default=200, ge=1)

    liquidbook_monthly_budget_usd: Decimal = Field(default=Decimal("20"), ge=0)

    @model_validator(mode="after")
    def _custom_from_environment(self) -> ProviderSettings:
        known = {f"{name.upper()}_BASE_URL" for name in KNOWN_PROVIDERS}
        for var, value in os.environ.items():
            if not var.endswith("_BASE_URL") or var in known or not value:
                continue
            name = var.removesuffix("_BASE_URL").lower()
            if not name or name in self.custom_base_urls:
                continue
            self.custom_base_urls[name] = value
            key = os.environ.get(f"{name.upper()}_API_KEY")
            if key and name not in self.custom_api_keys:
                self.custom_api_keys[name] = SecretStr(key)
            for suffix, target in (
                ("RPM", self.custom_rpm),
                ("CONCURRENCY", self.custom_concurrency),
            ):
                raw = os.environ.get(f"{name.upper()}_{suffix}", "")
                if raw.isdigit() and name not in target:
                    target[name] = int(raw)
        return self

    def endpoint(self, provider: str, model_name: str | None = None) -> Endpoint:
        """Where and how to reach `provider`; `UnknownProvider` when nothing is configured."""
        if provider in _KINDS:
            key_field = "replicate_api_token" if provider == "replicate" else f"{provider}_api_key"
            key: SecretStr | None = getattr(self, key_field)
            return Endpoint(
                provider=provider,
                kind=_KINDS[provider],
                base_url=str(getattr(self, f"{provider}_base_url")).rstrip("/"),
                api_key=key.get_secret_value() if key else None,
                key_env=key_field.upper(),
                rpm=getattr(self, f"{provider}_rpm"),
                concurrency=getattr(self, f"{provider}_concurrency"),
            )
        if provider in self.custom_base_urls:
            custom_key = self.custom_api_keys.get(provider)
            return Endpoint(
                provider=provider,
                kind="openai_compat",
                base_url=self.custom_base_urls[provider].rstrip("/"),
                api_key=custom_key.get_secret_value() if custom_key else None,
                key_env=f"{provider.upper()}_API_KEY",
                # Local servers have no published limit: none unless configured.
                rpm=self.custom_rpm.get(provider, 0),
                concurrency=self.custom_concurrency.get(provider, 4),
                key_required=False,
            )
        raise UnknownProvider(model_name or f"{provider}:", provider)

    def secrets(self) -> list[str]:
        """Every configured key, so messages can be scrubbed of them."""
        values = [
            getattr(self, name)
            for name in type(self).model_fields
            if name.endswith(("_api_key", "_api_token"))
        ]
        values += list(self.custom_api_keys.values())
        return [v.get_secret_value() for v in values if v is not None]

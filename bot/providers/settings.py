"""The provider layer's settings: keys, base URLs, rate limits, timeouts.

Kept apart from `bot.settings.Settings` so the layer can be used alone (the `generate`
command, a bench). Names follow the official SDKs where they have one (`OPENAI_BASE_URL`,
`ANTHROPIC_BASE_URL`, `REPLICATE_API_TOKEN`). Any other `<NAME>_BASE_URL` in the environment
makes `<name>:model` an OpenAI-compatible provider (Ollama, vLLM, LM Studio), with an
optional `<NAME>_API_KEY`, `<NAME>_RPM` and `<NAME>_CONCURRENCY`; like every other setting,
these are read from the environment or the `.env` file (the environment wins).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import AliasChoices, Field, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

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
    # How long a call that would fit the budget once calls in flight finish waits for them.
    budget_wait_s: float = Field(default=180.0, ge=0)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Custom providers come last: values given to the constructor win, name by name.
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            file_secret_settings,
            _CustomProviders(settings_cls, dotenv_settings),
        )

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


class _CustomProviders(PydanticBaseSettingsSource):
    """`custom_*` fields from the `<NAME>_BASE_URL` variables of the environment and of the
    `.env` file the settings read (the environment wins; `_env_file=None` reads no file)."""

    def __init__(
        self, settings_cls: type[BaseSettings], dotenv_settings: PydanticBaseSettingsSource
    ) -> None:
        super().__init__(settings_cls)
        self.env_file = getattr(dotenv_settings, "env_file", None)
        self.encoding = getattr(dotenv_settings, "env_file_encoding", None)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is done in __call__

    def variables(self) -> dict[str, str]:
        """The `.env` file's variables overlaid with the environment's."""
        files = self.env_file
        if files is None:
            paths: list[Path] = []
        elif isinstance(files, (str, os.PathLike)):
            paths = [Path(files)]
        else:
            paths = [Path(f) for f in files]
        merged: dict[str, str] = {}
        for path in paths:
            path = path.expanduser()
            if path.is_file():
                values = dotenv_values(path, encoding=self.encoding or "utf-8")
                merged.update({k: v for k, v in values.items() if v is not None})
        merged.update(os.environ)
        return merged

    def __call__(self) -> dict[str, Any]:
        return custom_providers(self.variables())


def custom_providers(variables: Mapping[str, str]) -> dict[str, Any]:
    """The `custom_*` settings for every `<NAME>_BASE_URL` in `variables` (other than the
    providers with a native client)."""
    known = {f"{name.upper()}_BASE_URL" for name in KNOWN_PROVIDERS}
    urls: dict[str, str] = {}
    keys: dict[str, str] = {}
    limits: dict[str, dict[str, int]] = {"custom_rpm": {}, "custom_concurrency": {}}
    for var, value in variables.items():
        if not var.endswith("_BASE_URL") or var in known or not value:
            continue
        name = var.removesuffix("_BASE_URL").lower()
        if not name:
            continue
        urls[name] = value
        if key := variables.get(f"{name.upper()}_API_KEY"):
            keys[name] = key
        for suffix, target in (("RPM", "custom_rpm"), ("CONCURRENCY", "custom_concurrency")):
            raw = variables.get(f"{name.upper()}_{suffix}", "")
            if raw.isdigit():
                limits[target][name] = int(raw)
    found: dict[str, Any] = {"custom_base_urls": urls, "custom_api_keys": keys, **limits}
    return {field: value for field, value in found.items() if value}

"""The app's settings, read from the environment and a `.env` file.

Everything an operator configures lives here, named as the README documents it. Secrets are
`SecretStr` so that a stray `repr()` or log line never shows them; a missing or malformed
setting stops start-up with one line that names it (see `load_settings`).
"""

from __future__ import annotations

import base64
import hashlib
from functools import cached_property
from pathlib import Path
from typing import Annotated

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

# GitHub refuses webhook payloads above 25 MB, so nothing legitimate is bigger.
GITHUB_MAX_PAYLOAD_BYTES = 25 * 1024 * 1024


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it and never shows its value."""


class Settings(BaseSettings):
    """All of the app's configuration. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    github_app_id: int | None = None
    github_app_slug: str | None = None
    github_private_key: SecretStr | None = None
    github_private_key_path: Path | None = None
    github_webhook_secret: SecretStr | None = None
    github_api_url: str = "https://api.github.com"
    # Where people see github.com (the manifest flow sends them there); GHES: https://HOST.
    github_web_url: str = "https://github.com"

    redis_url: str | None = None
    database_url: str | None = None
    # Fernet key (urlsafe base64, 32 bytes) for secrets kept in Redis. When unset, one is
    # derived from the app's private key, which every process of one deployment shares.
    liquidbook_secret_key: SecretStr | None = None
    liquidbook_data_dir: Path = Path(".liquidbook")

    # The address GitHub reaches this server at (the manifest flow registers its webhook URL
    # under it). Defaults to http://HOST:PORT.
    liquidbook_public_url: str | None = None
    github_client_id: str | None = None
    github_client_secret: SecretStr | None = None

    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=0, le=65535)
    log_level: str = "INFO"
    # How long a webhook delivery id is remembered for deduplication (GitHub redelivers
    # within days at most when asked by hand; three days covers that).
    webhook_dedup_seconds: int = Field(default=3 * 24 * 3600, ge=60)
    webhook_max_bytes: int = Field(default=GITHUB_MAX_PAYLOAD_BYTES, ge=1024)

    # Model defaults; a book's `.github/liquidbook.yml` may override them.
    liquidbook_model: str = "openrouter:anthropic/claude-sonnet-4.5"
    liquidbook_fallback_models: Annotated[list[str], NoDecode] = Field(default_factory=list)
    liquidbook_monthly_budget_usd: float = Field(default=20.0, ge=0)
    # Commands that call a model, per installation per hour (0: no limit): one noisy
    # installation cannot flood the workers or run through its budget in minutes.
    liquidbook_commands_per_hour: int = Field(default=60, ge=0)
    # Worker concurrency: jobs that run at once in one worker process.
    liquidbook_max_jobs: int = Field(default=10, ge=1)
    liquidbook_job_timeout: int = Field(default=900, ge=10)

    @field_validator("github_api_url", "github_web_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value or None

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: str | None) -> str | None:
        schemes = (
            "sqlite",
            "sqlite+aiosqlite",
            "postgres",
            "postgresql",
            "postgresql+asyncpg",
            "postgresql+psycopg2",
        )
        if value and value.split("://", 1)[0] not in schemes:
            raise ValueError("must be a sqlite:///… or postgresql://… URL")
        return value or None

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = {"WARN": "WARNING", "FATAL": "CRITICAL"}.get(value.upper(), value.upper())
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("liquidbook_secret_key")
    @classmethod
    def _fernet_key(cls, value: SecretStr | None) -> SecretStr | None:
        # Checked here so a bad key stops start-up with one line, not in Fernet() later. An
        # empty value (`LIQUIDBOOK_SECRET_KEY=` in a `.env`) means unset.
        if value is None or not value.get_secret_value().strip():
            return None
        try:
            Fernet(value.get_secret_value().encode())
        except (ValueError, TypeError):
            raise ValueError(
                "must be a Fernet key (32 bytes in url-safe base64, as "
                "cryptography's Fernet.generate_key() makes)"
            ) from None
        return value

    @field_validator("liquidbook_fallback_models", mode="before")
    @classmethod
    def _split_models(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _key_file_exists(self) -> Settings:
        if self.github_private_key is None and self.github_private_key_path is not None:
            if not self.github_private_key_path.is_file():
                raise ValueError(
                    f"GITHUB_PRIVATE_KEY_PATH: no file at {self.github_private_key_path}"
                )
        return self

    @property
    def app_configured(self) -> bool:
        """True when the GitHub App's id, key and webhook secret are all known."""
        return bool(self.github_app_id and self.private_key_pem and self.github_webhook_secret)

    @cached_property
    def private_key_pem(self) -> str | None:
        """The app's private key in PEM, from the variable or the file."""
        if self.github_private_key is not None:
            # Many platforms cannot hold newlines in a variable; accept `\n` escapes.
            return self.github_private_key.get_secret_value().replace("\\n", "\n")
        if self.github_private_key_path is not None:
            return self.github_private_key_path.read_text()
        return None

    @property
    def public_url(self) -> str:
        """The base URL GitHub sends webhooks to and redirects people back to."""
        return (self.liquidbook_public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def webhook_secret(self) -> str:
        """The webhook secret as text ('' when not configured, which rejects every delivery)."""
        return self.github_webhook_secret.get_secret_value() if self.github_webhook_secret else ""

    def fernet_key(self) -> bytes:
        """The key that encrypts secrets at rest in Redis."""
        if self.liquidbook_secret_key is not None:
            return self.liquidbook_secret_key.get_secret_value().encode()
        material = (self.private_key_pem or "") + self.webhook_secret
        if not material:
            raise SettingsError(
                "LIQUIDBOOK_SECRET_KEY is not set and there is no app key to derive one from"
            )
        digest = hashlib.sha256(b"liquidbook-fernet-v1\0" + material.encode()).digest()
        return base64.urlsafe_b64encode(digest)

    @property
    def database_url_or_default(self) -> str:
        """`DATABASE_URL`, or a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.liquidbook_data_dir / 'liquidbook.db').resolve()}"


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning validation errors into one line per bad setting.

    Values are never echoed back: pydantic's own messages include the input, which may be a key.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = str(error["loc"][0]).upper() if error["loc"] else "settings"
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"{name}: {message}")
        raise SettingsError("; ".join(lines)) from None
    except SourceError as exc:
        # pydantic-settings names the field in lower case; keep only that part.
        match = str(exc).split('"')
        name = match[1].upper() if len(match) > 2 else "a setting"
        raise SettingsError(f"{name}: cannot be parsed") from None

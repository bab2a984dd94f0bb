"""The app's settings, read from the environment and a `.env` file.

Everything an operator configures lives here, named as the README documents it. Secrets are
`SecretStr` so that a stray `repr()` or log line never shows them; a missing or malformed
setting stops start-up with one line that names it (see `load_settings`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
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

    # The GitHub App's id (the setup page writes it).
    github_app_id: int | None = Field(default=None, ge=1)
    # The app's slug, as in github.com/apps/SLUG; looked up with GET /app when unset.
    github_app_slug: str | None = None
    # The app's private key in PEM (`\n` escapes accepted); or GITHUB_PRIVATE_KEY_PATH.
    github_private_key: SecretStr | None = None
    # A file holding the app's private key, instead of GITHUB_PRIVATE_KEY.
    github_private_key_path: Path | None = None
    # The secret GitHub signs webhooks with; deliveries are refused without it.
    github_webhook_secret: SecretStr | None = None
    # GitHub's REST API; GitHub Enterprise Server: https://HOST/api/v3.
    github_api_url: str = "https://api.github.com"
    # Where people see github.com (the manifest flow sends them there); GHES: https://HOST.
    github_web_url: str = "https://github.com"
    # Seconds a GitHub API call may take. A creating call that times out is looked up before
    # the job reports it failed (GitHub may have carried it out).
    github_timeout_seconds: float = Field(default=30.0, gt=0, le=600)

    # redis://, rediss:// or unix:// URL; unset: an embedded Redis in the data directory (serve only).
    redis_url: str | None = None
    # postgresql://… or sqlite:///… URL; unset: SQLite in the data directory (serve only).
    database_url: str | None = None
    # Fernet key (urlsafe base64, 32 bytes) for secrets kept in Redis. When unset, one is
    # derived from the app's private key, which every process of one deployment shares.
    liquidbook_secret_key: SecretStr | None = None
    # Where the embedded Redis and SQLite live when their URLs are unset.
    liquidbook_data_dir: Path = Path(".liquidbook")

    # The address GitHub reaches this server at (the manifest flow registers its webhook URL
    # under it). Defaults to http://HOST:PORT.
    liquidbook_public_url: str | None = None
    # The app's OAuth client id (the setup page writes it; not used yet).
    github_client_id: str | None = None
    # The app's OAuth client secret (the setup page writes it; not used yet).
    github_client_secret: SecretStr | None = None

    # The address the web server listens on.
    host: str = "127.0.0.1"
    # The port the web server listens on.
    port: int = Field(default=3000, ge=0, le=65535)
    # DEBUG, INFO, WARNING, ERROR or CRITICAL.
    log_level: str = "INFO"
    # How long a webhook delivery id is remembered for deduplication (GitHub redelivers
    # within days at most when asked by hand; three days covers that).
    webhook_dedup_seconds: int = Field(default=3 * 24 * 3600, ge=60)
    # The largest webhook body accepted (GitHub sends at most 25 MB).
    webhook_max_bytes: int = Field(default=GITHUB_MAX_PAYLOAD_BYTES, ge=1024)
    # Seconds a sender has for a request's headers, and again for its body. GitHub sends a
    # delivery at once; a sender trickling bytes in is cut off (408) instead of holding a
    # connection for as long as it likes.
    liquidbook_read_timeout: float = Field(default=10.0, gt=0, le=300)
    # Minutes between two recoveries of missed webhook deliveries (one also runs when a
    # worker starts): GitHub never redelivers a failed delivery by itself, so a command
    # posted while the server was down would be lost. 0 turns recovery off; a divisor of 60
    # keeps the runs evenly spaced.
    liquidbook_redelivery_minutes: int = Field(default=30, ge=0, le=60)
    # Redeliveries asked of GitHub per recovery at most (oldest first; the rest wait for the
    # next run), so a long outage is caught up at a pace the server and GitHub both take.
    liquidbook_redelivery_max: int = Field(default=100, ge=1, le=1000)

    # Model defaults; a book's `.github/liquidbook.yml` may override them.
    liquidbook_model: str = "openrouter:anthropic/claude-sonnet-5.5"
    # Comma-separated `provider:model` names tried in order when the default fails.
    liquidbook_fallback_models: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # The `provider:model` that draws figures for books whose settings name no `models.image`
    # (unset: such books have no image model).
    liquidbook_image_model: str | None = None
    # The `provider:model` that makes clips for `/generate video` (Runway image-to-video,
    # such as `runway:gen4_turbo`, with `RUNWAY_API_KEY`). Unset: the server makes no clips,
    # and the command says so.
    liquidbook_video_model: str | None = None
    # Model spending cap per installation per calendar month, in US dollars.
    liquidbook_monthly_budget_usd: float = Field(default=20.0, ge=0)
    # Commands that call a model, per installation per hour (0: no limit): one noisy
    # installation cannot flood the workers or run through its budget in minutes.
    liquidbook_commands_per_hour: int = Field(default=60, ge=0)
    # Worker concurrency: jobs that run at once in one worker process.
    liquidbook_max_jobs: int = Field(default=10, ge=1)
    # Seconds a job may run before it is stopped.
    liquidbook_job_timeout: int = Field(default=900, ge=10)
    # Tries a job gets when its worker dies under it (killed, restarted); a command job
    # whose every try was cut off then says so in its status comment.
    liquidbook_job_tries: int = Field(default=5, ge=1, le=20)
    # Seconds the glossary waits after a merge before it updates its standing PR: merges
    # within this time of each other make one update (one commit, one build check).
    liquidbook_glossary_delay_seconds: int = Field(default=60, ge=0, le=24 * 3600)
    # Seconds a push or PR update waits before its book check (the "Liquid Book" check
    # run) starts: pushes within this time of each other make one build, of the newest.
    liquidbook_check_delay_seconds: float = Field(default=5, ge=0, le=3600)
    # A commit the app wrote itself (its own PR's) was built before it was pushed, and that
    # job reports its check run: the check job of such a commit starts this much later
    # still, finds the check recorded and builds nothing (it builds only when it is not).
    liquidbook_own_check_grace_seconds: float = Field(default=30, ge=0, le=3600)
    # Whether PRs from forks get the check run (their text is untrusted: the build runs in
    # the sandbox of `bot.book.sandbox_build`).
    liquidbook_check_forks: bool = True
    # How many of one installation's fork PR builds may run at once (others wait their turn).
    liquidbook_fork_builds: int = Field(default=2, ge=1, le=50)
    # Seconds a fork PR's check waits for a free build slot before it looks again.
    liquidbook_fork_wait_seconds: float = Field(default=15, ge=0.1, le=600)
    # How many times a fork PR's check looks again for a free build slot; then its check run
    # ends `neutral`, "not built", with a "Rebuild" button (40 × 15 s: ten minutes).
    liquidbook_fork_waits: int = Field(default=40, ge=0, le=1000)
    # `/publish` with GitHub Pages off: how long the app keeps looking for the author to turn
    # it on (no event says so).
    liquidbook_pages_wait_seconds: int = Field(default=600, ge=0, le=600)
    # `/publish` with GitHub Pages off: how often it looks (one GET each time).
    liquidbook_pages_poll_seconds: int = Field(default=30, ge=1, le=600)
    # `/publish`: how long the app waits for the dispatched deploy run to report back
    # (`workflow_run` completed) before it ends the status comment with what it knows.
    liquidbook_publish_wait_seconds: float = Field(default=1200, ge=1, le=6 * 3600)
    # Seconds the Book Dashboard waits before a refresh: events within this time of each
    # other (jobs ending, merges, pushes, deploys) make one edit of the dashboard issue.
    liquidbook_dashboard_delay_seconds: float = Field(default=10, ge=0, le=3600)
    # A command whose worst-case model cost is over this (US dollars) waits for `/confirm`
    # whatever the book's settings say (`budget.confirm_above_usd` may only set it lower);
    # unset: only books that ask for it confirm.
    liquidbook_confirm_above_usd: float | None = Field(default=None, ge=0)

    @field_validator("github_api_url", "github_web_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator(
        "github_private_key",
        "github_webhook_secret",
        "github_client_secret",
        "github_app_slug",
        "github_client_id",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `NAME=` in a `.env`, or a platform that cannot unset a variable: not configured.
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, SecretStr) and not value.get_secret_value().strip():
            return None
        return value

    @field_validator("liquidbook_public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "must be an http:// or https:// address, such as https://book.example.org"
            )
        return value.strip().rstrip("/")

    @field_validator("liquidbook_model")
    @classmethod
    def _model_name(cls, value: str) -> str:
        if not _is_model_name(value):
            raise ValueError(f"must be a provider:model name, such as {_MODEL_EXAMPLE}")
        return value.strip()

    @field_validator("liquidbook_image_model", "liquidbook_video_model")
    @classmethod
    def _image_model_name(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not _is_model_name(value):
            raise ValueError(f"must be a provider:model name, such as {_MODEL_EXAMPLE}")
        return value.strip()

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
        if not is_fernet_key(value.get_secret_value()):
            raise ValueError(
                "must be a Fernet key (32 bytes in url-safe base64, as "
                "cryptography's Fernet.generate_key() makes)"
            )
        return value

    @field_validator("liquidbook_fallback_models", mode="before")
    @classmethod
    def _split_models(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("liquidbook_fallback_models")
    @classmethod
    def _fallback_names(cls, value: list[str]) -> list[str]:
        for number, name in enumerate(value, 1):
            if not _is_model_name(name):
                raise ValueError(
                    f"entry {number} is not a provider:model name (write them comma-separated, "
                    f"such as {_MODEL_EXAMPLE},anthropic:claude-haiku-4-5)"
                )
        return value

    @model_validator(mode="after")
    def _app_credentials(self) -> Settings:
        """The app's id and private key come together, with the webhook secret; a key must be
        one GitHub issued (an RSA key in PEM). The secret alone is fine: a server that only
        receives webhooks needs nothing else."""
        key_name = "GITHUB_PRIVATE_KEY"
        if self.github_private_key is None and self.github_private_key_path is not None:
            key_name = "GITHUB_PRIVATE_KEY_PATH"
            if not self.github_private_key_path.is_file():
                raise ValueError(f"{key_name}: no file at {self.github_private_key_path}")
        try:
            pem = self.private_key_pem  # the file is read here, once: the property keeps it
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{key_name}: cannot be read ({type(exc).__name__})") from None
        has_id = self.github_app_id is not None
        has_key = pem is not None
        if pem is not None:
            _check_private_key(key_name, pem)
        if has_id or has_key:
            missing = [
                name
                for name, present in (
                    ("GITHUB_APP_ID", has_id),
                    ("GITHUB_PRIVATE_KEY (or GITHUB_PRIVATE_KEY_PATH)", has_key),
                    ("GITHUB_WEBHOOK_SECRET", self.github_webhook_secret is not None),
                )
                if not present
            ]
            if missing:
                raise ValueError(
                    f"{' and '.join(missing)} not set: the app's id, private key and webhook "
                    "secret go together (the setup page saves all three to .env)"
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


_MODEL_EXAMPLE = "openai:gpt-4.1"


_FERNET_KEY = re.compile(r"[A-Za-z0-9_-]{43}=")


def is_fernet_key(text: str) -> bool:
    """Whether `text` is a Fernet key exactly as `Fernet.generate_key()` writes one.

    Decided here, not by `Fernet(text)`: cryptography releases differ in what they accept
    (unpadded or non-canonical base64 passes some and fails others), and a key that one
    install takes and the next refuses would stop a running service at its next upgrade.
    A key is 44 characters of url-safe base64 with its one `=` of padding, and the canonical
    encoding of 32 bytes (re-encoding the bytes gives the same text).
    """
    if not _FERNET_KEY.fullmatch(text):
        return False
    raw = base64.urlsafe_b64decode(text)
    return len(raw) == 32 and base64.urlsafe_b64encode(raw).decode() == text


def _is_model_name(name: str) -> bool:
    """Whether `name` is `provider:model`, as the provider layer parses it."""
    from bot.providers.errors import UnknownModel
    from bot.providers.names import parse_model

    try:
        parse_model(name)
    except UnknownModel:
        return False
    return True


def _check_private_key(name: str, pem: str) -> None:
    """Raise a ValueError naming `name` unless `pem` is an RSA private key in PEM.

    The message never includes the key or cryptography's words about it.
    """
    try:
        key = serialization.load_pem_private_key(pem.strip().encode(), password=None)
    except TypeError:
        raise ValueError(
            f"{name}: the key is encrypted; GitHub's keys have no passphrase"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError(
            f"{name}: is not a PEM private key (GitHub's download begins with "
            "-----BEGIN RSA PRIVATE KEY-----; \\n escapes are accepted in a variable)"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{name}: is not an RSA key (GitHub App keys are RSA)")


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning validation errors into one line per bad setting.

    Values are never echoed back: pydantic's own messages include the input, which may be a key.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            # A check of several settings (no `loc`) names them in its own message.
            lines.append(f"{str(error['loc'][0]).upper()}: {message}" if error["loc"] else message)
        raise SettingsError("; ".join(lines)) from None
    except SourceError as exc:
        # pydantic-settings names the field in lower case; keep only that part.
        match = str(exc).split('"')
        name = match[1].upper() if len(match) > 2 else "a setting"
        raise SettingsError(f"{name}: cannot be parsed") from None

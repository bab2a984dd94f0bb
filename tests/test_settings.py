"""Configuration errors stop start-up with one line naming the setting, never its value."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.settings import SettingsError, load_settings
from tests.servers import ROOT, clean_env


def run_cli(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("PORT", "eighty", "PORT"),
        ("GITHUB_APP_ID", "not-a-number", "GITHUB_APP_ID"),
        ("GITHUB_API_URL", "api.github.com", "GITHUB_API_URL"),
        ("GITHUB_PRIVATE_KEY_PATH", "/nonexistent/key.pem", "GITHUB_PRIVATE_KEY_PATH"),
        ("LIQUIDBOOK_MONTHLY_BUDGET_USD", "-5", "LIQUIDBOOK_MONTHLY_BUDGET_USD"),
        ("LIQUIDBOOK_SECRET_KEY", "not-a-fernet-key-0123456789", "LIQUIDBOOK_SECRET_KEY"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL"),
        ("DATABASE_URL", "mysql://root@localhost/book", "DATABASE_URL"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL"),
    ],
)
def test_bad_setting_is_named_in_one_line(
    tmp_path: Path, variable: str, value: str, named: str
) -> None:
    secret = "s3cr3t-webhook-value"
    result = run_cli(tmp_path, {variable: value, "GITHUB_WEBHOOK_SECRET": secret}, "serve")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0] and "configuration error" in lines[0]
    assert "Traceback" not in result.stderr and secret not in result.stderr
    if variable == "LIQUIDBOOK_SECRET_KEY":
        assert value not in result.stderr


def test_malformed_secret_key_is_named_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("not-a-fernet-key-0123456789", "A" * 43, base64.urlsafe_b64encode(b"x" * 16)):
        value = bad if isinstance(bad, str) else bad.decode()
        monkeypatch.setenv("LIQUIDBOOK_SECRET_KEY", value)
        with pytest.raises(SettingsError) as err:
            load_settings(_env_file=None)
        message = str(err.value)
        assert message.startswith("LIQUIDBOOK_SECRET_KEY: must be a Fernet key")
        assert value not in message and "\n" not in message
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("LIQUIDBOOK_SECRET_KEY", key)
    assert load_settings(_env_file=None).fernet_key() == key.encode()
    monkeypatch.setenv("LIQUIDBOOK_SECRET_KEY", "")  # empty: unset, derived from the app key
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", "whsec")
    settings = load_settings(_env_file=None)
    assert settings.liquidbook_secret_key is None
    Fernet(settings.fernet_key())


def test_secrets_are_hidden_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", "very-secret")
    monkeypatch.setenv("GITHUB_PRIVATE_KEY", "-----BEGIN KEY-----\\nabc\\n-----END KEY-----")
    settings = load_settings(_env_file=None)
    assert "very-secret" not in repr(settings) and "abc" not in repr(settings)
    assert settings.private_key_pem == "-----BEGIN KEY-----\nabc\n-----END KEY-----"
    monkeypatch.setenv("PORT", "x")
    with pytest.raises(SettingsError) as err:
        load_settings(_env_file=None)
    assert "very-secret" not in str(err.value)


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text('GITHUB_APP_ID="42"\nLIQUIDBOOK_FALLBACK_MODELS=a:b,c:d\n')
    monkeypatch.chdir(tmp_path)
    for name in ("GITHUB_APP_ID", "LIQUIDBOOK_FALLBACK_MODELS"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.github_app_id == 42
    assert settings.liquidbook_fallback_models == ["a:b", "c:d"]


def test_module_entry_point_has_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "serve" in result.stdout and "worker" in result.stdout


def test_log_level_aliases_are_normalised() -> None:
    assert load_settings(_env_file=None, log_level="warn").log_level == "WARNING"
    assert load_settings(_env_file=None, log_level="debug").log_level == "DEBUG"

"""Configuration errors stop start-up with one line naming the setting, never its value."""

from __future__ import annotations

import base64
import string
import subprocess
import sys
from pathlib import Path

import hypothesis
import pytest
from cryptography.fernet import Fernet
from hypothesis import strategies as st

from bot.settings import SettingsError, is_fernet_key, load_settings
from standins.github.auth import generate_private_key
from tests.servers import ROOT, clean_env, free_port


def one_line_naming(result: subprocess.CompletedProcess[str], name: str) -> str:
    """The single stderr line of a refused start-up, checked to name `name`."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert name in lines[0] and "configuration error" in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


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
    pem = generate_private_key()
    body = pem.splitlines()[1]
    monkeypatch.setenv("GITHUB_APP_ID", "42")
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", "very-secret")
    monkeypatch.setenv("GITHUB_PRIVATE_KEY", pem.replace("\n", "\\n"))  # as a one-line variable
    settings = load_settings(_env_file=None)
    assert "very-secret" not in repr(settings) and body not in repr(settings)
    assert settings.private_key_pem == pem and settings.app_configured
    monkeypatch.setenv("PORT", "x")
    with pytest.raises(SettingsError) as err:
        load_settings(_env_file=None)
    assert "very-secret" not in str(err.value)


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text('GITHUB_APP_SLUG="book"\nLIQUIDBOOK_FALLBACK_MODELS=a:b,c:d\n')
    monkeypatch.chdir(tmp_path)
    for name in ("GITHUB_APP_SLUG", "LIQUIDBOOK_FALLBACK_MODELS"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.github_app_slug == "book"
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


def test_a_private_key_that_is_not_one_is_named_never_shown(tmp_path: Path) -> None:
    secret = "whsec-0123456789"
    for value in (
        "not-a-key",
        "-----BEGIN RSA PRIVATE KEY-----\\nc2VjcmV0\\n-----END RSA PRIVATE KEY-----",
    ):
        env = {"GITHUB_APP_ID": "42", "GITHUB_PRIVATE_KEY": value, "GITHUB_WEBHOOK_SECRET": secret}
        line = one_line_naming(run_cli(tmp_path, env, "serve"), "GITHUB_PRIVATE_KEY")
        assert "not a PEM private key" in line
        assert "c2VjcmV0" not in line and "not-a-key" not in line and secret not in line
    key_file = tmp_path / "key.pem"
    key_file.write_text("garbage that is secret\n")
    env = {"GITHUB_APP_ID": "42", "GITHUB_PRIVATE_KEY_PATH": str(key_file)}
    env["GITHUB_WEBHOOK_SECRET"] = secret
    line = one_line_naming(run_cli(tmp_path, env, "serve"), "GITHUB_PRIVATE_KEY_PATH")
    assert "garbage" not in line
    # An elliptic-curve key is a key, but not one GitHub issues for apps.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    env = {"GITHUB_APP_ID": "42", "GITHUB_PRIVATE_KEY": ec_pem, "GITHUB_WEBHOOK_SECRET": secret}
    assert "not an RSA key" in one_line_naming(
        run_cli(tmp_path, env, "serve"), "GITHUB_PRIVATE_KEY"
    )


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        (("GITHUB_APP_ID",), ("GITHUB_PRIVATE_KEY", "GITHUB_WEBHOOK_SECRET")),
        (("GITHUB_PRIVATE_KEY",), ("GITHUB_APP_ID", "GITHUB_WEBHOOK_SECRET")),
        (("GITHUB_APP_ID", "GITHUB_PRIVATE_KEY"), ("GITHUB_WEBHOOK_SECRET",)),
        (("GITHUB_PRIVATE_KEY", "GITHUB_WEBHOOK_SECRET"), ("GITHUB_APP_ID",)),
        (("GITHUB_APP_ID", "GITHUB_WEBHOOK_SECRET"), ("GITHUB_PRIVATE_KEY",)),
    ],
)
def test_the_app_id_and_key_come_together_with_the_secret(
    tmp_path: Path, given: tuple[str, ...], missing: tuple[str, ...]
) -> None:
    pem = generate_private_key()
    values = {"GITHUB_APP_ID": "42", "GITHUB_PRIVATE_KEY": pem, "GITHUB_WEBHOOK_SECRET": "whsec"}
    result = run_cli(tmp_path, {name: values[name] for name in given}, "serve")
    line = one_line_naming(result, missing[0])
    named = line.split(" not set")[0]
    assert all(name in named for name in missing) and not any(name in named for name in given)
    assert pem.splitlines()[1] not in result.stderr


def test_the_webhook_secret_alone_is_enough_to_receive_webhooks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("GITHUB_APP_ID", "GITHUB_PRIVATE_KEY", "GITHUB_PRIVATE_KEY_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", "whsec")
    settings = load_settings(_env_file=None)
    assert settings.webhook_secret == "whsec" and not settings.app_configured


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("LIQUIDBOOK_PUBLIC_URL", "book.example.org", "LIQUIDBOOK_PUBLIC_URL"),
        ("LIQUIDBOOK_PUBLIC_URL", "ftp://book.example.org", "LIQUIDBOOK_PUBLIC_URL"),
        ("LIQUIDBOOK_MODEL", "gpt-4.1", "LIQUIDBOOK_MODEL"),
        ("LIQUIDBOOK_MODEL", "openai:", "LIQUIDBOOK_MODEL"),
        ("LIQUIDBOOK_FALLBACK_MODELS", "openai:gpt-4.1,claude-haiku", "LIQUIDBOOK_FALLBACK_MODELS"),
        ("GITHUB_APP_ID", "0", "GITHUB_APP_ID"),
    ],
)
def test_malformed_addresses_and_model_names_are_named(
    tmp_path: Path, variable: str, value: str, named: str
) -> None:
    line = one_line_naming(run_cli(tmp_path, {variable: value}, "serve"), named)
    if variable == "LIQUIDBOOK_FALLBACK_MODELS":
        assert "entry 2" in line


def test_well_formed_addresses_and_model_names_load() -> None:
    settings = load_settings(
        _env_file=None,
        liquidbook_public_url="https://book.example.org/",
        liquidbook_model="ollama:llama3.1:8b",
        liquidbook_fallback_models="openai:gpt-4.1, anthropic:claude-haiku-4-5",
    )
    assert settings.public_url == "https://book.example.org"
    assert settings.liquidbook_fallback_models == ["openai:gpt-4.1", "anthropic:claude-haiku-4-5"]


@pytest.mark.parametrize("command", ["serve", "worker", "migrate"])
def test_an_unreachable_database_is_one_line_without_its_password(
    tmp_path: Path, redis_url: str, command: str
) -> None:
    url = f"postgresql://book:hunter2-pw@127.0.0.1:{free_port()}/book"  # nothing listens
    env = {"DATABASE_URL": url, "REDIS_URL": redis_url, "GITHUB_WEBHOOK_SECRET": "whsec"}
    result = run_cli(tmp_path, env, command)
    line = one_line_naming(result, "DATABASE_URL")
    assert "postgresql://book:***@127.0.0.1" in line and "Connect" in line
    assert "hunter2-pw" not in result.stderr + result.stdout


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_an_unreachable_redis_is_one_line_without_its_password(
    tmp_path: Path, command: str
) -> None:
    url = f"redis://:hunter2-pw@127.0.0.1:{free_port()}/0"  # nothing listens
    env = {"REDIS_URL": url, "DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}
    result = run_cli(tmp_path, env, command)
    line = one_line_naming(result, "REDIS_URL")
    assert "redis://:***@127.0.0.1" in line and "Connect" in line
    assert "hunter2-pw" not in result.stderr + result.stdout
    assert not (tmp_path / "a.db").exists(), "nothing is written before both stores answer"


@hypothesis.given(st.binary(min_size=32, max_size=32))
def test_every_generated_key_is_accepted_and_works(raw: bytes) -> None:
    key = base64.urlsafe_b64encode(raw).decode()
    assert is_fernet_key(key)
    Fernet(key.encode())  # and cryptography agrees


@hypothesis.given(st.text(alphabet=string.ascii_letters + string.digits + "-_=+/ ", max_size=60))
def test_what_is_accepted_is_a_canonical_32_byte_key(text: str) -> None:
    if is_fernet_key(text):
        assert len(base64.urlsafe_b64decode(text)) == 32
        Fernet(text.encode())


@hypothesis.given(st.binary(min_size=32, max_size=32))
def test_near_misses_are_refused_whatever_cryptography_accepts(raw: bytes) -> None:
    key = base64.urlsafe_b64encode(raw).decode()
    last = key[42]
    # The 43rd character carries 4 spare bits, which must be zero in a canonical encoding.
    index = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    non_canonical = key[:42] + index[(index.index(last) + 1) % 64] + "="
    for bad in (
        key[:43],
        key + "=",
        " " + key,
        key[:-2] + "==",
        key.replace("-", "+"),
        non_canonical,
    ):
        if bad != key:
            assert not is_fernet_key(bad), bad


def test_the_image_chain_is_the_books_else_the_servers() -> None:
    from bot.book.config import BookConfig
    from bot.jobs.proposal import image_models_for

    server = load_settings(
        _env_file=None,
        liquidbook_image_model="stability:core",
        liquidbook_image_fallback_models="imagegate:gpt-image-2, replicate:owner/flux",
    )
    assert server.liquidbook_image_fallback_models == [
        "imagegate:gpt-image-2",
        "replicate:owner/flux",
    ]
    # No book choice: the server's model and its fallbacks.
    assert image_models_for(BookConfig(), server) == [
        "stability:core",
        "imagegate:gpt-image-2",
        "replicate:owner/flux",
    ]
    # The book's choice replaces the whole chain, its own fallbacks after it, once each.
    book = BookConfig.model_validate(
        {"models": {"image": "openai:gpt-image-2", "image_fallbacks": ["stability:core"] * 2}}
    )
    assert image_models_for(book, server) == ["openai:gpt-image-2", "stability:core"]
    assert image_models_for(BookConfig(), load_settings(_env_file=None)) == []

"""`liquidbook serve` with nothing configured: embedded Redis, SQLite, and the setup page."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.servers import AppProcess


def test_serve_on_embedded_defaults(tmp_path: Path) -> None:
    with AppProcess(tmp_path, {}, ("serve",)) as app:
        health = httpx.get(app.url + "/healthz", timeout=10)
        assert health.status_code == 200, health.text
        assert health.json()["github_app"].startswith("not configured")
        # The setup page: on github.com (the default) it first needs a public address,
        # since GitHub sends webhooks only to one reachable from the internet.
        page = httpx.get(app.url + "/", timeout=10)
        assert page.status_code == 200 and "Set up Liquid Book" in page.text
        assert "LIQUIDBOOK_PUBLIC_URL is not set" in page.text
        assert "<form" not in page.text
        # Without a secret, no delivery can be verified: all are refused.
        refused = httpx.post(app.url + "/api/github/webhooks", content=b"{}", timeout=10)
        assert refused.status_code == 401
    data = tmp_path / ".liquidbook"
    assert (data / "liquidbook.db").is_file()
    assert (data / "redis" / "liquidbook.aof").exists() or any((data / "redis").glob("appendonly*"))


def test_worker_alone_needs_redis_url(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.servers import clean_env

    result = subprocess.run(
        [sys.executable, "-m", "bot", "worker"],
        cwd=tmp_path,
        env=clean_env({}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "REDIS_URL" in result.stderr and "Traceback" not in result.stderr


def test_worker_alone_needs_the_app(tmp_path: Path, redis_url: str) -> None:
    import subprocess
    import sys

    from tests.servers import clean_env

    result = subprocess.run(
        [sys.executable, "-m", "bot", "worker"],
        cwd=tmp_path,
        env=clean_env({"REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp_path}/a.db"}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "GITHUB_APP_ID" in result.stderr and "Traceback" not in result.stderr

"""Run the real app (`python -m bot serve`) as a child process on a loopback port.

Tests talk to it over HTTP exactly as GitHub would; nothing of the app is imported into the
test's process for these checks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
# Variables the app reads; cleared so the machine's environment cannot leak into a test.
APP_VARIABLES = (
    "GITHUB_APP_ID",
    "GITHUB_APP_SLUG",
    "GITHUB_PRIVATE_KEY",
    "GITHUB_PRIVATE_KEY_PATH",
    "GITHUB_WEBHOOK_SECRET",
    "GITHUB_API_URL",
    "GITHUB_WEB_URL",
    "REDIS_URL",
    "DATABASE_URL",
    "LIQUIDBOOK_SECRET_KEY",
    "LIQUIDBOOK_PUBLIC_URL",
    "LIQUIDBOOK_DATA_DIR",
)


class PortTaken(Exception):
    """The port `free_port` chose was taken before the server could bind it."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """The test process's environment without app settings, plus `extra`."""
    env = {
        k: v for k, v in os.environ.items() if k not in APP_VARIABLES and not k.endswith("_API_KEY")
    }
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


class AppProcess:
    """`liquidbook <command>` in a child process; `url` once it answers /healthz."""

    def __init__(self, cwd: Path, env: dict[str, str], args: tuple[str, ...] = ("serve",)) -> None:
        self.cwd = cwd
        self.port = free_port()
        self.env = clean_env({"PORT": str(self.port), **env})
        self.args = args
        self.log_path = cwd / f"app-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> AppProcess:
        """Start and wait for /healthz. `free_port` cannot hold its port until the server
        binds it, and an outgoing connection of another process may take it meanwhile (its
        ephemeral port): then the server says so and exits, and it is started again on
        another port."""
        for _ in range(3):
            try:
                return self._start(timeout)
            except PortTaken:
                self.port = free_port()
                self.env["PORT"] = str(self.port)
        return self._start(timeout)

    def _start(self, timeout: float) -> AppProcess:
        self.cwd.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", *self.args],
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if f"cannot listen on 127.0.0.1:{self.port} (Address already in use)" in self.log():
                    raise PortTaken(self.port)
                raise RuntimeError(f"app exited {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code in (200, 503):
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"app did not start in {timeout}s:\n{self.log()}")

    def start_background(self) -> AppProcess:
        """Start a process that serves no HTTP (a worker); returns at once."""
        self.cwd.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", *self.args],
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up (as in a crash)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def __enter__(self) -> AppProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(
    client: httpx.Client,
    url: str,
    secret: str | None,
    event: str,
    payload: dict[str, Any] | bytes,
    delivery: str | None = None,
) -> httpx.Response:
    """Sign and post one delivery as GitHub does."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/test",
    }
    if secret is not None:
        headers["X-Hub-Signature-256"] = sign(secret, body)
    return client.post(url + "/api/github/webhooks", content=body, headers=headers)

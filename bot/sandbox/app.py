"""The real app, `python -m bot serve`, as a child process of the sandbox.

Its environment is built from scratch (embedded Redis and SQLite under `<workdir>/app`), so
nothing of the operator's settings or Redis leaks in, and everything talks over loopback.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bot.sandbox.console import SandboxError
from bot.sandbox.model import ModelChoice

APP_START_TIMEOUT = 60.0

# What the app's child process inherits from the operator: how to find programs, where home
# is, locale, certificates and proxies. Everything else is set explicitly.
PASSTHROUGH = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "PYENV_ROOT",
    "PYENV_VERSION",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def source_root() -> Path:
    """The folder holding the `bot` package, so the child imports this very code."""
    return Path(__file__).resolve().parent.parent.parent


def loopback_no_proxy(environ: dict[str, str]) -> str:
    """`NO_PROXY` with loopback added: proxies must never see calls between our servers."""
    current = environ.get("NO_PROXY") or environ.get("no_proxy") or ""
    parts = [p for p in current.split(",") if p.strip()]
    return ",".join([*parts, *(h for h in ("127.0.0.1", "localhost") if h not in parts)])


def app_environment(
    record: Any, choice: ModelChoice, github_api_url: str, workdir: Path, port: int
) -> dict[str, str]:
    """The app's whole environment: passthrough basics, the stand-ins, the model."""
    env = {key: os.environ[key] for key in PASSTHROUGH if os.environ.get(key)}
    env["NO_PROXY"] = env["no_proxy"] = loopback_no_proxy(dict(os.environ))
    env.update(
        {
            "PYTHONPATH": str(source_root()),
            "PYTHONUNBUFFERED": "1",
            "GITHUB_APP_ID": str(record.id),
            "GITHUB_APP_SLUG": record.slug,
            "GITHUB_PRIVATE_KEY": record.private_key_pem,
            "GITHUB_WEBHOOK_SECRET": record.webhook_secret or "",
            "GITHUB_API_URL": github_api_url,
            "LIQUIDBOOK_DATA_DIR": str(workdir / "app" / "data"),
            "LIQUIDBOOK_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "LOG_LEVEL": "INFO",
            # The Book Dashboard follows each push and job a second later, not ten.
            "LIQUIDBOOK_DASHBOARD_DELAY_SECONDS": "1",
        }
    )
    env.update(choice.env)
    return env


class AppChild:
    """`python -m bot serve` in its own session, logging to a file; stopped with its children."""

    def __init__(self, directory: Path, env: dict[str, str], port: int) -> None:
        self.directory = directory
        self.env = env
        self.port = port
        self.log_path = directory / "app.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the app and wait until `/healthz` answers 200."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve"],
                cwd=self.directory,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: Ctrl-C reaches only the sandbox, which stops the app in
                # order, and the whole group (embedded Redis included) can be ended at once.
                start_new_session=True,
            )
        deadline = time.monotonic() + APP_START_TIMEOUT
        with httpx.Client(trust_env=False, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise SandboxError(
                        f"the app exited with code {self.process.returncode} at start-up:\n"
                        + self.log_tail()
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(self.url + "/healthz").status_code == 200:
                        return
                time.sleep(0.2)
        raise SandboxError(f"the app did not answer /healthz in {APP_START_TIMEOUT:g} s")

    def exited(self) -> bool:
        """True once the app, started, is no longer running."""
        return self.process is not None and self.process.poll() is not None

    def log_tail(self, lines: int = 30) -> str:
        """The end of the app's log, for messages about what went wrong."""
        if not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text("utf-8", errors="replace").rstrip().splitlines()
        return "\n".join(f"    {line}" for line in text[-lines:])

    def stop(self) -> None:
        """SIGTERM (the app stops its worker and embedded Redis), then SIGKILL its group."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        # Whatever the app started and left behind (its group id is its pid).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)

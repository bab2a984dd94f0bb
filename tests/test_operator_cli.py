"""What an operator sees of `liquidbook serve` at the shell: a taken port is one line before
anything starts, start-up is quiet, a stop says which signal, every option has help."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests.servers import AppProcess, clean_env


def test_a_taken_port_is_one_line_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "bot", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=clean_env({"GITHUB_WEBHOOK_SECRET": "whsec"}),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"liquidbook serve: cannot listen on 127.0.0.1:{port} (Address already in use): "
        "another server may be using it; choose another with --port or PORT"
    ], result.stderr
    assert not (tmp_path / ".liquidbook").exists(), "nothing started before the port was ours"


def test_start_up_is_quiet_and_a_stop_says_which_signal(tmp_path: Path) -> None:
    app = AppProcess(tmp_path, {"GITHUB_WEBHOOK_SECRET": "whsec"}, ("serve", "--no-worker"))
    app.start()
    app.stop()
    log = app.log()
    assert "alembic.runtime.plugins" not in log and "Context impl" not in log, log
    assert "Running upgrade" in log, "a migration that runs keeps its one line"
    assert f"listening on http://127.0.0.1:{app.port}" in log
    assert log.count("received SIGTERM: stopping") == 1, log
    # uvicorn re-raises the signal once shut down, as a process stopped by it should end.
    assert app.process is not None and app.process.returncode in (0, -15)


def test_every_serve_option_has_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--help"],
        env=clean_env({}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    text = " ".join(result.stdout.split())
    for option, words in (
        ("--host HOST", "address to listen on"),
        ("--port PORT", "port to listen on"),
        ("--access-log", "one line per HTTP request"),
        ("--no-worker", "worker"),
        ("--workers WORKERS", "worker children"),
    ):
        assert option in text and words in text, (option, result.stdout)

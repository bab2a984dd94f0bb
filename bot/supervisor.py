"""The worker children of `liquidbook serve`: started, watched, restarted, stopped.

Jobs never run in the server's process: an acknowledgement that builds a client, a token
fetch that waits, a chapter's clean-up would otherwise share the event loop that answers
GitHub's deliveries. Each child (`bot.worker_process`) runs both arq workers (jobs and
acknowledgements) and shares the server's settings: the same Redis (the embedded one's
socket too) and the same database, passed to it explicitly in its environment.

A child that exits while the server runs is started again after a pause that doubles from
1 s to `max_backoff` (back to 1 s once a child had run a minute), and `state` tells
`/healthz`. Stopping sends SIGTERM, then SIGKILL to a child still there after
`stop_seconds`; a server killed outright closes its end of each child's socket pair, and
the children stop themselves. Children write to the server's stdout and stderr, each line
naming its child (`[worker-1 <pid>]`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field

from bot.worker_process import PROCESS_NAME, SUPERVISOR_FD

log = logging.getLogger(__name__)

# A child that ran this long before exiting was healthy: its next start is not delayed long.
HEALTHY_RUN_SECONDS = 60.0


@dataclass
class Child:
    """One worker child as the supervisor sees it."""

    name: str
    state: str = "starting"
    restarts: int = 0
    pid: int | None = None
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)
    ready: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    restart_now: bool = False


class WorkerProcesses:
    """`count` supervised worker children sharing the server's Redis and database."""

    def __init__(
        self,
        count: int,
        env: dict[str, str],
        *,
        max_backoff: float = 30.0,
        stop_seconds: float = 10.0,
    ) -> None:
        self.children = [Child(f"worker-{i + 1}") for i in range(count)]
        self.env = env
        self.max_backoff = max_backoff
        self.stop_seconds = stop_seconds
        self.stopping = False
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, ready_within: float = 60.0) -> None:
        """Start every child, and wait (at most `ready_within` s) until each has said it is
        ready or has exited: when the server answers /healthz, its workers take jobs."""
        self._tasks = [
            asyncio.create_task(self._supervise(child), name=f"liquidbook-{child.name}")
            for child in self.children
        ]
        waits = [asyncio.create_task(self._started(child)) for child in self.children]
        await asyncio.wait(waits, timeout=ready_within)
        for wait in waits:
            wait.cancel()

    async def _started(self, child: Child) -> None:
        while child.state == "starting":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(child.ready.wait(), 0.1)

    @property
    def state(self) -> str:
        """ "running" when every child runs jobs, else what the first that does not is doing."""
        for child in self.children:
            if child.state != "running":
                return child.state
        return "running"

    def describe(self) -> list[dict[str, object]]:
        """Each child's name, pid, state and restarts (for /healthz)."""
        return [
            {"name": c.name, "pid": c.pid, "state": c.state, "restarts": c.restarts}
            for c in self.children
        ]

    def restart(self) -> None:
        """Start every child afresh (new credentials saved): each stops as on SIGTERM and is
        started again at once with the settings it then reads."""
        for child in self.children:
            if child.process is not None and child.process.returncode is None:
                child.restart_now = True
                with contextlib.suppress(ProcessLookupError):
                    child.process.send_signal(signal.SIGTERM)

    async def _supervise(self, child: Child) -> None:
        backoff = 1.0
        while not self.stopping:
            started = time.monotonic()
            code = await self._run_once(child)
            if self.stopping:
                break
            if child.restart_now:
                child.restart_now = False
                continue
            child.restarts += 1
            if time.monotonic() - started > HEALTHY_RUN_SECONDS:
                backoff = 1.0
            child.state = f"restarting after exit status {code} (in {backoff:.0f} s)"
            log.error(
                "worker process %s (pid %s) stopped (exit status %s); restarting in %.0f s",
                child.name,
                child.pid,
                code,
                backoff,
            )
            await asyncio.sleep(backoff)
            backoff = min(self.max_backoff, backoff * 2)
        child.state = "stopped"

    async def _run_once(self, child: Child) -> int:
        """Run the child until it exits; its exit status (negative: the signal)."""
        ours, theirs = socket.socketpair()
        ours.setblocking(False)
        child.ready.clear()
        child.state = "starting"
        try:
            env = {**self.env, SUPERVISOR_FD: str(theirs.fileno()), PROCESS_NAME: child.name}
            child.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.worker_process",
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
            )
            theirs.close()
            child.pid = child.process.pid
            reader = asyncio.create_task(self._read_ready(child, ours))
            try:
                return await child.process.wait()
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
        finally:
            theirs.close()
            ours.close()  # a child still running sees its server gone and stops

    async def _read_ready(self, child: Child, ours: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(OSError):
            if (await loop.sock_recv(ours, 64)).startswith(b"ready"):
                child.state = "running"
                child.ready.set()

    async def stop(self) -> None:
        """SIGTERM every child, SIGKILL those still there after `stop_seconds`, and wait."""
        self.stopping = True
        running = [
            c.process
            for c in self.children
            if c.process is not None and c.process.returncode is None
        ]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        if running:
            _, late = await asyncio.wait(
                [asyncio.create_task(p.wait()) for p in running], timeout=self.stop_seconds
            )
            for process in running:
                if process.returncode is None:
                    log.warning("worker process %s did not stop: killed", process.pid)
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
            if late:
                await asyncio.wait(late, timeout=5)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def child_environment(redis_url: str, database_url: str) -> dict[str, str]:
    """The server's environment, with the Redis and database it uses named explicitly (the
    embedded Redis's socket, the default SQLite file), so every child shares them."""
    return {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": database_url}

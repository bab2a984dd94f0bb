"""One worker child of `liquidbook serve`: `python -m bot.worker_process` (not a CLI command).

`bot.supervisor` starts these with the server's settings in the environment (its REDIS_URL,
the embedded one's socket included, and its DATABASE_URL), and one end of a socket pair
whose descriptor is in `LIQUIDBOOK_SUPERVISOR_FD`. Over it the child says `ready` once Redis
and the database answer; when the server is gone (its end closes, even after a SIGKILL) the
child stops as on a SIGTERM, so no worker outlives its server.

Unlike `liquidbook worker`, it runs while no GitHub App is configured yet (its jobs are then
skipped, as the server's own were): the setup page configures the server, which restarts
its children to pick the new credentials up.

Exit status: 0 after a signal, 1 when the workers stopped on an error (Redis away), 2 when
a store could not be reached at start; the supervisor restarts it after a pause.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable

from bot.settings import Settings, SettingsError, load_settings

log = logging.getLogger("liquidbook.worker")

SUPERVISOR_FD = "LIQUIDBOOK_SUPERVISOR_FD"
# Jobs are throughput, the server's answers are latency: when both want the CPU, the
# scheduler gives it to the server first (a child with nothing else to run still gets all).
NICENESS = 5
PROCESS_NAME = "LIQUIDBOOK_PROCESS_NAME"


def _link() -> socket.socket | None:
    """This child's end of the pair the supervisor made, or None when started by hand."""
    fd = os.environ.get(SUPERVISOR_FD)
    if not fd or not fd.isdigit():
        return None
    link = socket.socket(fileno=int(fd))
    link.setblocking(False)
    return link


def _stop_when_orphaned(link: socket.socket) -> None:
    """A SIGTERM to ourselves when the supervisor's end closes: arq's handler then stops the
    workers as it does for an operator's SIGTERM (running jobs cancelled, retried later)."""
    loop = asyncio.get_running_loop()

    def readable() -> None:
        try:
            data = link.recv(64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(link.fileno())
            log.warning("the server is gone: stopping")
            os.kill(os.getpid(), signal.SIGTERM)

    loop.add_reader(link.fileno(), readable)


async def run(settings: Settings) -> int:
    from bot.services import Services, StartupError, freeze_startup_heap
    from bot.worker import build_worker

    link = _link()
    try:
        services = await Services.start(settings, allow_embedded_redis=False)
    except StartupError as exc:
        log.error("%s", exc)
        return 2
    workers = build_worker(services, handle_signals=True)
    freeze_startup_heap()
    if link is not None:
        _stop_when_orphaned(link)
        link.send(b"ready\n")
    try:
        await workers.async_run()
    except asyncio.CancelledError:
        return 0  # arq's SIGTERM/SIGINT handler: a normal stop
    except Exception as exc:
        log.error("the workers stopped (%s: %s)", type(exc).__name__, exc)
        return 1
    finally:
        try:
            await workers.close()
        finally:
            await services.close()
    return 0


def main() -> int:
    name = os.environ.get(PROCESS_NAME, "worker")
    if os.environ.get(SUPERVISOR_FD):
        os.nice(NICENESS)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"liquidbook {name}: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=getattr(logging, settings.log_level.upper(), logging.INFO),
        format=f"%(asctime)s %(levelname)s [{name} %(process)d] %(name)s: %(message)s",
    )
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(run(settings))


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop (what `serve` runs too) for every process that runs jobs: the
    worker children and `liquidbook worker` alike."""
    try:
        import uvloop
    except ImportError:  # uvicorn[standard] brings it; plain asyncio works the same
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    sys.exit(main())

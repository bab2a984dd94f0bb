"""`liquidbook` — the command line: serve, worker, migrate, and the operator's tools.

Each subcommand module registers itself with `register(subparsers)`; this file only
assembles them, so `liquidbook --help` lists what the product can do.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
from collections.abc import Sequence
from typing import Any

from bot.settings import Settings, SettingsError, load_settings

log = logging.getLogger("liquidbook")


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        print(f"liquidbook: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _startup_failed(command: str, error: Exception) -> int:
    """One line on stderr for a store that cannot be reached; exit status 2."""
    print(f"liquidbook {command}: configuration error: {error}", file=sys.stderr)
    return 2


def model_key_warning(model: str) -> str | None:
    """Why commands that call `model` would fail for want of a key, or None when one is set.

    Read as the provider layer reads it (environment, then `.env`), so the warning names the
    exact variable to set; a provider that needs no key (a local `<NAME>_BASE_URL`) is fine.
    """
    from bot.providers.errors import UnknownModel
    from bot.providers.names import parse_model
    from bot.providers.settings import ProviderSettings

    try:
        provider = parse_model(model).provider
        endpoint = ProviderSettings().endpoint(provider, model)
    except UnknownModel as exc:
        return f"the default model {model} cannot be used: {exc}"
    if endpoint.key_required and not endpoint.api_key:
        return (
            f"{endpoint.key_env} is not set: commands that call the default model "
            f"({model}, LIQUIDBOOK_MODEL) will fail until it is"
        )
    return None


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port` (IPv6 when the host is), or OSError when it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
    except OSError:
        listener.close()
        raise
    return listener


def _server(config: Any) -> Any:
    """uvicorn's server, saying in one line which signal stops it (uvicorn's own lines
    follow at INFO: shutting down, waiting for the application). Built here because
    uvicorn is imported only by the commands that serve."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            if not self.should_exit:
                name = signal.Signals(sig).name if sig else "a stop request"
                log.warning(
                    "received %s: stopping (jobs in flight are put back on the queue)", name
                )
            super().handle_exit(sig, frame)

    return Server(config)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the webhook server, with `--workers` worker children (1) unless --no-worker.

    The children run the jobs (`bot.supervisor`): nothing a job does shares the event loop
    that answers GitHub.

    The stores are connected before uvicorn starts, in the loop it then serves on, so an
    unreachable DATABASE_URL or REDIS_URL is one line and exit status 2, not a traceback
    out of the ASGI lifespan.
    """
    import uvicorn

    from bot.http_protocol import with_header_deadline
    from bot.server import create_app
    from bot.services import Services, StartupError, freeze_startup_heap

    settings = _settings_or_exit()
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if overrides:
        settings = settings.model_copy(update=overrides)
    _logging(settings.log_level)

    try:
        # Taken before anything starts (the embedded Redis, worker children, the setup URL
        # in the log), and handed to uvicorn: no window for another server to take it.
        listener = _listen(settings.host, settings.port)
    except OSError as exc:
        print(
            f"liquidbook serve: cannot listen on {settings.host}:{settings.port} "
            f"({exc.strerror or exc}): another server may be using it; choose another "
            "with --port or PORT",
            file=sys.stderr,
        )
        return 2

    app = create_app(settings, workers=0 if args.no_worker else args.workers)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=args.access_log,
        # uvicorn times out idle keep-alive connections only; headers get a deadline of
        # their own (bot/http_protocol.py), bodies one in the webhook endpoint.
        http=with_header_deadline(settings.liquidbook_read_timeout),
    )

    async def run() -> int:
        try:
            services = await Services.start(settings)
        except StartupError as exc:
            return _startup_failed("serve", exc)
        app.state.services = services
        freeze_startup_heap()
        try:
            if not settings.app_configured:
                log.warning(
                    "no GitHub App configured: open %s/setup to create one from app.yml",
                    settings.public_url,
                )
            if (warning := model_key_warning(settings.liquidbook_model)) is not None:
                log.warning("%s", warning)
            log.info("listening on http://%s:%s", settings.host, settings.port)
            await _server(config).serve(sockets=[listener])
        finally:
            listener.close()
            await services.close()  # the lifespan closed them, unless uvicorn never started
        return 0

    # On the event loop uvicorn would pick (uvloop when installed), as `uvicorn.run` does.
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        return runner.run(run())


def cmd_worker(args: argparse.Namespace) -> int:
    """Run job workers only (scale them apart from the web servers)."""
    from bot.services import Services, StartupError, freeze_startup_heap
    from bot.worker import build_worker

    settings = _settings_or_exit()
    if settings.redis_url is not None and settings.database_url is None:
        # Checked before connecting (no REDIS_URL has its own line from Services.start): the
        # default would be a SQLite file of this worker's own, and its installations and
        # usage would silently differ from the server's.
        print(
            "liquidbook worker: DATABASE_URL is not set: a separate worker needs the database "
            "the server uses (the same postgresql://… URL), not a SQLite file of its own",
            file=sys.stderr,
        )
        return 2
    _logging(settings.log_level)

    async def run() -> int:
        try:
            services = await Services.start(settings, allow_embedded_redis=False)
        except StartupError as exc:
            return _startup_failed("worker", exc)
        if not settings.app_configured:
            # Every job would be skipped: the setup page configures only the server it
            # runs in, so a worker started before it would never pick the app up.
            await services.close()
            print(
                "liquidbook worker: GITHUB_APP_ID, GITHUB_PRIVATE_KEY and GITHUB_WEBHOOK_SECRET "
                "are needed: register the app first (`liquidbook serve`, then its /setup page), "
                "then start workers with the settings it saved.",
                file=sys.stderr,
            )
            return 2
        worker = build_worker(services, handle_signals=True, burst=args.burst)
        freeze_startup_heap()
        try:
            await worker.async_run()
        except asyncio.CancelledError:
            # arq's SIGTERM/SIGINT handler cancels the run after letting jobs finish or
            # requeueing them: a normal stop, not a crash.
            pass
        finally:
            await worker.close()
            await services.close()
        return 0

    from bot.worker_process import loop_factory

    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(run())


def cmd_migrate(args: argparse.Namespace) -> int:
    """Bring the database schema up to date (every process also does this at start-up)."""
    from bot.services import StartupError, open_database

    settings = _settings_or_exit()

    async def run() -> int:
        try:
            db = await open_database(settings)
        except StartupError as exc:
            return _startup_failed("migrate", exc)
        await db.close()
        print("database is at the latest schema")
        return 0

    return asyncio.run(run())


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("at least 1 (use --no-worker for none)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liquidbook",
        description="Liquid Book: a GitHub App that writes Jupyter Books with AI. "
        "Run the server, workers, migrations, check a model, or try the whole story offline.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve", help="run the webhook server (and worker children) on embedded defaults"
    )
    serve.add_argument(
        "--host", default=None, help="address to listen on (HOST; default 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=int, default=None, help="port to listen on (PORT; default 3000)"
    )
    serve.add_argument(
        "--no-worker", action="store_true", help="start no worker children (run workers apart)"
    )
    serve.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="worker children to start, each running jobs and acknowledgements (default 1)",
    )
    serve.add_argument(
        "--access-log",
        action="store_true",
        help="log one line per HTTP request (off by default: /metrics counts deliveries)",
    )
    serve.set_defaults(func=cmd_serve)
    worker = sub.add_parser("worker", help="run job workers only (needs REDIS_URL)")
    worker.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    worker.set_defaults(func=cmd_worker)
    migrate = sub.add_parser("migrate", help="migrate the database schema")
    migrate.set_defaults(func=cmd_migrate)
    for module in _plugin_modules():
        module.register(sub)
    return parser


def _plugin_modules() -> list:  # type: ignore[type-arg]
    """Subcommands that live beside the code they drive (model check, book check, sandbox)."""
    import importlib

    modules = []
    for name in ("bot.providers.cli", "bot.book.cli", "bot.sandbox"):
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return modules


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `liquidbook` console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

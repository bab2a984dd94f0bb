"""Liquid Book's webhook server side by side with Probot 14 + BullMQ, on the same cores.

The peer (bench/probot/, our own few lines; Probot and BullMQ are installed with npm into a
cache folder under the system's temporary directory, never into this repository) is a Probot
app served by `createNodeMiddleware` on Node's http server that verifies each delivery and
enqueues one BullMQ job per `issue_comment.created` that may hold a command, and a BullMQ
worker in its own Node process making the GitHub calls our acknowledgement job makes for
`/help` (👀, the author's permission, the book's settings file, the answer comment), as the
same app with the same private key, against the same stand-in of GitHub (a child process). So
both sides carry the same job work; the stand-in's request log counts the calls per job.

Rows, driven alternately (A B C D A B C D …, `--repeat` times, medians reported):
  ours              `liquidbook serve` as it is (its workers do the jobs)
  probot            Probot + BullMQ, with the worker
  ours-no-worker    `liquidbook serve --no-worker`: acknowledge only (jobs enqueued, not run)
  probot-no-worker  Probot enqueuing, no worker: the pair of the row above
  ours-worker       `liquidbook serve --no-worker` and one `liquidbook worker` process apart
                    (as Probot's BullMQ worker runs)
Each row meets the same generator (this process: asyncio streams, keep-alive, from
bench/webhooks.py) and the same payloads (GitHub's real signed `issue_comment.created`
example from @octokit/webhooks-examples with the body `/help`, and the repository,
installation, issue and comment ids pointed at the stand-in's), at fixed rates (open loop) and
closed loop (16 in flight). Every delivery names its own comment, which exists in the stand-in,
so each job does its whole work. Between loads Redis db `--redis-db` is flushed (the backlog a
load leaves is dropped) and the stand-in forgets its reactions and request log.

    python bench/probot_side_by_side.py            # the full run (about 11 minutes)
    python bench/probot_side_by_side.py --quick    # one rate and closed loop, once
    python bench/probot_side_by_side.py --rows ours,ours-worker,probot --seconds 0 --drain 3000

`--drain N` adds, per row, how fast its jobs work off a backlog: N deliveries sent at once,
timed until the last answer is posted (acknowledgement jobs per second, and the CPU per job
of the job processes and of the stand-in). Beside them, `floor`: the stand-in of GitHub's own
ceiling for the same four calls, from a bare HTTP/1.1 client with a token fetched once, at
the same concurrency, so a row that reaches it is held by the stand-in, not by its own CPU.

Loopback only; every process it starts is stopped when it ends (or after `--max-minutes`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import gc
import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.webhooks import Connections, comment_payload, percentile  # noqa: E402
from tests.servers import AppProcess, clean_env, free_port, sign  # noqa: E402

SECRET = "bench-side-by-side-secret"
OWNER, NAME = "octo-org", "Hello-World"
REPO = f"{OWNER}/{NAME}"
AUTHOR = "Codertocat"  # the example's commenter, given the write role on the stand-in's repo
PEER = ROOT / "bench" / "probot"
SENTINEL = b"987654321012345"  # the comment id in the payload template, replaced per delivery
GITHUB_GIVES_UP_S = 10.0  # GitHub's delivery timeout: a slower answer counts as an error
IN_FLIGHT = 16
STANDIN_NICENESS = 10
ROWS = ("ours", "probot", "ours-no-worker", "probot-no-worker", "ours-worker")


# ---------------------------------------------------------------- the stand-in (child process)


def standin_child(root: Path, comments: int) -> None:
    """Serve the stand-in of GitHub with the app, the repository and `comments` comments, then
    answer `reset`, `counts` and `quit` on stdin (one JSON line each on stdout)."""
    from bot.book.bundled import skeleton_files
    from standins.github import GitHubStandIn

    # GitHub's CPU is not the servers': the stand-in runs behind every row's processes (the
    # same for both sides), so what a row's intake and jobs cost shows, not how the kernel
    # shares two cores between them and "GitHub".
    os.nice(STANDIN_NICENESS)
    gh = GitHubStandIn(root).start()
    # Subscribed to nothing but installations: the comments made here and the answers the
    # jobs post are not delivered anywhere (the generator is the only sender).
    app = gh.register_app(slug="bench-app", webhook_secret=SECRET, events=["installation"])
    gh.add_user(AUTHOR)
    gh.create_repo(OWNER, NAME, files=dict(skeleton_files()))
    gh.set_permission(REPO, AUTHOR, "write")
    installation = gh.install(app.id, OWNER, [NAME], deliver=False)
    issue = gh.open_issue(REPO, AUTHOR, "bench")
    ids = [
        gh.comment(REPO, issue, AUTHOR, "/help").payload["comment"]["id"] for _ in range(comments)
    ]
    state = gh.hub.state
    print(
        json.dumps(
            {
                "api_url": gh.api_url,
                "app_id": app.id,
                "slug": app.slug,
                "private_key": app.private_key_pem,
                "installation_id": installation,
                "issue": issue,
                "comment_ids": ids,
            }
        ),
        flush=True,
    )
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            break
        with state.lock:
            logged = list(state.requests)
            state.requests.clear()
            if command == "reset":
                state.reactions = []  # a fresh record for each load (its index follows)
        calls = Counter(
            f"{r.method} {r.route or r.path}" for r in logged if r.auth_kind == "installation"
        )
        print(
            json.dumps(
                {
                    "calls": dict(calls),
                    "tokens": sum(r.path.endswith("/access_tokens") for r in logged),
                    "failed": sum(r.status >= 400 and r.status != 404 for r in logged),
                }
            ),
            flush=True,
        )
    gh.stop()


class StandIn:
    """The stand-in's child process, driven over its stdin."""

    def __init__(self, root: Path, comments: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--standin-child", str(root), "--pool", str(comments)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=clean_env({}),
            text=True,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        if not first:
            raise RuntimeError("the GitHub stand-in did not start")
        self.info: dict[str, Any] = json.loads(first)

    def ask(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(Exception):
                assert self.process.stdin is not None
                self.process.stdin.write("quit\n")
                self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# ---------------------------------------------------------------- the servers under test


def peer_dir(tmp_root: Path) -> Path:
    """bench/probot's files in a cache folder under the temporary directory, with its npm
    dependencies installed there (again only when package.json changed)."""
    cache = tmp_root / "liquidbook-bench-probot"
    cache.mkdir(parents=True, exist_ok=True)
    for source in PEER.iterdir():
        if source.suffix in (".js", ".json"):
            shutil.copy2(source, cache / source.name)
    stamp = cache / ".installed"
    wanted = hashlib.sha256((PEER / "package.json").read_bytes()).hexdigest()
    if not (stamp.exists() and stamp.read_text() == wanted and (cache / "node_modules").exists()):
        print(f"npm install into {cache} …", file=sys.stderr, flush=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=cache,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        stamp.write_text(wanted)
    return cache


def answer_body() -> str:
    """The comment our acknowledgement posts for `/help` (the peer posts the same text)."""
    from bot.commands import Help, help_text
    from bot.jobs.acknowledge import heading
    from bot.status import StatusComment

    return StatusComment.render(heading(Help(), AUTHOR), "✅ What I can do:\n\n" + help_text())


def ack_concurrency() -> int:
    """Acknowledgement jobs at once in one of our workers: the peer's worker gets as many."""
    try:
        from bot.worker import ACK_MAX_JOBS

        return int(ACK_MAX_JOBS)
    except ImportError:
        return 20


def tree(pid: int) -> list[Any]:
    import psutil

    try:
        top = psutil.Process(pid)
        return [top, *top.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(processes: list[Any]) -> float:
    total = 0.0
    for process in processes:
        with contextlib.suppress(Exception):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def rss_bytes(processes: list[Any]) -> int:
    total = 0
    for process in processes:
        with contextlib.suppress(Exception):
            total += process.memory_info().rss
    return total


@dataclass
class Side:
    """One row's processes: `intake` answers webhooks; `jobs` are the processes running jobs
    (children of the intake, or a worker of its own)."""

    name: str
    port: int = 0
    intake_pid: int = 0
    popens: list[subprocess.Popen[bytes]] = field(default_factory=list)
    apps: list[AppProcess] = field(default_factory=list)
    worker_pids: list[int] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def intake(self) -> list[Any]:
        return tree(self.intake_pid)[:1]

    def jobs(self) -> list[Any]:
        children = tree(self.intake_pid)[1:]
        return children + [p for pid in self.worker_pids for p in tree(pid)]

    def everything(self) -> list[Any]:
        return self.intake() + self.jobs()

    def stop(self) -> None:
        survivors = self.everything()
        for app in self.apps:
            app.stop()
        for popen in self.popens:
            if popen.poll() is None:
                popen.terminate()
        for popen in self.popens:
            try:
                popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
        for process in survivors:  # only the processes this side started, by their pids
            with contextlib.suppress(Exception):
                if process.is_running():
                    process.kill()

    def tail(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}"
            for log in self.logs
            if log.exists()
        )


def start_ours(name: str, work: Path, github: dict[str, Any], redis_url: str) -> Side:
    args = ("serve",) if name == "ours" else ("serve", "--no-worker")
    work.mkdir(parents=True, exist_ok=True)
    env = {
        "GITHUB_APP_ID": str(github["app_id"]),
        "GITHUB_APP_SLUG": github["slug"],
        "GITHUB_PRIVATE_KEY": github["private_key"],
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITHUB_API_URL": github["api_url"],
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{work / 'bench.db'}",
        "LIQUIDBOOK_DATA_DIR": str(work / "data"),
        "LOG_LEVEL": "WARNING",
    }
    app = AppProcess(work, env, args).start()
    assert app.process is not None
    side = Side(name, app.port, app.process.pid, apps=[app], logs=[app.log_path])
    if name == "ours-worker":
        log = work / "worker.log"
        worker = subprocess.Popen(
            [sys.executable, "-m", "bot", "worker"],
            cwd=work,
            env=clean_env(env),
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        side.popens.append(worker)
        side.worker_pids.append(worker.pid)
        side.logs.append(log)
    return side


def start_probot(name: str, work: Path, peer: Path, github: dict[str, Any], redis_url: str) -> Side:
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = clean_env(
        {
            "PORT": str(port),
            "NODE_ENV": "production",
            "BENCH_APP_ID": str(github["app_id"]),
            "BENCH_PRIVATE_KEY": github["private_key"],
            "BENCH_WEBHOOK_SECRET": SECRET,
            "BENCH_GITHUB_URL": github["api_url"],
            "BENCH_REDIS_URL": redis_url,
            "BENCH_CONCURRENCY": str(ack_concurrency()),
            "BENCH_ANSWER_BODY": answer_body(),
        }
    )
    side = Side(name, port)

    def spawn(script: str) -> subprocess.Popen[bytes]:
        log = work / f"{script}.log"
        side.logs.append(log)
        popen = subprocess.Popen(
            ["node", script],
            cwd=peer,
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        side.popens.append(popen)
        return popen

    try:
        server = spawn("app.js")
        side.intake_pid = server.pid
        wait_until(lambda: port_open(port), server, side, "the Probot app to listen")
        if name == "probot":
            worker = spawn("worker.js")
            side.worker_pids.append(worker.pid)
            wait_until(
                lambda: "worker ready" in (work / "worker.js.log").read_text(errors="replace"),
                worker,
                side,
                "the BullMQ worker",
            )
    except BaseException:
        side.stop()
        raise
    return side


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def wait_until(ready: Any, popen: subprocess.Popen[bytes], side: Side, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(f"{what}: exited {popen.returncode}\n{side.tail()}")
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}\n{side.tail()}")


# ---------------------------------------------------------------- the load


class Payloads:
    """Signed raw requests, one per comment of the stand-in, built before the clock starts."""

    def __init__(self, github: dict[str, Any]) -> None:
        payload = copy.deepcopy(comment_payload())
        payload["comment"]["id"] = int(SENTINEL)
        payload["comment"]["body"] = "/help"
        payload["issue"]["number"] = github["issue"]
        payload["installation"]["id"] = github["installation_id"]
        repository = payload["repository"]
        repository.update(full_name=REPO, name=NAME, default_branch="main")
        repository["owner"]["login"] = OWNER
        self.template = json.dumps(payload).encode()
        assert self.template.count(SENTINEL) == 1
        self.ids: list[int] = github["comment_ids"]

    def build(self, count: int, secret: str = SECRET) -> list[bytes]:
        requests = []
        for comment_id in self.ids[:count]:
            body = self.template.replace(SENTINEL, str(comment_id).encode())
            head = (
                "POST /api/github/webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/json\r\nUser-Agent: GitHub-Hookshot/bench\r\n"
                f"X-GitHub-Event: issue_comment\r\nX-GitHub-Delivery: {uuid.uuid4()}\r\n"
                f"X-Hub-Signature-256: {sign(secret, body)}\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            requests.append(head.encode() + body)
        return requests


@dataclass
class Fired:
    latencies: list[float]
    errors: int
    elapsed: float


async def exchange(pool: Connections, raw: bytes, result: Fired) -> None:
    start = time.perf_counter()
    try:
        status = await asyncio.wait_for(pool.send(raw), GITHUB_GIVES_UP_S)
    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
        result.errors += 1
        return
    result.latencies.append(time.perf_counter() - start)
    if not 200 <= status < 300:
        result.errors += 1


async def open_loop(port: int, requests: list[bytes], rate: float) -> Fired:
    """Send at `rate` per second whatever the answers do (as GitHub does)."""
    result = Fired([], 0, 0.0)
    pool = Connections(port)
    tasks = []
    began = time.perf_counter()
    for i, raw in enumerate(requests):
        delay = began + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(exchange(pool, raw, result)))
    await asyncio.gather(*tasks)
    result.elapsed = time.perf_counter() - began
    pool.close()
    return result


async def closed_loop(port: int, requests: list[bytes], seconds: float) -> Fired:
    """IN_FLIGHT senders, each sending its next delivery when the last one is answered."""
    result = Fired([], 0, 0.0)
    pool = Connections(port)
    queue = iter(requests)
    began = time.perf_counter()
    deadline = began + seconds

    async def sender() -> None:
        for raw in queue:
            if time.perf_counter() >= deadline:
                return
            await exchange(pool, raw, result)

    await asyncio.gather(*(sender() for _ in range(IN_FLIGHT)))
    result.elapsed = time.perf_counter() - began
    pool.close()
    return result


# ---------------------------------------------------------------- one measurement

ANSWER_CALL = "POST /repos/{owner}/{repo}/issues/{issue_number}/comments"


def settle(side: Side, busy: float = 0.15, limit: float = 30.0) -> None:
    """Wait until the row's processes are quiet (below `busy` of a core over half a second, at
    most `limit` seconds): a load that overran leaves requests the server still works through
    after the generator gave up on them, and they must not weigh on the next load."""
    deadline = time.monotonic() + limit
    before = cpu_seconds(side.everything())
    while time.monotonic() < deadline:
        time.sleep(0.5)
        after = cpu_seconds(side.everything())
        if after - before < busy * 0.5:
            return
        before = after
    print(f"{side.name} still busy after {limit:g} s", file=sys.stderr, flush=True)


def refuses_forgery(side: Side, payloads: Payloads) -> None:
    """Both sides must check signatures: a delivery signed with another secret is refused."""

    async def send(raw: bytes) -> int:
        pool = Connections(side.port)
        try:
            return await pool.send(raw)
        finally:
            pool.close()

    status = asyncio.run(send(payloads.build(1, secret="forged")[0]))
    if not 400 <= status < 500:
        raise RuntimeError(f"{side.name} answered {status} to a forged signature")


def calibrate(side: Side, standin: StandIn, flush: Any, payloads: Payloads, jobs: int = 20) -> str:
    """The GitHub calls one job makes, from the stand-in's log: `jobs` deliveries, then wait
    (at most a minute) until each has posted its answer."""
    flush()
    standin.ask("reset")
    asyncio.run(open_loop(side.port, payloads.build(jobs), 50))
    calls: Counter[str] = Counter()
    deadline = time.monotonic() + 60
    while calls[ANSWER_CALL] < jobs and time.monotonic() < deadline:
        time.sleep(0.2)
        calls.update(standin.ask("counts")["calls"])
    if calls[ANSWER_CALL] < jobs:
        return f"{calls[ANSWER_CALL]} of {jobs} jobs answered in 60 s"
    listed = ", ".join(f"{call} ×{n / jobs:g}" for call, n in sorted(calls.items()))
    return f"{sum(calls.values()) / jobs:g} calls per job ({listed})"


@dataclass
class Measure:
    row: str
    load: str
    sent: int
    answered: int
    errors: int
    rate: float
    p50: float
    p95: float
    p99: float
    cpu_intake_ms: float  # per delivery
    cpu_all_ms: float
    rss_mb: float
    jobs_per_s: float
    cpu_per_job_ms: float  # of the processes that run jobs apart from the intake (0: none)
    github_failures: int
    exhausted: bool = False


def measure(
    side: Side,
    standin: StandIn,
    flush: Any,
    payloads: Payloads,
    load: str,
    rate: float | None,
    seconds: float,
) -> Measure:
    flush()
    settle(side)
    flush()
    standin.ask("reset")
    count = int(rate * seconds) if rate else len(payloads.ids)
    requests = payloads.build(count)
    # The generator's own garbage collections (its heap holds every request of the load)
    # would stop its clock mid-load: none during a load, whichever row it drives.
    gc.collect()
    gc.disable()
    try:
        intake0, all0 = cpu_seconds(side.intake()), cpu_seconds(side.everything())
        if rate:
            fired = asyncio.run(open_loop(side.port, requests, rate))
        else:
            fired = asyncio.run(closed_loop(side.port, requests, seconds))
        intake1, all1 = cpu_seconds(side.intake()), cpu_seconds(side.everything())
    finally:
        gc.enable()
    rss = rss_bytes(side.everything())
    counts = standin.ask("counts")
    answers = counts["calls"].get(ANSWER_CALL, 0)
    sent = len(fired.latencies) + fired.errors
    ms = [x * 1000 for x in fired.latencies] or [float("nan")]
    per = max(sent, 1)
    return Measure(
        row=side.name,
        load=load,
        sent=sent,
        answered=len(fired.latencies),
        errors=fired.errors,
        rate=len(fired.latencies) / fired.elapsed,
        p50=percentile(ms, 50),
        p95=percentile(ms, 95),
        p99=percentile(ms, 99),
        cpu_intake_ms=(intake1 - intake0) * 1000 / per,
        cpu_all_ms=(all1 - all0) * 1000 / per,
        rss_mb=rss / 1e6,
        jobs_per_s=answers / fired.elapsed,
        cpu_per_job_ms=((all1 - all0) - (intake1 - intake0)) * 1000 / answers if answers else 0.0,
        github_failures=counts["failed"],
        exhausted=rate is None and sent >= len(requests),
    )


@dataclass
class Drain:
    """How fast a row's job processes work off a backlog: `count` deliveries sent at once
    (closed loop), timed until the last answer is posted."""

    row: str
    count: int
    seconds: float
    jobs_per_s: float
    cpu_per_job_ms: float  # the job processes'
    standin_cpu_per_job_ms: float  # the stand-in of GitHub's: its share of the floor


def drain(
    side: Side, standin: StandIn, flush: Any, payloads: Payloads, count: int, limit: float = 600
) -> Drain:
    flush()
    settle(side)
    flush()
    standin.ask("reset")
    requests = payloads.build(count)
    jobs0, standin0 = cpu_seconds(side.jobs()), cpu_seconds(tree(standin.process.pid))
    began = time.perf_counter()
    asyncio.run(closed_loop(side.port, requests, limit))
    answers = 0
    while answers < count and time.perf_counter() - began < limit:
        time.sleep(0.05)
        answers += standin.ask("counts")["calls"].get(ANSWER_CALL, 0)
    seconds = time.perf_counter() - began
    jobs1, standin1 = cpu_seconds(side.jobs()), cpu_seconds(tree(standin.process.pid))
    per = max(answers, 1)
    return Drain(
        row=side.name,
        count=answers,
        seconds=seconds,
        jobs_per_s=answers / seconds,
        cpu_per_job_ms=(jobs1 - jobs0) * 1000 / per,
        standin_cpu_per_job_ms=(standin1 - standin0) * 1000 / per,
    )


def floor(standin: StandIn, payloads: Payloads, count: int, concurrency: int) -> Drain:
    """The stand-in's ceiling for an acknowledgement's four calls (👀, the role, the settings
    file, the answer), from a bare keep-alive HTTP/1.1 client (a few microseconds a request)
    with one installation token, `concurrency` jobs at once."""
    from urllib.parse import urlsplit

    import jwt

    info = standin.info
    api = urlsplit(info["api_url"])
    host, port, prefix = api.netloc, api.port or 80, api.path.rstrip("/")
    now = int(time.time())
    app_jwt = jwt.encode(
        {"iat": now - 30, "exp": now + 300, "iss": str(info["app_id"])},
        info["private_key"],
        algorithm="RS256",
    )

    def raw(method: str, path: str, token: str, body: dict[str, Any] | None = None) -> bytes:
        data = json.dumps(body).encode() if body is not None else b""
        return (
            f"{method} {prefix}{path} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: {token}\r\nAccept: application/vnd.github+json\r\n"
            f"User-Agent: bench-floor\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode() + data

    async def run() -> float:
        pool = Connections(port)
        created = await pool.send(
            raw(
                "POST",
                f"/app/installations/{info['installation_id']}/access_tokens",
                f"Bearer {app_jwt}",
                {},
            )
        )
        assert created == 201, created
        token = f"token {json.loads(pool.last_body)['token']}"
        repo = f"/repos/{REPO}"
        ids = iter(payloads.ids[:count])

        async def one_job(comment_id: int) -> None:
            calls = (
                raw(
                    "POST",
                    f"{repo}/issues/comments/{comment_id}/reactions",
                    token,
                    {"content": "eyes"},
                ),
                raw("GET", f"{repo}/collaborators/{AUTHOR}/permission", token),
                raw("GET", f"{repo}/contents/.github/liquidbook.yml?ref=main", token),
                raw("POST", f"{repo}/issues/{info['issue']}/comments", token, {"body": "floor"}),
            )
            for call in calls:
                await pool.send(call)

        async def lane() -> None:
            for comment_id in ids:
                await one_job(comment_id)

        began = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(concurrency)))
        seconds = time.perf_counter() - began
        pool.close()
        return seconds

    standin.ask("reset")
    standin0 = cpu_seconds(tree(standin.process.pid))
    seconds = asyncio.run(run())
    standin1 = cpu_seconds(tree(standin.process.pid))
    answers = standin.ask("counts")["calls"].get(ANSWER_CALL, 0)
    return Drain(
        row=f"floor ({concurrency} at once)",
        count=answers,
        seconds=seconds,
        jobs_per_s=answers / seconds,
        cpu_per_job_ms=0.0,
        standin_cpu_per_job_ms=(standin1 - standin0) * 1000 / max(answers, 1),
    )


def drain_report(drains: list[Drain]) -> str:
    out = [
        "| row | deliveries | jobs done /s | CPU ms/job (job processes) "
        "| CPU ms/job (stand-in of GitHub) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    rows = list(dict.fromkeys(d.row for d in drains))
    for row in rows:
        runs = [d for d in drains if d.row == row]
        rate = med([d.jobs_per_s for d in runs])
        cpu = med([d.cpu_per_job_ms for d in runs])
        out.append(
            f"| {row} | {runs[0].count} | {rate:.0f} | {f'{cpu:.1f}' if cpu else '–'} "
            f"| {med([d.standin_cpu_per_job_ms for d in runs]):.1f} |"
        )
    return "\n".join(out)


# ---------------------------------------------------------------- the report


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summary(
    results: list[Measure], rows: list[str], loads: list[str]
) -> dict[tuple[str, str], dict[str, float]]:
    table = {}
    for row in rows:
        for load in loads:
            runs = [m for m in results if m.row == row and m.load == load]
            if runs:
                table[(row, load)] = {
                    key: med([float(getattr(m, key)) for m in runs])
                    for key in (
                        "rate",
                        "errors",
                        "p50",
                        "p95",
                        "p99",
                        "cpu_intake_ms",
                        "cpu_all_ms",
                        "rss_mb",
                        "jobs_per_s",
                        "cpu_per_job_ms",
                        "github_failures",
                    )
                } | {"runs": len(runs), "exhausted": any(m.exhausted for m in runs)}
    return table


def ratio(a: float, b: float) -> str:
    """a / b, or a dash when either is zero or missing (no jobs ran, say)."""
    return f"{a / b:.2f}×" if a and b and a == a and b == b else "–"


def report(results: list[Measure], rows: list[str], loads: list[str]) -> str:
    table = summary(results, rows, loads)
    out = [
        "| server | load | achieved /s | errors | p50 ms | p95 ms | p99 ms "
        "| CPU ms/delivery (intake / all) | RSS MB | jobs done /s | CPU ms/job (workers) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        for load in loads:
            if (row, load) not in table:
                continue
            t = table[(row, load)]
            jobs = f"{t['jobs_per_s']:.0f}" if t["jobs_per_s"] else "–"
            per_job = f"{t['cpu_per_job_ms']:.1f}" if t["cpu_per_job_ms"] > 0 else "–"
            mark = " (pool used up)" if t["exhausted"] else ""
            out.append(
                f"| {row} | {load} | {t['rate']:.0f}{mark} | {t['errors']:.0f} | {t['p50']:.1f} "
                f"| {t['p95']:.1f} | {t['p99']:.1f} | {t['cpu_intake_ms']:.2f} / "
                f"{t['cpu_all_ms']:.2f} | {t['rss_mb']:.0f} | {jobs} | {per_job} |"
            )
    out += [
        "",
        "CPU ms/delivery: user + system seconds over the load, of the process answering webhooks"
        " (intake; when jobs run inside it, theirs too) and of it plus the processes running jobs"
        " (all), per delivery sent. jobs done /s: answers the jobs posted to the stand-in during"
        " the load. CPU ms/job: the job processes' CPU per answer (– when they run inside the"
        " intake). RSS: every process of the row at the end of the load.",
    ]
    for ours, peer in (("ours", "probot"), ("ours-no-worker", "probot-no-worker")):
        if ours not in rows or peer not in rows:
            continue
        out += [
            "",
            f"ratios {ours} / {peer} (below 1: ours is lower)",
            "",
            "| load | p50 | p95 | p99 | achieved rate | CPU/delivery (all) | RSS | jobs done /s |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for load in loads:
            a, b = table.get((ours, load)), table.get((peer, load))
            if a is None or b is None:
                continue
            out.append(
                f"| {load} | {ratio(a['p50'], b['p50'])} | {ratio(a['p95'], b['p95'])} "
                f"| {ratio(a['p99'], b['p99'])} | {ratio(a['rate'], b['rate'])} "
                f"| {ratio(a['cpu_all_ms'], b['cpu_all_ms'])} | {ratio(a['rss_mb'], b['rss_mb'])} "
                f"| {ratio(a['jobs_per_s'], b['jobs_per_s'])} |"
            )
    failures = sum(m.github_failures for m in results)
    if failures:
        out.append(f"\nwarning: the GitHub stand-in answered {failures} calls with an error")
    return "\n".join(out)


# ---------------------------------------------------------------- main


def interrupted(signum: int, frame: object) -> None:
    """SIGTERM stops the bench as Ctrl-C does: every process it started is stopped."""
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="200/s and closed loop, once, 3 s")
    parser.add_argument("--rates", default="100,200,400,800", help="fixed rates, per second")
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="each load's duration (0: no loads)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each row")
    parser.add_argument(
        "--rows", default=",".join(ROWS), help=f"which rows, in order (of {', '.join(ROWS)})"
    )
    parser.add_argument("--pool", type=int, default=16000, help="comments (deliveries per load)")
    parser.add_argument("--redis-db", type=int, default=15, choices=(13, 14, 15))
    parser.add_argument("--max-minutes", type=float, default=40.0, help="stop after this long")
    parser.add_argument(
        "--drain", type=int, default=0, help="per row, a backlog of this many jobs (0: none)"
    )
    parser.add_argument("--standin-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.standin_child:
        standin_child(args.standin_child, args.pool)
        return
    if args.quick:
        args.rates, args.seconds, args.repeat = "200", 3.0, 1
    rates = [float(r) for r in args.rates.split(",") if r]
    loads = [f"{r:.0f}/s" for r in rates] + [f"closed, {IN_FLIGHT} in flight"]
    rows = [row for row in args.rows.split(",") if row]
    if unknown := set(rows) - set(ROWS):
        parser.error(f"unknown rows: {', '.join(sorted(unknown))}")
    pool = max(args.pool, int(max(rates, default=0) * args.seconds), args.drain)
    if not args.seconds:  # backlogs only
        rates, loads = [], []

    import redis

    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    client = redis.Redis.from_url(redis_url)
    if client.dbsize():
        sys.exit(f"Redis db {args.redis_db} is not empty: another bench may be using it")
    signal.signal(signal.SIGTERM, interrupted)
    stop_at = time.monotonic() + args.max_minutes * 60
    load_before = os.getloadavg()[0]
    results: list[Measure] = []
    drains: list[Drain] = []
    calibration: dict[str, str] = {}
    tmp_root = Path(tempfile.gettempdir())
    with tempfile.TemporaryDirectory(prefix="bench-probot-") as tmp_name:
        tmp = Path(tmp_name)
        peer = peer_dir(tmp_root)
        print(f"stand-in of GitHub with {pool} comments …", file=sys.stderr, flush=True)
        standin = StandIn(tmp / "github", pool)
        payloads = Payloads(standin.info)
        side: Side | None = None
        try:
            for repetition in range(args.repeat):
                for row in rows:
                    if time.monotonic() > stop_at:
                        raise TimeoutError
                    client.flushdb()
                    work = tmp / f"{row}-{repetition}"
                    if row.startswith("ours"):
                        side = start_ours(row, work, standin.info, redis_url)
                    else:
                        side = start_probot(row, work, peer, standin.info, redis_url)
                    refuses_forgery(side, payloads)
                    if not row.endswith("no-worker"):
                        calibration[row] = calibrate(side, standin, client.flushdb, payloads)
                        print(f"{row}: {calibration[row]}", file=sys.stderr, flush=True)
                    # Warm up (Node's JIT, Python's imports and caches, the token cache).
                    asyncio.run(open_loop(side.port, payloads.build(300), 150))
                    for load, rate in zip(loads, [*rates, None][: len(loads)], strict=True):
                        if time.monotonic() > stop_at:
                            raise TimeoutError
                        m = measure(
                            side, standin, client.flushdb, payloads, load, rate, args.seconds
                        )
                        results.append(m)
                        print(
                            f"[{repetition + 1}/{args.repeat}] {row:<16} {load:<20} "
                            f"{m.rate:7.0f}/s err {m.errors:<5} p50 {m.p50:7.1f} p99 {m.p99:8.1f} ms "
                            f"cpu {m.cpu_all_ms:5.2f} ms rss {m.rss_mb:5.0f} MB "
                            f"jobs {m.jobs_per_s:5.0f}/s",
                            file=sys.stderr,
                            flush=True,
                        )
                    if args.drain and not row.endswith("no-worker"):
                        d = drain(side, standin, client.flushdb, payloads, args.drain)
                        drains.append(d)
                        print(
                            f"[{repetition + 1}/{args.repeat}] {row:<16} backlog of {d.count:<6} "
                            f"{d.jobs_per_s:7.0f} jobs/s cpu {d.cpu_per_job_ms:5.2f} ms/job "
                            f"(stand-in {d.standin_cpu_per_job_ms:5.2f})",
                            file=sys.stderr,
                            flush=True,
                        )
                    side.stop()
                    side = None
                if args.drain:
                    client.flushdb()
                    d = floor(standin, payloads, args.drain, ack_concurrency())
                    drains.append(d)
                    print(
                        f"[{repetition + 1}/{args.repeat}] {d.row:<16} "
                        f"{d.jobs_per_s:7.0f} jobs/s (stand-in {d.standin_cpu_per_job_ms:5.2f})",
                        file=sys.stderr,
                        flush=True,
                    )
        except (KeyboardInterrupt, TimeoutError):
            print("stopped early; the figures so far:", file=sys.stderr)
        finally:
            if side is not None:
                side.stop()
            standin.stop()
            client.flushdb()
    print(
        f"\n{os.cpu_count()} cores; {args.seconds:g} s per load; medians of {args.repeat} "
        f"alternating repetitions; {time.strftime('%Y-%m-%d')}; load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after\n"
    )
    for row, calls in calibration.items():
        print(f"{row}: {calls}")
    print()
    if results:
        print(report(results, rows, loads))
    if drains:
        print(f"\nbacklogs of {args.drain} deliveries (medians of {args.repeat}):\n")
        print(drain_report(drains))


if __name__ == "__main__":
    main()

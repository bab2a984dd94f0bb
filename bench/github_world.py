"""The stand-in of GitHub in a process of its own, for the benches whose jobs do real work.

It runs apart so that its CPU never slows the load generator's clock. It registers an app,
installs it on `octo-org/book`, opens an issue and writes `count` real `/help` comments by
`alice` (a writer), their deliveries held back: the bench sends them itself, and each
acknowledgement job then reacts, reads alice's role and answers on the stand-in. `refuse()`
makes GitHub answer 403 to every installation token request (jobs failing). It runs at niceness `BENCH_GITHUB_NICE` (10):
GitHub is not on the server's machine, so here it yields the cores to what is measured.
"""

from __future__ import annotations

import multiprocessing
import tempfile
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO = "octo-org/book"


@dataclass
class Comments:
    """A comment delivery's payload and the ids of the real comments it stands for."""

    template: dict[str, Any]
    ids: list[int]


def _serve(conn: Connection, root: str, count: int, secret: str) -> None:
    import os

    from standins.github import GitHubStandIn

    os.nice(int(os.environ.get("BENCH_GITHUB_NICE", "10")))
    gh = GitHubStandIn(Path(root)).start()
    app = gh.register_app(webhook_secret=secret)
    gh.add_user("alice")
    gh.create_repo("octo-org", "book", files={"README.md": "# A book\n"})
    gh.set_permission(REPO, "alice", "write")
    gh.install(app.id, "octo-org", ["book"], deliver=False)
    gh.set_webhook_url(app.id, None)
    issue = gh.open_issue(REPO, "alice", "Bench")
    first = gh.comment(REPO, issue, "alice", "/help").payload
    ids = [first["comment"]["id"]]
    ids += [
        gh.comment(REPO, issue, "alice", "/help").payload["comment"]["id"] for _ in range(count - 1)
    ]
    conn.send(
        {
            "env": {
                "GITHUB_APP_ID": str(app.id),
                "GITHUB_APP_SLUG": app.slug,
                "GITHUB_PRIVATE_KEY": app.private_key_pem,
                "GITHUB_API_URL": gh.api_url,
            },
            "comments": Comments(first, ids),
        }
    )
    while True:
        message = conn.recv()
        if message == "stop":
            break
        if message == "refuse":
            gh.faults.add(method="POST", path=r"/access_tokens$", status=403, times=10**9)
        if message == "accept":
            gh.faults.clear()
        if message == "calls":
            conn.send(len(gh.requests))
    gh.stop()


class GitHubWorld:
    """`with GitHubWorld(count, secret) as world:` `world.env` for the app, `world.comments`."""

    def __init__(self, count: int, secret: str) -> None:
        self.count = count
        self.secret = secret
        self.tmp = tempfile.TemporaryDirectory()
        ours, theirs = multiprocessing.Pipe()
        self.conn = ours
        self.process = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(theirs, self.tmp.name, count, secret), daemon=True
        )

    def __enter__(self) -> GitHubWorld:
        self.process.start()
        ready = self.conn.recv()
        self.env: dict[str, str] = ready["env"]
        self.comments: Comments = ready["comments"]
        return self

    def refuse(self) -> None:
        self.conn.send("refuse")

    def accept(self) -> None:
        self.conn.send("accept")

    def __exit__(self, *_: object) -> None:
        self.conn.send("stop")
        self.process.join(30)
        if self.process.is_alive():
            self.process.kill()
        self.tmp.cleanup()

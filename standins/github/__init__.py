"""A local stand-in of GitHub: REST API over HTTP, real git repositories, signed webhooks.

from standins.github import GitHubStandIn

with GitHubStandIn(tmp_path) as gh:
    app = gh.register_app(webhook_url="http://127.0.0.1:8000/webhook", webhook_secret="s")
    gh.create_repo("octo-org", "book", files={"myst.yml": "version: 1\n"})
    inst_id = gh.install(app.id, "octo-org")
    gh.comment("octo-org/book", gh.open_issue("octo-org/book", "alice", "Outline"), "alice", "/outline ...")
"""

from .faults import Fault, Faults
from .standin import GitHubStandIn
from .state import AppRecord, Delivery, LoggedRequest

__all__ = ["AppRecord", "Delivery", "Fault", "Faults", "GitHubStandIn", "LoggedRequest"]

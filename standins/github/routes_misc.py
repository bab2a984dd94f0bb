"""Collaborator permissions and the rate limit."""

from __future__ import annotations

import time

from starlette.routing import Route

from .endpoint import Call, Reply, api
from .errors import not_found
from .render_core import user_json
from .state import Repo, User

# `permission` keeps the five legacy levels; `role_name` says the real role.
LEGACY_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}


def role_of(repo: Repo, user: User) -> str:
    """A user's role on a repository (the owner is admin; anyone can read a public repo)."""
    if user.id == repo.owner.id:
        return "admin"
    role = repo.roles.get(user.login.lower())
    if role is not None:
        return role
    return "none" if repo.private else "read"


def get_permission(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/collaborators/{username}/permission."""
    repo = call.repo()
    call.require("metadata:read")
    with call.state.lock:
        user = call.state.user(call.params["username"])
        if user is None:
            raise not_found()
        role = role_of(repo, user)
        rank = ["none", "read", "triage", "write", "maintain", "admin"].index(role)
        body = user_json(call.state, user)
        body["permissions"] = {
            "admin": rank >= 5,
            "maintain": rank >= 4,
            "push": rank >= 3,
            "triage": rank >= 2,
            "pull": rank >= 1,
        }
        body["role_name"] = role
        return Reply({"permission": LEGACY_PERMISSION[role], "role_name": role, "user": body})


def get_rate_limit(call: Call) -> Reply:
    """GET /rate_limit — generous and never exhausted (faults simulate exhaustion)."""
    reset = int(time.time()) + 3600
    core = {"limit": 5000, "used": 0, "remaining": 5000, "reset": reset}
    names = (
        "core",
        "search",
        "graphql",
        "integration_manifest",
        "code_search",
        "actions_runner_registration",
    )
    return Reply({"resources": {n: dict(core) for n in names}, "rate": dict(core)})


R = "/repos/{owner}/{repo}"
routes: list[Route] = [
    api("GET", R + "/collaborators/{username}/permission", get_permission),
    api("GET", "/rate_limit", get_rate_limit, auth="none"),
]

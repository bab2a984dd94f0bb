"""GitHub Pages settings: where `/publish` turns the book's site on."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from .endpoint import Call, Reply, api
from .errors import ApiError, not_found, unprocessable
from .state import PagesSite, Repo, State


def pages_json(state: State, repo: Repo, site: PagesSite) -> dict[str, Any]:
    """A `page`."""
    return {
        "url": f"{state.api_url}/repos/{repo.full_name}/pages",
        "status": "built",
        "cname": None,
        "custom_404": False,
        "html_url": f"http://{repo.owner.login.lower()}.github.io/{repo.name}/",
        "build_type": site.build_type,
        "source": site.source or {"branch": repo.default_branch, "path": "/"},
        "public": not repo.private,
        "protected_domain_state": None,
        "pending_domain_unverified_at": None,
        "https_enforced": False,
    }


def get_pages(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/pages — 404 until Pages is enabled."""
    repo = call.repo()
    call.require("pages:read")
    with call.state.lock:
        site = call.state.pages.get(repo.id)
        if site is None:
            raise not_found()
        return Reply(pages_json(call.state, repo, site))


def _pages_fields(call: Call, site: PagesSite | None) -> tuple[str, dict[str, str] | None]:
    build_type = call.field("build_type", str, default=site.build_type if site else "legacy")
    if build_type not in ("legacy", "workflow"):
        raise unprocessable("Invalid request.\n\nFor 'build_type', it must be legacy or workflow.")
    source = call.field("source", dict, default=site.source if site else None)
    if build_type == "legacy" and not source:
        raise unprocessable('Invalid request.\n\n"source" wasn\'t supplied.')
    if source is not None:
        source = {"branch": str(source.get("branch", "main")), "path": str(source.get("path", "/"))}
    return build_type, source


def post_pages(call: Call) -> Reply:
    """POST /repos/{owner}/{repo}/pages — 409 when Pages is already enabled."""
    repo = call.repo()
    call.require("pages:write")
    with call.state.lock:
        if repo.id in call.state.pages:
            raise ApiError(409, "GitHub Pages is already enabled.")
        build_type, source = _pages_fields(call, None)
        site = call.state.pages[repo.id] = PagesSite(repo.id, build_type, source)
        return Reply(pages_json(call.state, repo, site), 201)


def put_pages(call: Call) -> Reply:
    """PUT /repos/{owner}/{repo}/pages — change the build type or source."""
    repo = call.repo()
    call.require("pages:write")
    with call.state.lock:
        site = call.state.pages.get(repo.id)
        if site is None:
            raise not_found()
        site.build_type, site.source = _pages_fields(call, site)
    return Reply(None, 204)


def delete_pages(call: Call) -> Reply:
    """DELETE /repos/{owner}/{repo}/pages."""
    repo = call.repo()
    call.require("pages:write")
    with call.state.lock:
        if call.state.pages.pop(repo.id, None) is None:
            raise not_found()
    return Reply(None, 204)


R = "/repos/{owner}/{repo}"
routes: list[Route] = [
    api("GET", R + "/pages", get_pages),
    api("POST", R + "/pages", post_pages),
    api("PUT", R + "/pages", put_pages),
    api("DELETE", R + "/pages", delete_pages),
]

"""Endpoints an app calls as itself (JWT), plus the manifest conversion."""

from __future__ import annotations

from starlette.routing import Route

from .endpoint import Call, Reply, api
from .errors import ApiError, not_found
from .ops_apps import convert_manifest, create_token, find_installation
from .render_core import app_json, installation_json, repo_json


def get_app(call: Call) -> Reply:
    """GET /app — the authenticated app."""
    assert call.auth.app is not None
    with call.state.lock:
        return Reply(app_json(call.state, call.auth.app))


def list_installations(call: Call) -> Reply:
    """GET /app/installations."""
    app = call.auth.app
    assert app is not None
    with call.state.lock:
        found = [
            installation_json(call.state, i)
            for i in call.state.installations.values()
            if i.app_id == app.id
        ]
    return call.page(found)


def get_installation(call: Call) -> Reply:
    """GET /app/installations/{installation_id}."""
    assert call.auth.app is not None
    with call.state.lock:
        inst = find_installation(call.state, call.auth.app, call.int_param("installation_id"))
        return Reply(installation_json(call.state, inst))


def create_access_token(call: Call) -> Reply:
    """POST /app/installations/{installation_id}/access_tokens — a `ghs_` token for one hour."""
    assert call.auth.app is not None
    with call.state.lock:
        inst = find_installation(call.state, call.auth.app, call.int_param("installation_id"))
    body = create_token(
        call.hub,
        inst,
        repositories=call.field("repositories", list),
        repository_ids=call.field("repository_ids", list),
        permissions=call.field("permissions", dict),
    )
    return Reply(body, 201)


def get_repo_installation(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/installation — this app's installation covering the repo."""
    app = call.auth.app
    assert app is not None
    with call.state.lock:
        repo = call.state.repo(f"{call.params['owner']}/{call.params['repo']}")
        if repo is None:
            raise not_found()
        for inst in call.state.installations.values():
            if inst.app_id == app.id and repo.id in {
                r.id for r in call.state.installation_repos(inst)
            }:
                return Reply(installation_json(call.state, inst))
    raise not_found()


def list_installation_repos(call: Call) -> Reply:
    """GET /installation/repositories — what the installation token reaches."""
    inst, token = call.auth.installation, call.auth.token
    if inst is None:
        raise ApiError(401, "Requires authentication")
    with call.state.lock:
        repos = [
            r
            for r in call.state.installation_repos(inst)
            if token is None or token.repo_ids is None or r.id in token.repo_ids
        ]
        page = call.page([repo_json(call.state, r) for r in repos])
    page.body = {
        "total_count": len(repos),
        "repository_selection": inst.repository_selection,
        "repositories": page.body,
    }
    return page


def convert_app_manifest(call: Call) -> Reply:
    """POST /app-manifests/{code}/conversions — register the app from a saved manifest."""
    return Reply(convert_manifest(call.hub, call.params["code"]), 201)


routes: list[Route] = [
    api("GET", "/app", get_app, auth="jwt"),
    api("GET", "/app/installations", list_installations, auth="jwt"),
    api("GET", "/app/installations/{installation_id}", get_installation, auth="jwt"),
    api(
        "POST",
        "/app/installations/{installation_id}/access_tokens",
        create_access_token,
        auth="jwt",
    ),
    api("GET", "/repos/{owner}/{repo}/installation", get_repo_installation, auth="jwt"),
    api("GET", "/installation/repositories", list_installation_repos),
    api("POST", "/app-manifests/{code}/conversions", convert_app_manifest, auth="none"),
]

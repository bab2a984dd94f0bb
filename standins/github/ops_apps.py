"""Apps and their installations: registering, installing, suspending, minting tokens."""

from __future__ import annotations

import re
import secrets
from typing import Any

from .app_manifest import DOCS as MANIFEST_DOCS
from .app_manifest import manifest_errors
from .auth import LEVELS, TOKEN_LIFETIME, generate_private_key, random_token
from .errors import ApiError, not_found
from .hub import Hub
from .render_core import (
    app_json,
    app_permissions,
    installation_json,
    repo_brief,
    repo_json,
    user_json,
)
from .state import AppRecord, Delivery, Installation, State, Token, User, next_id, now


def slugify(name: str) -> str:
    """The slug GitHub derives from an app name (`Liquid Book` -> `liquid-book`)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "app"


def register_app(
    hub: Hub,
    slug: str,
    name: str,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    permissions: dict[str, str] | None = None,
    events: list[str] | None = None,
    description: str | None = None,
    owner: str = "octo-org",
) -> AppRecord:
    """Register an app with a fresh RSA key; its bot user is `{slug}[bot]`."""
    state = hub.state
    with state.lock:
        if any(a.slug == slug for a in state.apps.values()):
            raise ValueError(f"an app with slug {slug!r} exists")
        app_id = next_id()
        bot = User(id=next_id(), login=f"{slug}[bot]", type="Bot")
        state.users[bot.login.lower()] = bot
        app = AppRecord(
            id=app_id,
            slug=slug,
            name=name,
            client_id=f"Iv23{secrets.token_hex(8)}",
            client_secret=secrets.token_hex(20),
            private_key_pem=generate_private_key(),
            webhook_secret=webhook_secret,
            webhook_url=webhook_url,
            permissions=dict(permissions) if permissions is not None else None,
            events=list(events or []),
            owner=state.ensure_user(owner, "Organization"),
            bot=bot,
            hook_id=next_id(),
            description=description,
        )
        state.apps[app_id] = app
        return app


def _installation_event(
    state: State, inst: Installation, action: str, sender: User, with_repos: bool
) -> dict[str, Any]:
    payload: dict[str, Any] = {"action": action, "installation": installation_json(state, inst)}
    if with_repos:
        payload["repositories"] = [repo_brief(state, r) for r in state.installation_repos(inst)]
        payload["requester"] = None
    payload["sender"] = user_json(state, sender)
    return payload


def _default_sender(state: State, account: User) -> User:
    if account.type == "User":
        return account
    return state.ensure_user(f"{account.login}-admin")


def install(
    hub: Hub,
    app_id: int,
    account: str,
    repositories: list[str] | None = None,
    deliver: bool = True,
    sender: str | None = None,
) -> tuple[Installation, Delivery | None]:
    """Install an app on an account (all repositories, or the named ones)."""
    state = hub.state
    with state.lock:
        app = state.apps[app_id]
        owner = state.user(account) or state.ensure_user(account, "Organization")
        if any(
            i.app_id == app_id and i.account.id == owner.id for i in state.installations.values()
        ):
            raise ValueError(f"app {app.slug} is already installed on {account}")
        ids = set()
        for name in repositories or []:
            repo = state.repo(f"{owner.login}/{name}")
            if repo is None:
                raise ValueError(f"no repository {owner.login}/{name}")
            ids.add(repo.id)
        inst = Installation(
            id=next_id(),
            app_id=app_id,
            account=owner,
            repository_selection="all" if repositories is None else "selected",
            repo_ids=ids,
        )
        state.installations[inst.id] = inst
        who = state.ensure_user(sender) if sender else _default_sender(state, owner)
        payload = _installation_event(state, inst, "created", who, with_repos=True)
    return inst, hub.webhooks.deliver(app, "installation", payload) if deliver else None


def change_repositories(
    hub: Hub, inst_id: int, names: list[str], added: bool, sender: str | None = None
) -> Delivery:
    """Add repositories to (or remove them from) a selected-repositories installation."""
    state = hub.state
    with state.lock:
        inst = state.installations[inst_id]
        repos = []
        for name in names:
            repo = state.repo(f"{inst.account.login}/{name}")
            if repo is None:
                raise ValueError(f"no repository {inst.account.login}/{name}")
            repos.append(repo)
        if inst.repository_selection == "all" and not added:
            # GitHub turns "all" into the explicit list when one is removed.
            inst.repo_ids = {r.id for r in state.installation_repos(inst)}
            inst.repository_selection = "selected"
        for repo in repos:
            (inst.repo_ids.add if added else inst.repo_ids.discard)(repo.id)
        inst.updated_at = now()
        who = state.ensure_user(sender) if sender else _default_sender(state, inst.account)
        briefs = [repo_brief(state, r) for r in repos]
        payload: dict[str, Any] = {
            "action": "added" if added else "removed",
            "installation": installation_json(state, inst),
            "repository_selection": inst.repository_selection,
            "repositories_added": briefs if added else [],
            "repositories_removed": [] if added else briefs,
            "requester": None,
            "sender": user_json(state, who),
        }
        app = state.apps[inst.app_id]
    return hub.webhooks.deliver(app, "installation_repositories", payload)


def set_suspended(hub: Hub, inst_id: int, suspended: bool) -> Delivery:
    """Suspend or unsuspend an installation; its tokens stop (or resume) working."""
    state = hub.state
    with state.lock:
        inst = state.installations[inst_id]
        who = _default_sender(state, inst.account)
        inst.suspended_at = now() if suspended else None
        inst.suspended_by = who if suspended else None
        inst.updated_at = now()
        action = "suspend" if suspended else "unsuspend"
        payload = _installation_event(state, inst, action, who, with_repos=False)
        app = state.apps[inst.app_id]
    return hub.webhooks.deliver(app, "installation", payload)


def uninstall(hub: Hub, inst_id: int) -> Delivery:
    """Remove an installation and revoke its tokens."""
    state = hub.state
    with state.lock:
        inst = state.installations[inst_id]
        who = _default_sender(state, inst.account)
        payload = _installation_event(state, inst, "deleted", who, with_repos=True)
        del state.installations[inst_id]
        for key in [k for k, t in state.tokens.items() if t.installation_id == inst_id]:
            del state.tokens[key]
        app = state.apps[inst.app_id]
    return hub.webhooks.deliver(app, "installation", payload)


def create_token(
    hub: Hub,
    inst: Installation,
    repositories: list[str] | None = None,
    repository_ids: list[int] | None = None,
    permissions: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Mint an installation token, optionally narrowed to repositories and permissions."""
    state = hub.state
    with state.lock:
        if inst.suspended_at is not None:
            raise ApiError(403, "This installation has been suspended")
        app = state.apps[inst.app_id]
        granted = app_permissions(app)
        reachable = state.installation_repos(inst)
        chosen = None
        if repositories is not None or repository_ids is not None:
            by_name = {r.name.lower(): r for r in reachable}
            by_id = {r.id: r for r in reachable}
            names = {n.lower() for n in repositories or []}
            ids = set(repository_ids or [])
            if not names <= by_name.keys() or not ids <= by_id.keys():
                raise ApiError(
                    422,
                    "There is at least one repository that does not exist or is not accessible "
                    "to the parent installation.",
                )
            picked = {by_name[n].id: by_name[n] for n in names}
            picked.update({i: by_id[i] for i in ids})
            chosen = list(picked.values())
        perms = granted
        if permissions:
            for name, level in permissions.items():
                if LEVELS.get(granted.get(name, "none"), 0) < LEVELS.get(level, 99):
                    raise ApiError(
                        422, "The permissions requested are not granted to this installation."
                    )
            perms = dict(permissions)
        token = Token(
            token=random_token("ghs_"),
            installation_id=inst.id,
            expires_at=now() + TOKEN_LIFETIME,
            permissions=perms,
            repo_ids={r.id for r in chosen} if chosen is not None else None,
        )
        state.tokens[token.token] = token
        body: dict[str, Any] = {
            "token": token.token,
            "expires_at": token.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "permissions": perms,
            "repository_selection": "selected" if chosen is not None else inst.repository_selection,
        }
        if chosen is not None:
            body["repositories"] = [repo_json(state, r) for r in chosen]
        return body


def find_installation(state: State, app: AppRecord, inst_id: int) -> Installation:
    """The app's installation with this id (404 for another app's or a missing one)."""
    inst = state.installations.get(inst_id)
    if inst is None or inst.app_id != app.id:
        raise not_found()
    return inst


def convert_manifest(hub: Hub, code: str) -> dict[str, Any]:
    """Register the app a manifest describes (the manifest flow's last step); single use.

    The manifest reached the stand-in as GitHub's browser form does (`manifest_code`); it is
    checked here as GitHub checks it (`url` and `hook_attributes.url` present and http(s),
    permissions and levels GitHub Apps can request, webhook events that exist), and a
    manifest GitHub would refuse gets GitHub's 422 "Validation Failed" with one sentence per
    problem (`validation-error-simple` in its REST description), and no app.
    """
    state = hub.state
    with state.lock:
        manifest = state.manifests.pop(code, None)
    if manifest is None:
        raise not_found()
    errors = manifest_errors(manifest)
    if errors:
        raise ApiError(422, "Validation Failed", MANIFEST_DOCS, errors=errors)
    hook = manifest.get("hook_attributes") or {}
    name = str(manifest.get("name") or "app")
    slug = slugify(name)
    with state.lock:
        taken = {a.slug for a in state.apps.values()}
    base, n = slug, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    app = register_app(
        hub,
        slug=slug,
        name=name,
        webhook_url=hook.get("url") if hook.get("active", True) else None,
        webhook_secret=secrets.token_hex(20),
        permissions=dict(manifest.get("default_permissions") or {}),
        events=list(manifest.get("default_events") or []),
        description=manifest.get("description"),
        owner=str(manifest.get("owner") or "octo-org"),
    )
    with state.lock:
        body = app_json(state, app)
    body.update(
        {
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "webhook_secret": app.webhook_secret,
            "pem": app.private_key_pem,
        }
    )
    return body

"""Keep the installations table current, and offer a setup PR to new repositories.

`installation` and `installation_repositories` events are the only source of truth the app
needs about who installed it where; they are written straight to the database (a few rows,
in milliseconds). Opening the setup PR talks to GitHub, so it is a job.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select

from bot.db import Installation, InstallationRepository
from bot.routing import Event, Router
from bot.services import Services

log = logging.getLogger(__name__)
router = Router()


def _parse_time(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    return datetime.now(UTC)


def _repos(items: Any) -> list[dict[str, Any]]:
    """Repository entries that carry what we store (the payloads' lists may be absent)."""
    if not isinstance(items, list):
        return []
    return [
        r
        for r in items
        if isinstance(r, dict) and isinstance(r.get("id"), int) and r.get("full_name")
    ]


async def _upsert(services: Services, data: dict[str, Any]) -> Installation | None:
    account = data.get("account") or {}
    if not isinstance(data.get("id"), int):
        return None
    async with services.db.session() as session:
        row = await session.get(Installation, data["id"])
        if row is None:
            row = Installation(id=data["id"])
            session.add(row)
        row.account_login = str(account.get("login") or account.get("slug") or "")
        row.account_id = int(account.get("id") or 0)
        row.account_type = str(account.get("type") or "Organization")
        row.repository_selection = str(data.get("repository_selection") or "selected")
        row.suspended_at = _parse_time(data["suspended_at"]) if data.get("suspended_at") else None
    return row


async def _add_repos(services: Services, installation_id: int, repos: list[dict[str, Any]]) -> None:
    async with services.db.session() as session:
        existing = set(
            (
                await session.execute(
                    select(InstallationRepository.repository_id).where(
                        InstallationRepository.installation_id == installation_id
                    )
                )
            ).scalars()
        )
        for repo in repos:
            if repo["id"] not in existing:
                session.add(
                    InstallationRepository(
                        installation_id=installation_id,
                        repository_id=repo["id"],
                        full_name=repo["full_name"],
                        private=bool(repo.get("private")),
                    )
                )


async def _offer_setup(
    services: Services, installation_id: int, repos: list[dict[str, Any]]
) -> None:
    """Queue a setup check per repository: it opens a setup PR where there is no book yet."""
    for repo in repos:
        await services.queue.enqueue(
            "setup_repository",
            installation_id,
            repo["full_name"],
            None,
            job_id=f"setup:{installation_id}:{repo['id']}",
        )


@router.register("installation", "created")
async def installation_created(event: Event, services: Services) -> None:
    """A new installation: remember it and its repositories, then offer each a book."""
    data = event.payload.get("installation") or {}
    row = await _upsert(services, data)
    if row is None:
        return
    repos = _repos(event.payload.get("repositories"))
    await _add_repos(services, row.id, repos)
    await _offer_setup(services, row.id, repos)


@router.register("installation", "new_permissions_accepted")
@router.register("installation", "unsuspend")
@router.register("installation", "suspend")
async def installation_changed(event: Event, services: Services) -> None:
    """Suspension and permission changes: keep the row current (it may predate us)."""
    await _upsert(services, event.payload.get("installation") or {})


@router.register("installation", "deleted")
async def installation_deleted(event: Event, services: Services) -> None:
    """Uninstalled: forget the installation (usage rows stay: they are billing history)."""
    installation_id = event.installation_id
    if installation_id is None:
        return
    async with services.db.session() as session:
        await session.execute(delete(Installation).where(Installation.id == installation_id))


@router.register("installation_repositories")
async def repositories_changed(event: Event, services: Services) -> None:
    """Repositories added to or removed from an installation."""
    row = await _upsert(services, event.payload.get("installation") or {})
    if row is None:
        return
    added = _repos(event.payload.get("repositories_added"))
    removed = [r["id"] for r in _repos(event.payload.get("repositories_removed"))]
    await _add_repos(services, row.id, added)
    if removed:
        async with services.db.session() as session:
            await session.execute(
                delete(InstallationRepository).where(
                    InstallationRepository.installation_id == row.id,
                    InstallationRepository.repository_id.in_(removed),
                )
            )
    await _offer_setup(services, row.id, added)

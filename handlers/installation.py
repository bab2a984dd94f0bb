"""Keep the installations table current, and offer a setup PR to new repositories.

`installation` and `installation_repositories` events are the only source of truth the app
needs about who installed it where; they are written straight to the database (one
statement executed for all the rows: thousands in tens of milliseconds). Opening the setup
PR talks to GitHub, so it is a job, queued by one job for the whole list
(`bot/jobs/setup_offers.py`): the request does one enqueue however many repositories.

GitHub neither orders deliveries nor sends them one at a time: `created`,
`installation_repositories`, `suspend` and `new_permissions_accepted` for one installation
can be handled at the same moment, by one server or several. So every write is one
idempotent upsert (`INSERT … ON CONFLICT`), never a read followed by an insert, and each
delivery is one transaction that writes the installation row first (on PostgreSQL that row's
lock then orders the rest). Suspension changes only through `suspend` and `unsuspend` (and
when a row is first written): a `created` delivery handled after a `suspend` cannot undo it.

A payload holding what a column cannot (a longer name, an id beyond BIGINT, a time without
a zone) is made to fit or refused with a warning; it never turns into a 5xx.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import String, delete
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import Database, Installation, InstallationRepository, utcnow
from bot.routing import Event, Router
from bot.services import Services

log = logging.getLogger(__name__)
router = Router()

BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
# Rows per statement: far below SQLite's and asyncpg's limits on bound parameters.
CHUNK = 500
T = TypeVar("T")


class Unstorable(ValueError):
    """A payload value no column can hold; the delivery is refused with a warning."""


def _bigint(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Unstorable(f"{what} is not an integer")
    if not BIGINT_MIN <= value <= BIGINT_MAX:
        raise Unstorable(f"{what} {value} is outside the database's BIGINT range")
    return value


def _text(value: Any, column: Any, default: str = "") -> str:
    """`value` as text that fits `column`: no NUL (PostgreSQL refuses it), no lone
    surrogate (not encodable), clipped to the column's length."""
    text = value if isinstance(value, str) else default
    text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    length = column.type.length if isinstance(column.type, String) else None
    return text[:length] if length else text


def _parse_time(value: Any) -> datetime:
    """GitHub's ISO 8601 time; one without a zone is UTC (as GitHub's times are)."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    return utcnow()


def _installation_row(data: Any) -> dict[str, Any] | None:
    """The installations row a payload's `installation` object describes (None: no id)."""
    if not isinstance(data, dict) or "id" not in data:
        return None
    account: dict[str, Any] = data["account"] if isinstance(data.get("account"), dict) else {}
    account_id = account.get("id")
    columns = Installation.__table__.c
    return {
        "id": _bigint(data["id"], "installation id"),
        "account_login": _text(account.get("login") or account.get("slug"), columns.account_login),
        "account_id": 0 if account_id is None else _bigint(account_id, "account id"),
        "account_type": _text(account.get("type"), columns.account_type, "Organization"),
        "repository_selection": _text(
            data.get("repository_selection"), columns.repository_selection, "selected"
        ),
        "suspended_at": _parse_time(data["suspended_at"]) if data.get("suspended_at") else None,
    }


def _repos(items: Any) -> list[dict[str, Any]]:
    """Repository entries that carry what we store (the payloads' lists may be absent).

    An entry whose id no BIGINT holds is left out with a warning; the others are kept.
    """
    if not isinstance(items, list):
        return []
    columns = InstallationRepository.__table__.c
    found: dict[int, dict[str, Any]] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("full_name"), str):
            continue
        if not item["full_name"]:
            continue
        if isinstance(item.get("id"), bool) or not isinstance(item.get("id"), int):
            continue
        try:
            repo_id = _bigint(item["id"], "repository id")
        except Unstorable as exc:
            log.warning("repository %r left out: %s", item["full_name"][:200], exc)
            continue
        found[repo_id] = {
            "id": repo_id,
            "full_name": _text(item["full_name"], columns.full_name),
            "private": bool(item.get("private")),
        }
    # One order for every transaction: concurrent upserts never wait on each other in a cycle.
    return [found[key] for key in sorted(found)]


def _chunks(rows: list[T]) -> Iterable[list[T]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


async def _upsert_installation(
    db: Database, session: AsyncSession, row: dict[str, Any], *, suspension: bool
) -> None:
    """Insert the row, or bring the known one up to date; `suspension`: also its
    `suspended_at` (only suspend and unsuspend deliveries say when that changes)."""
    now = utcnow()
    insert = db.insert(Installation).values(**row, created_at=now, updated_at=now)
    changed = ["account_login", "account_id", "account_type", "repository_selection"]
    if suspension:
        changed.append("suspended_at")
    update = {name: insert.excluded[name] for name in changed}
    update["updated_at"] = insert.excluded.updated_at
    await session.execute(insert.on_conflict_do_update(index_elements=["id"], set_=update))


async def _upsert_repos(
    db: Database, session: AsyncSession, installation_id: int, repos: list[dict[str, Any]]
) -> None:
    """One upsert statement, executed for every row at once (the driver's executemany):
    3,000 rows take tens of milliseconds, where a statement of 500 rows' values compiled
    per chunk took ten times that of the request's time."""
    if not repos:
        return
    insert = db.insert(InstallationRepository)
    statement = insert.on_conflict_do_update(
        index_elements=["installation_id", "repository_id"],
        set_={"full_name": insert.excluded.full_name, "private": insert.excluded.private},
    )
    rows = [
        {
            "installation_id": installation_id,
            "repository_id": r["id"],
            "full_name": r["full_name"],
            "private": r["private"],
        }
        for r in repos
    ]
    await session.execute(statement, rows)


async def _offer_setup(
    event: Event, services: Services, installation_id: int, repos: list[dict[str, Any]]
) -> None:
    """Queue one job that queues a setup check per repository (it opens a setup PR where
    there is no book yet): the request's work stays one enqueue however long the list."""
    if not repos:
        return
    await services.queue.enqueue(
        "offer_setup",
        installation_id,
        [(r["id"], r["full_name"]) for r in repos],
        job_id=f"setup-offers:{installation_id}:{event.delivery_id}",
    )


Handler = Callable[[Event, Services], Awaitable[None]]


def _refusing_unstorable(handler: Handler) -> Handler:
    """A delivery holding an id no column can hold is logged and dropped, never a 5xx."""

    @functools.wraps(handler)
    async def run(event: Event, services: Services) -> None:
        try:
            await handler(event, services)
        except Unstorable as exc:
            log.warning(
                "%s %s delivery %s not stored: %s",
                event.name,
                event.action,
                event.delivery_id,
                exc,
            )

    return run


@router.register("installation", "new_permissions_accepted")
@router.register("installation", "created")
@_refusing_unstorable
async def installation_created(event: Event, services: Services) -> None:
    """A new installation (or one accepting new permissions, which may predate our
    database): remember it and the repositories the payload lists. Only a new installation
    offers each repository a book."""
    row = _installation_row(event.payload.get("installation"))
    if row is None:
        return
    repos = _repos(event.payload.get("repositories"))
    async with services.db.session() as session:
        await _upsert_installation(services.db, session, row, suspension=False)
        await _upsert_repos(services.db, session, row["id"], repos)
    if event.action == "created":
        await _offer_setup(event, services, row["id"], repos)


@router.register("installation", "unsuspend")
@router.register("installation", "suspend")
@_refusing_unstorable
async def installation_suspension(event: Event, services: Services) -> None:
    """Suspended or unsuspended: the row's `suspended_at` follows (the row may be new)."""
    row = _installation_row(event.payload.get("installation"))
    if row is None:
        return
    if event.action == "suspend" and row["suspended_at"] is None:
        row["suspended_at"] = utcnow()
    if event.action == "unsuspend":
        row["suspended_at"] = None
    async with services.db.session() as session:
        await _upsert_installation(services.db, session, row, suspension=True)


@router.register("installation", "deleted")
async def installation_deleted(event: Event, services: Services) -> None:
    """Uninstalled: forget the installation (usage rows stay: they are billing history)."""
    installation_id = event.installation_id
    if installation_id is None or not BIGINT_MIN <= installation_id <= BIGINT_MAX:
        return
    async with services.db.session() as session:
        await session.execute(delete(Installation).where(Installation.id == installation_id))


@router.register("installation_repositories")
@_refusing_unstorable
async def repositories_changed(event: Event, services: Services) -> None:
    """Repositories added to or removed from an installation."""
    row = _installation_row(event.payload.get("installation"))
    if row is None:
        return
    added = _repos(event.payload.get("repositories_added"))
    removed = [r["id"] for r in _repos(event.payload.get("repositories_removed"))]
    async with services.db.session() as session:
        await _upsert_installation(services.db, session, row, suspension=False)
        await _upsert_repos(services.db, session, row["id"], added)
        for chunk in _chunks(removed):
            await session.execute(
                delete(InstallationRepository).where(
                    InstallationRepository.installation_id == row["id"],
                    InstallationRepository.repository_id.in_(chunk),
                )
            )
    await _offer_setup(event, services, row["id"], added)

"""Route a webhook event to the handlers registered for its event name and action.

Each module in `handlers/` owns a `Router` and registers its functions with a decorator, so
"what happens when a comment is created" is one grep for `@router.register("issue_comment"`.
`bot.server` combines the routers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.services import Services


@dataclass(frozen=True)
class Event:
    """One verified webhook delivery: the event name, its action, and the raw payload.

    Handlers read the raw fields they need: GitHub's payloads vary more than any typed model
    admits, and a strict parse would turn a harmless extra or missing field into an error.
    """

    name: str
    delivery_id: str
    payload: dict[str, Any] = field(repr=False)

    @property
    def action(self) -> str | None:
        value = self.payload.get("action")
        return value if isinstance(value, str) else None

    @property
    def installation_id(self) -> int | None:
        installation = self.payload.get("installation")
        if isinstance(installation, dict) and isinstance(installation.get("id"), int):
            return installation["id"]
        return None

    @property
    def repository(self) -> str | None:
        repo = self.payload.get("repository")
        if isinstance(repo, dict) and isinstance(repo.get("full_name"), str):
            return repo["full_name"]
        return None


Handler = Callable[[Event, "Services"], Awaitable[None]]


class Router:
    """Handlers by (event, action); `action=None` means every action of the event."""

    def __init__(self, *routers: Router) -> None:
        self._handlers: dict[tuple[str, str | None], list[Handler]] = defaultdict(list)
        for router in routers:
            for key, handlers in router._handlers.items():
                self._handlers[key].extend(handlers)

    def register(self, event: str, action: str | None = None) -> Callable[[Handler], Handler]:
        """Decorator: call the function for `event` (and `action`, when given)."""

        def decorate(handler: Handler) -> Handler:
            self._handlers[(event, action)].append(handler)
            return handler

        return decorate

    def handlers_for(self, event: Event) -> Iterable[Handler]:
        """The handlers to run for this event, specific action first."""
        if event.action is not None:
            yield from self._handlers.get((event.name, event.action), ())
        yield from self._handlers.get((event.name, None), ())

    @property
    def events(self) -> set[str]:
        """Every event name some handler listens to."""
        return {name for name, _ in self._handlers}

"""Signed webhook delivery to each app installed on a repository, recorded for the tests."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
import time
import uuid
from typing import Any

import httpx

from .state import AppRecord, Delivery, Repo, State, next_id, node_id, now

# Installation lifecycle events reach an app whatever it subscribed to.
ALWAYS_DELIVERED = frozenset({"installation", "installation_repositories"})


def signature_headers(secret: str | None, body: bytes) -> dict[str, str]:
    """`X-Hub-Signature-256` and `X-Hub-Signature` for a body, empty without a secret."""
    if not secret:
        return {}
    key = secret.encode()
    return {
        "X-Hub-Signature": "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest(),
        "X-Hub-Signature-256": "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest(),
    }


def subscribed(app: AppRecord, event: str) -> bool:
    """Whether `app` receives `event` (an app registered without events receives all)."""
    return not app.events or event in app.events or event in ALWAYS_DELIVERED


class WebhookSender:
    """Builds the HTTP request GitHub would send for an event and sends it, synchronously."""

    def __init__(self, state: State, timeout: float = 10.0) -> None:
        self.state = state
        self.timeout = timeout
        # One client for every delivery: building one costs ~50 ms (TLS context).
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    def _http(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self.timeout)
            return self._client

    def close(self) -> None:
        """Close the HTTP client (connections to webhook receivers); reopened on demand."""
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def deliver(
        self,
        app: AppRecord,
        event: str,
        payload: dict[str, Any],
        delivery_id: str | None = None,
    ) -> Delivery:
        """Sign `payload` with the app's secret and POST it to the app's webhook URL.

        Without a webhook URL the delivery is recorded but not sent.
        """
        body = json.dumps(payload, separators=(",", ":")).encode()
        guid = delivery_id or str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/standin",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": guid,
            "X-GitHub-Hook-ID": str(app.hook_id),
            "X-GitHub-Hook-Installation-Target-ID": str(app.id),
            "X-GitHub-Hook-Installation-Target-Type": "integration",
            **signature_headers(app.webhook_secret, body),
        }
        record = Delivery(
            id=guid,
            event=event,
            action=payload.get("action"),
            app_id=app.id,
            payload=payload,
            body=body,
            headers=headers,
            url=app.webhook_url,
            redelivery=delivery_id is not None,
        )
        return self._send(record)

    def _send(self, record: Delivery) -> Delivery:
        if record.url:
            started = time.monotonic()
            try:
                resp = self._http().post(record.url, content=record.body, headers=record.headers)
                record.status_code = resp.status_code
                record.response_body = resp.text
            except httpx.HTTPError as exc:
                record.error = f"{type(exc).__name__}: {exc}"
            record.duration = round(time.monotonic() - started, 3)
        with self.state.lock:
            self.state.deliveries.append(record)
        return record

    def redeliver(self, delivery_id: str) -> Delivery:
        """Send a recorded delivery again: same GUID, same body, to the app's current URL."""
        with self.state.lock:
            old = next(d for d in reversed(self.state.deliveries) if d.id == delivery_id)
        return self._send(self._again(old))

    def redeliver_later(self, old: Delivery) -> None:
        """Redeliver `old` from a thread of its own, as GitHub answers 202 to a redelivery
        request and sends it afterwards (the attempt shows in the records once answered)."""
        record = self._again(old)
        threading.Thread(
            target=self._send, args=(record,), name=f"redeliver-{old.id}", daemon=True
        ).start()

    def _again(self, old: Delivery) -> Delivery:
        """A new attempt of `old`: same GUID, headers and body, the app's current URL."""
        with self.state.lock:
            app = self.state.apps.get(old.app_id) if old.app_id is not None else None
        record = copy.copy(old)
        record.url = app.webhook_url if app else old.url
        record.status_code = record.response_body = record.error = None
        record.redelivery = True
        record.delivered_at = now()
        record.attempt_id = next_id()
        record.duration = 0.0
        return record

    def emit(self, repo: Repo, event: str, payload: dict[str, Any]) -> list[Delivery]:
        """Deliver a repository event to every app installed on `repo` that subscribes to it."""
        targets = []
        with self.state.lock:
            for inst in self.state.installations_for(repo):
                app = self.state.apps[inst.app_id]
                if subscribed(app, event):
                    body = dict(payload)
                    body["installation"] = {
                        "id": inst.id,
                        "node_id": node_id("Installation", inst.id),
                    }
                    targets.append((app, body))
        return [self.deliver(app, event, body) for app, body in targets]

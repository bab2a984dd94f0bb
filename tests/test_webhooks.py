"""Webhook intake over real HTTP: every octokit example, signatures, dedup, size, health."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import AppProcess, post_webhook

SECRET = "It's a Secret to Everybody"


def octokit_examples(npm_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    index = json.loads(
        (npm_dir / "@octokit/webhooks-examples/api.github.com/index.json").read_text()
    )
    return [(event["name"], example) for event in index for example in event["examples"]]


@pytest.fixture
def app(tmp_path: Path, redis_url: str) -> Iterator[AppProcess]:
    """The app with a webhook secret but no worker: intake only, on SQLite."""
    env = {
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
    }
    with AppProcess(tmp_path, env, ("serve", "--no-worker")) as process:
        yield process


def test_every_octokit_example_is_acknowledged(
    tmp_path: Path, redis_url: str, database_url: str, npm_dir: Path
) -> None:
    """Every example, signed, to one server per database: 2xx, and no handler fails."""
    examples = octokit_examples(npm_dir)
    assert len(examples) > 300
    env = {"GITHUB_WEBHOOK_SECRET": SECRET, "REDIS_URL": redis_url, "DATABASE_URL": database_url}
    failures = []
    with (
        AppProcess(tmp_path, env, ("serve", "--no-worker")) as app,
        httpx.Client(timeout=10) as client,
    ):
        for name, payload in examples:
            response = post_webhook(client, app.url, SECRET, name, payload)
            if not 200 <= response.status_code < 300 or response.json()["message"] not in (
                "ok",
                "ignored",
            ):
                failures.append((name, payload.get("action"), response.status_code))
    assert failures == [], app.log()[-3000:]
    assert "Traceback" not in app.log()


def test_signatures_are_required_and_checked(app: AppProcess, npm_dir: Path) -> None:
    name, payload = octokit_examples(npm_dir)[0]
    body = json.dumps(payload).encode()
    with httpx.Client(timeout=10) as client:
        assert post_webhook(client, app.url, None, name, body).status_code == 401
        assert post_webhook(client, app.url, "wrong secret", name, body).status_code == 401
        tampered = post_webhook(client, app.url, SECRET, name, body)
        assert tampered.status_code == 200
        # A valid signature over other bytes does not carry over to a changed body.
        headers = {
            "X-GitHub-Event": name,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": tampered.request.headers["X-Hub-Signature-256"],
        }
        response = client.post(
            app.url + "/api/github/webhooks", content=body + b" ", headers=headers
        )
        assert response.status_code == 401


def test_a_signature_header_that_is_not_ascii_is_refused(app: AppProcess) -> None:
    """Header bytes are whatever the sender chose; they must compare, not raise (401)."""
    body = b'{"zen": "Design for failure."}'
    with httpx.Client(timeout=10) as client:
        for header in (b"sha256=" + "é".encode("latin-1") * 64, "sha256=✓".encode()):
            response = client.post(
                app.url + "/api/github/webhooks",
                content=body,
                headers={
                    "X-GitHub-Event": "ping",
                    "X-GitHub-Delivery": str(uuid.uuid4()),
                    "X-Hub-Signature-256": header,
                },
            )
            assert response.status_code == 401, response.text
    assert "Traceback" not in app.log()


def test_redelivery_is_processed_once(app: AppProcess, npm_dir: Path) -> None:
    name, payload = next(
        (n, p)
        for n, p in octokit_examples(npm_dir)
        if n == "installation" and p["action"] == "created"
    )
    delivery = str(uuid.uuid4())
    with httpx.Client(timeout=10) as client:
        first = post_webhook(client, app.url, SECRET, name, payload, delivery)
        second = post_webhook(client, app.url, SECRET, name, payload, delivery)
        metrics = client.get(app.url + "/metrics").text
    assert first.status_code == 200 and first.json()["message"] == "ok"
    assert second.status_code == 200 and second.json()["message"] == "duplicate delivery ignored"
    assert (
        'liquidbook_webhook_deliveries_total{event="installation",outcome="duplicate"} 1.0'
        in metrics
    )


def test_oversized_body_is_refused(app: AppProcess) -> None:
    big = b'{"a": "' + b"x" * (25 * 1024 * 1024 + 10) + b'"}'
    with httpx.Client(timeout=30) as client:
        response = post_webhook(client, app.url, SECRET, "push", big)
        assert response.status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
            for start in range(0, len(big), 1 << 20):
                yield big[start : start + (1 << 20)]

        streamed = client.post(
            app.url + "/api/github/webhooks",
            content=chunks(),
            headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": str(uuid.uuid4())},
        )
        assert streamed.status_code == 413


def test_malformed_requests_get_4xx_not_5xx(app: AppProcess) -> None:
    with httpx.Client(timeout=10) as client:
        assert post_webhook(client, app.url, SECRET, "push", b"not json").status_code == 400
        assert post_webhook(client, app.url, SECRET, "push", b"[1, 2]").status_code == 400
        headers = {"X-Hub-Signature-256": "sha256=00"}
        assert (
            client.post(
                app.url + "/api/github/webhooks", content=b"{}", headers=headers
            ).status_code
            == 401
        )
        # Signed, but an event nobody handles, with a payload of unexpected shape.
        ok = post_webhook(
            client, app.url, SECRET, "issue_comment", {"action": "created", "issue": 3}
        )
        assert ok.status_code == 200


def test_health_and_metrics(app: AppProcess) -> None:
    with httpx.Client(timeout=10) as client:
        health = client.get(app.url + "/healthz")
        assert health.status_code == 200
        assert health.json()["redis"] == "ok" and health.json()["database"] == "ok"
        assert "liquidbook_webhook_seconds" in client.get(app.url + "/metrics").text


def test_only_deliveries_that_start_work_keep_a_key(
    app: AppProcess, redis_url: str, npm_dir: Path
) -> None:
    """A delivery that queues a job claims its id for GitHub's redelivery window (72 h) in
    the same round trip; one that starts nothing (a ping, a comment with no command) keeps
    no key, so Redis does not hold one per delivery of every event."""
    import redis

    installed = next(
        p for n, p in octokit_examples(npm_dir) if n == "installation" and p["action"] == "created"
    )
    comment = next(
        p
        for n, p in octokit_examples(npm_dir)
        if n == "issue_comment" and p["action"] == "created" and p["sender"]["type"] == "User"
    )
    comment = {**comment, "comment": {**comment["comment"], "body": "thanks, no command"}}
    work, idle, ping = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    with httpx.Client(timeout=10) as client:
        assert post_webhook(client, app.url, SECRET, "installation", installed, work).is_success
        assert post_webhook(client, app.url, SECRET, "issue_comment", comment, idle).is_success
        assert post_webhook(client, app.url, SECRET, "ping", {"zen": "hi"}, ping).is_success
    store = redis.Redis.from_url(redis_url)
    try:
        ttl = store.ttl(f"liquidbook:delivery:{work}")
        assert 71 * 3600 < ttl <= 72 * 3600, ttl
        assert not store.exists(f"liquidbook:delivery:{idle}", f"liquidbook:delivery:{ping}")
    finally:
        store.close()

"""The GitHub stand-in against GitHub's own REST description (`@octokit/openapi`).

1. Every (method, path template) the stand-in serves exists in `api.github.com.json`, with
   the same path parameter names.
2. A walk over every route answers with bodies that satisfy the description's response
   schema for that status: required fields present, types and enums right, nulls only where
   the description allows them.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from standins.github import AppRecord, GitHubStandIn
from standins.github.server import build_app

NPM = Path(__file__).parent / "npm" / "node_modules"
DESCRIPTION = NPM / "@octokit/openapi/generated/api.github.com.json"
INTERNAL = ("/_codeload", "/_standin")

pytestmark = pytest.mark.skipif(
    not DESCRIPTION.exists(),
    reason=f"npm @octokit/openapi is not installed under {NPM} (run npm install in tests/npm)",
)


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return json.loads(DESCRIPTION.read_text())


def served_routes() -> list[tuple[str, str]]:
    """(METHOD, template) for every REST route, convertors stripped (`{ref:path}` -> `{ref}`)."""
    found = []
    for route in build_app(hub=None).routes:  # type: ignore[arg-type]
        path = getattr(route, "path", "")
        if path.startswith(INTERNAL):
            continue
        template = re.sub(r":\w+}", "}", path)
        for method in sorted(getattr(route, "methods", None) or []):
            if method != "HEAD":
                found.append((method, template))
    return found


def test_every_route_is_in_githubs_description(spec: dict[str, Any]) -> None:
    routes = served_routes()
    assert len(routes) > 40
    missing = [(m, p) for m, p in routes if m.lower() not in spec["paths"].get(p, {})]
    assert not missing, f"not in GitHub's REST description: {missing}"


# -- a small validator for the description's schemas (OpenAPI 3.0: `nullable`) ---------------

TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
}


class Validator:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            node: Any = self.spec
            for part in schema["$ref"].lstrip("#/").split("/"):
                node = node[part]
            schema = node
        return schema

    def errors(self, schema: dict[str, Any], value: Any, where: str = "$") -> list[str]:
        schema = self.resolve(schema)
        if value is None:
            nullable = schema.get("nullable") or any(
                self.resolve(s).get("nullable")
                for s in schema.get("anyOf", []) + schema.get("oneOf", [])
            )
            return [] if nullable else [f"{where}: null where the description wants a value"]
        found: list[str] = []
        for part in schema.get("allOf", []):
            found += self.errors(part, value, where)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                tries: list[list[str]] = [self.errors(o, value, where) for o in schema[key]]
                if all(tries):
                    found += sorted(tries, key=lambda errors: len(errors))[0]
        kind = schema.get("type")
        if kind in TYPES:
            ok = isinstance(value, TYPES[kind]) and not (
                kind in ("integer", "number") and isinstance(value, bool)
            )
            if not ok:
                return [
                    *found,
                    f"{where}: {type(value).__name__} where the description wants {kind}",
                ]
        if "enum" in schema and isinstance(value, str) and value not in schema["enum"]:
            found.append(f"{where}: {value!r} not in {schema['enum']}")
        if isinstance(value, dict):
            for name in schema.get("required", []):
                if name not in value:
                    found.append(f"{where}.{name}: required field missing")
            for name, sub in schema.get("properties", {}).items():
                if name in value:
                    found += self.errors(sub, value[name], f"{where}.{name}")
        if isinstance(value, list) and "items" in schema:
            for i, item in enumerate(value[:5]):
                found += self.errors(schema["items"], item, f"{where}[{i}]")
        return found

    def response_schema(self, template: str, method: str, status: int) -> dict[str, Any] | None:
        operation = self.spec["paths"][template][method.lower()]
        response = operation["responses"].get(str(status))
        if response is None:
            raise AssertionError(
                f"{method} {template} answered {status}, which the description lacks"
            )
        content = self.resolve(response).get("content", {})
        media = content.get("application/json") or next(iter(content.values()), None)
        return media.get("schema") if media else None


# -- a walk over every route ------------------------------------------------------------------


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[GitHubStandIn, AppRecord, int]]:
    with GitHubStandIn(tmp_path) as gh:
        app = gh.register_app()
        gh.create_repo(
            "octo-org", "book", files={"myst.yml": "version: 1\n", "ch/01.md": "# One\ntwo\n"}
        )
        gh.add_user("alice")
        gh.set_permission("octo-org/book", "alice", "maintain")
        yield gh, app, gh.install(app.id, "octo-org")


def _wait(found: Any, seconds: float = 10) -> Any:
    deadline = time.monotonic() + seconds
    while not (value := found()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert value, "not within time"
    return value


def walk(gh: GitHubStandIn, app: AppRecord, inst_id: int) -> None:
    """Call every route once, successfully."""
    now = int(time.time())
    token_jwt = jwt.encode(
        {"iss": str(app.id), "iat": now - 60, "exp": now + 540},
        app.private_key_pem,
        algorithm="RS256",
    )
    as_app = httpx.Client(base_url=gh.api_url, headers={"Authorization": f"Bearer {token_jwt}"})
    as_app.get("/app").raise_for_status()
    as_app.get("/app/installations").raise_for_status()
    as_app.get(f"/app/installations/{inst_id}").raise_for_status()
    as_app.get("/repos/octo-org/book/installation").raise_for_status()
    token = (
        as_app.post(f"/app/installations/{inst_id}/access_tokens")
        .raise_for_status()
        .json()["token"]
    )
    code = gh.manifest_code(
        {
            "name": "Walker",
            "url": "http://127.0.0.1:9",
            "hook_attributes": {"url": "http://127.0.0.1:9/hook"},
        }
    )
    httpx.post(f"{gh.api_url}/app-manifests/{code}/conversions").raise_for_status()
    # Deliveries to a port nobody listens on: recorded as failed attempts.
    gh.set_webhook_url(app.id, "http://127.0.0.1:9/hook")
    gh.deliver("ping", {"zen": "Keep it logically awesome.", "hook_id": app.hook_id}, app.id)
    [attempt] = as_app.get("/app/hook/deliveries").raise_for_status().json()
    as_app.get(f"/app/hook/deliveries/{attempt['id']}").raise_for_status()
    as_app.post(f"/app/hook/deliveries/{attempt['id']}/attempts").raise_for_status()

    c = httpx.Client(
        base_url=gh.api_url + "/repos/octo-org/book", headers={"Authorization": f"token {token}"}
    )

    def ok(resp: httpx.Response) -> Any:
        return resp.raise_for_status().json() if resp.content else None

    httpx.get(f"{gh.api_url}/installation/repositories", headers=c.headers).raise_for_status()
    httpx.get(f"{gh.api_url}/rate_limit", headers=c.headers).raise_for_status()
    ok(httpx.get(f"{gh.api_url}/repos/octo-org/book", headers=c.headers))
    ok(c.get("/contents/myst.yml"))
    ok(c.get("/contents/ch", params={"ref": "main"}))
    assert c.get("/tarball/main").status_code == 302
    ok(c.get("/branches/main"))
    ok(c.get("/commits/main"))

    main = ok(c.get("/git/ref/heads/main"))["object"]["sha"]
    ok(c.get("/git/matching-refs/heads/"))
    blob = ok(c.post("/git/blobs", json={"content": "# Two\n", "encoding": "utf-8"}))["sha"]
    ok(c.get(f"/git/blobs/{blob}"))
    base_tree = ok(c.get(f"/git/commits/{main}"))["tree"]["sha"]
    tree = ok(c.post("/git/trees", json={"base_tree": base_tree, "tree": [
        {"path": "ch/02.md", "mode": "100644", "type": "blob", "sha": blob},
        {"path": "ch/01.md", "mode": "100644", "type": "blob", "content": "# One\n2\n"},
    ]}))["sha"]  # fmt: skip
    ok(c.get(f"/git/trees/{tree}", params={"recursive": "1"}))
    commit = ok(c.post("/git/commits", json={"message": "Two", "tree": tree, "parents": [main]}))[
        "sha"
    ]
    ok(c.post("/git/refs", json={"ref": "refs/heads/two", "sha": main}))
    ok(c.patch("/git/refs/heads/two", json={"sha": commit}))
    ok(c.get("/compare/main...two"))
    ok(c.post("/git/refs", json={"ref": "refs/heads/gone", "sha": main}))
    ok(c.delete("/git/refs/heads/gone"))

    pull = ok(c.post("/pulls", json={"title": "Two", "head": "octo-org:two", "base": "main"}))[
        "number"
    ]
    ok(c.get("/pulls", params={"head": "octo-org:two"}))
    ok(c.get(f"/pulls/{pull}"))
    ok(c.patch(f"/pulls/{pull}", json={"body": "Adds chapter two."}))
    ok(c.get(f"/pulls/{pull}/files"))
    review = ok(
        c.post(
            f"/pulls/{pull}/comments",
            json={"body": "ok", "path": "ch/02.md", "line": 1, "commit_id": commit},
        )
    )["id"]
    ok(c.post(f"/pulls/{pull}/comments", json={"body": "reply", "in_reply_to": review}))
    ok(c.get(f"/pulls/{pull}/comments"))
    ok(c.get(f"/pulls/comments/{review}"))
    ok(c.patch(f"/pulls/comments/{review}", json={"body": "ok!"}))
    ok(c.post(f"/pulls/{pull}/comments/{review}/replies", json={"body": "```suggestion\n# 2\n```"}))
    ok(c.post(f"/pulls/comments/{review}/reactions", json={"content": "+1"}))
    ok(c.get(f"/pulls/comments/{review}/reactions"))
    submitted = ok(
        c.post(
            f"/pulls/{pull}/reviews",
            json={
                "body": "/revise tighten these",
                "event": "COMMENT",
                "comments": [{"path": "ch/02.md", "line": 1, "body": "shorter"}],
            },
        )
    )["id"]
    ok(c.get(f"/pulls/{pull}/reviews"))
    ok(c.get(f"/pulls/{pull}/reviews/{submitted}"))
    ok(c.get(f"/pulls/{pull}/reviews/{submitted}/comments"))

    issue = ok(c.post("/issues", json={"title": "Outline", "body": "please", "labels": ["book"]}))[
        "number"
    ]
    ok(c.get(f"/issues/{issue}"))
    ok(c.get(f"/issues/{pull}"))
    listed = ok(c.get("/issues", params={"labels": "book", "state": "all", "direction": "asc"}))
    assert [i["number"] for i in listed] == [issue]
    ok(c.patch(f"/issues/{issue}", json={"state": "closed"}))
    comment = ok(c.post(f"/issues/{pull}/comments", json={"body": "Working…"}))["id"]
    ok(c.get(f"/issues/{pull}/comments"))
    ok(c.get(f"/issues/comments/{comment}"))
    ok(c.patch(f"/issues/comments/{comment}", json={"body": "Done."}))
    ok(c.post(f"/issues/comments/{comment}/reactions", json={"content": "rocket"}))
    ok(c.post(f"/issues/comments/{comment}/reactions", json={"content": "rocket"}))  # 200
    ok(c.get(f"/issues/comments/{comment}/reactions"))
    ok(c.post(f"/issues/{issue}/reactions", json={"content": "eyes"}))
    ok(c.get(f"/issues/{issue}/reactions"))
    ok(c.delete(f"/issues/comments/{comment}"))
    ok(c.get("/collaborators/alice/permission"))

    run = ok(
        c.post("/check-runs", json={"name": "book", "head_sha": commit, "status": "in_progress"})
    )["id"]
    ok(c.get(f"/check-runs/{run}"))
    ok(
        c.patch(
            f"/check-runs/{run}",
            json={"conclusion": "success", "output": {"title": "ok", "summary": "fine"}},
        )
    )
    note = {"path": "myst.yml", "start_line": 1, "end_line": 1, "message": "m"}
    ok(
        c.patch(
            f"/check-runs/{run}",
            json={
                "output": {
                    "title": "ok",
                    "summary": "fine",
                    "annotations": [{**note, "annotation_level": "warning"}],
                }
            },
        )
    )
    ok(c.get(f"/check-runs/{run}/annotations"))
    gh.push(
        "octo-org/book",
        "main",
        {".github/workflows/site.yml": "name: Site\non:\n  workflow_dispatch:\n"},
        user="alice",
    )
    ok(c.post("/actions/workflows/site.yml/dispatches", json={"ref": "main"}))
    runs = _wait(lambda: [r for r in gh.workflow_runs("octo-org/book")
                          if r["status"] == "completed"])  # fmt: skip
    ok(c.get(f"/actions/runs/{runs[0]['id']}"))
    ok(c.get(f"/actions/runs/{runs[0]['id']}/jobs"))
    listed = ok(c.get("/actions/workflows/site.yml/runs", params={"head_sha": runs[0]["head_sha"]}))
    assert [r["id"] for r in listed["workflow_runs"]] == [runs[0]["id"]]
    ok(c.post("/pages", json={"build_type": "workflow"}))
    ok(c.get("/pages"))
    ok(c.put("/pages", json={"build_type": "workflow"}))
    ok(c.put(f"/pulls/{pull}/merge", json={"merge_method": "squash", "sha": commit}))
    ok(c.get(f"/pulls/{pull}/merge"))
    ok(c.delete("/pages"))


def test_every_answer_matches_githubs_schemas(
    spec: dict[str, Any], world: tuple[GitHubStandIn, AppRecord, int]
) -> None:
    gh, app, inst_id = world
    walk(gh, app, inst_id)
    logged = [r for r in gh.requests if r.route and not r.route.startswith(INTERNAL)]
    answered = {(r.method, r.route) for r in logged if r.status < 400}
    unvisited = set(served_routes()) - answered
    assert not unvisited, f"the walk missed {sorted(unvisited)}"

    validator = Validator(spec)
    problems = []
    for r in logged:
        assert r.route is not None
        schema = validator.response_schema(r.route, r.method, r.status)
        if schema is None or r.response_json is None:
            continue
        problems += [
            f"{r.method} {r.route} {r.status}: {e}"
            for e in validator.errors(schema, r.response_json)
        ]
    assert not problems, "\n".join(problems[:40])


def test_the_validator_catches_what_it_should(spec: dict[str, Any]) -> None:
    validator = Validator(spec)
    schema = {"$ref": "#/components/schemas/issue-comment"}
    assert validator.errors(schema, {"id": 1}) != []
    wrong = {"id": "1", "node_id": "x", "html_url": "h", "issue_url": "i", "user": None, "url": "u",
             "created_at": "t", "updated_at": "t", "author_association": "FRIEND"}  # fmt: skip
    found = validator.errors(schema, wrong)
    assert any("$.id: str" in e for e in found) and any("FRIEND" in e for e in found)


def test_errors_have_githubs_shape(
    spec: dict[str, Any], world: tuple[GitHubStandIn, AppRecord, int]
) -> None:
    gh, _, _ = world
    missing = httpx.get(f"{gh.api_url}/repos/octo-org/nothing")
    assert missing.status_code == 404
    assert missing.json() == {
        "message": "Not Found",
        "documentation_url": "https://docs.github.com/rest",
        "status": "404",
    }
    unknown = httpx.get(f"{gh.api_url}/no/such/endpoint")
    assert unknown.status_code == 404 and unknown.json()["message"] == "Not Found"
    validator = Validator(spec)
    basic = {"$ref": "#/components/schemas/basic-error"}
    assert validator.errors(basic, missing.json()) == []

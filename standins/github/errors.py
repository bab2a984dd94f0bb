"""GitHub's error bodies: `{"message", "documentation_url", "status"}` plus `errors` on 422."""

from __future__ import annotations

from typing import Any

DOCS = "https://docs.github.com/rest"


class ApiError(Exception):
    """An error answer; raised anywhere in a handler, turned into GitHub's error body."""

    def __init__(
        self,
        status: int,
        message: str,
        documentation_url: str = DOCS,
        # Objects (`resource`, `field`, `code`), or sentences (`validation-error-simple`).
        errors: list[dict[str, Any]] | list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.documentation_url = documentation_url
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body GitHub sends with this status."""
        body: dict[str, Any] = {"message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        body["documentation_url"] = self.documentation_url
        body["status"] = str(self.status)
        return body


def not_found() -> ApiError:
    """404 Not Found, GitHub's answer for anything missing or not visible to the caller."""
    return ApiError(404, "Not Found")


def bad_credentials() -> ApiError:
    """401 for an unknown, expired or revoked token."""
    return ApiError(401, "Bad credentials")


def not_accessible() -> ApiError:
    """403 when the installation lacks the permission the endpoint needs."""
    return ApiError(403, "Resource not accessible by integration")


def validation_failed(
    resource: str,
    field: str | None = None,
    code: str = "invalid",
    message: str | None = None,
    documentation_url: str = DOCS,
) -> ApiError:
    """422 Validation Failed with one entry in `errors`."""
    error: dict[str, Any] = {"resource": resource, "code": code}
    if field is not None:
        error["field"] = field
    if message is not None:
        error["message"] = message
    return ApiError(422, "Validation Failed", documentation_url, errors=[error])


def unprocessable(message: str, documentation_url: str = DOCS) -> ApiError:
    """422 with a plain message (refs, trees and commits answer like this)."""
    return ApiError(422, message, documentation_url)

"""What arq keeps in Redis about a job holds no credentials.

arq pickles a failed job's exception as the job's result and keeps it for `keep_result`
seconds. A githubkit error pickles with its HTTP request, whose `Authorization: token ghs_…`
header is a working installation token: anyone who could read Redis could write to people's
repositories. So the serializer given to arq (`serialize`, in the workers and in the queue's
pool) stores a failure as `JobFailed`, a plain exception holding one line of text (the
original's type and message, with anything shaped like a GitHub credential replaced), and any
result that is not a plain value as such a line too. Tracebacks, requests and responses are
never pickled; the operators find them in the logs, which print messages, not headers.
"""

from __future__ import annotations

import pickle
import re
from typing import Any

# GitHub's token formats (ghs_ installation, ghp_/github_pat_ personal, gho_/ghu_/ghr_ OAuth),
# a JWT (three base64url parts, the first `eyJ`), and whatever follows an auth scheme.
_CREDENTIAL = re.compile(
    r"(?:gh[opsur]_[A-Za-z0-9_]{8,}|github_pat_[A-Za-z0-9_]{8,})"
    r"|eyJ[\w-]*\.[\w-]+\.[\w-]*"
    r"|(?i:\b(?:bearer|token|basic)\s+)[^\s'\",;]{8,}"
)
MAX_MESSAGE = 500
PLAIN = (str, int, float, bool, type(None))


class JobFailed(Exception):
    """A job's failure as arq stores it: one line of text, nothing else."""


def redact(text: str) -> str:
    """`text` with anything shaped like a GitHub credential replaced by `<redacted>`."""
    return _CREDENTIAL.sub("<redacted>", text)


def summary(value: object) -> str:
    """One credential-free line about an exception or any other object."""
    if isinstance(value, BaseException):
        lines = str(value).strip().splitlines()
        text = f"{type(value).__name__}: {lines[0]}" if lines else type(value).__name__
    else:
        text = f"{type(value).__name__}: {value!r}"
    return redact(text)[:MAX_MESSAGE]


def plain_result(result: Any) -> Any:
    """What may be stored for a job's result: a plain value as it is, a `JobFailed` for an
    exception (arq's own included), a summary line for anything else."""
    if isinstance(result, JobFailed) or isinstance(result, PLAIN):
        return result if not isinstance(result, str) else redact(result)
    if isinstance(result, BaseException):
        return JobFailed(summary(result))
    return summary(result)


def serialize(data: dict[str, Any]) -> bytes:
    """arq's job serializer: pickle, with the result (`r`) made plain first. Jobs as
    enqueued (function, arguments) are pickled as they are: they hold no objects."""
    if "r" in data:
        data = {**data, "r": plain_result(data["r"])}
    return pickle.dumps(data)


def deserialize(payload: bytes) -> dict[str, Any]:
    """arq's job deserializer (pickle: what `serialize` writes, and what arq wrote before)."""
    data: dict[str, Any] = pickle.loads(payload)
    return data

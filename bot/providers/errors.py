"""What can go wrong when calling a model, each with one sentence for the author.

Every error carries `user_message`: one sentence a person can act on, safe to post as a
GitHub comment (no key, no stack trace, no raw provider body). `outcome` is the short word
stored in the usage table. `retryable` errors are retried on the same model with backoff;
`fallback` errors move the chain on to the next model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from bot.providers.accounting import Done
    from bot.providers.types import Attempt, Completion


def display_name(provider: str) -> str:
    """How a provider is spelled in messages to people."""
    return {
        "openrouter": "OpenRouter",
        "together": "Together",
        "anthropic": "Anthropic",
        "openai": "OpenAI",
        "stability": "Stability AI",
        "replicate": "Replicate",
        "runway": "Runway",
    }.get(provider, provider)


class ProviderError(Exception):
    """Base of every provider-layer failure."""

    outcome = "error"
    retryable = False
    fallback = True
    # HTTP requests made before giving up (set by the retry loop).
    tries = 1
    # What a request that failed after its 200 was billed for (the provider counts what it
    # processed and wrote): a stream that broke off, an answer that ran past its cap. Its
    # tokens are the provider's own when it reported them, else estimated from the text.
    partial: Completion | None = None
    # What every request to the model cost before it failed for good (tokens, USD, how
    # they were counted), set by the text layer for the usage row.
    failed_usage: Done[Completion] | None = None

    def __init__(
        self,
        user_message: str,
        *,
        status: int | None = None,
        detail: str | None = None,
        retry_after: float | None = None,
        phrase: str | None = None,
        operator: str | None = None,
    ) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        # What the operator needs to act on (a setting of the server, its network), for the
        # log and the operator's own CLI; authors see `user_message`, which never asks them
        # to change the server.
        self.operator_message = operator or user_message
        # What happened, as a verb phrase after the model's name ("was rate limited"), for
        # the one-sentence summary of a whole chain.
        self.phrase = phrase or self.outcome.replace("_", " ")
        # The models tried before giving up (set by the chain).
        self.attempts: list[Attempt] = []
        self.status = status
        # Short provider-side explanation for the usage row and logs (already key-free).
        self.detail = detail
        self.retry_after = retry_after


class NoApiKey(ProviderError):
    outcome = "no_key"

    def __init__(self, provider: str, env_var: str) -> None:
        super().__init__(
            f"{display_name(provider)} is not set up on this server yet (it has no API key "
            "for it): the operator has been told in the logs.",
            phrase="is not set up on this server yet (no API key; the operator has been told)",
            operator=f"No API key is set for {display_name(provider)}: set {env_var} on the server.",
        )


class UnknownModel(ProviderError):
    outcome = "unknown_model"

    def __init__(self, name: str, reason: str | None = None) -> None:
        why = reason or "write it as provider:model, e.g. openrouter:anthropic/claude-sonnet-5.5"
        super().__init__(f"Unknown model {name.strip()!r}: {why}.", phrase=f"is unknown ({why})")


class UnknownProvider(UnknownModel):
    def __init__(self, name: str, provider: str) -> None:
        super().__init__(
            name,
            f"{provider!r} is not a known provider and {provider.upper()}_BASE_URL is not set",
        )


class NotSupported(ProviderError):
    outcome = "not_supported"

    def __init__(self, model: str, what: str) -> None:
        super().__init__(
            f"{model} cannot {what}: choose a model that can.", phrase=f"cannot {what}"
        )


class NotSupportedYet(ProviderError):
    outcome = "not_supported"

    def __init__(self, provider: str, what: str) -> None:
        super().__init__(
            f"{display_name(provider)} {what} is not supported yet.",
            phrase=f"does not support {what} yet",
        )


class BadRequest(ProviderError):
    """400/404/422: the same request would fail again."""

    outcome = "bad_request"

    def __init__(self, provider: str, model: str, status: int, detail: str | None) -> None:
        what = "does not know the model" if status == 404 else "rejected the request"
        super().__init__(
            f"{display_name(provider)} {what} {model} ({status}"
            + (f": {_clip(detail)}" if detail else "")
            + "): check the model name and the book's settings.",
            status=status,
            detail=detail,
            phrase=(
                f"is not known to {display_name(provider)} (404)"
                if status == 404
                else f"was sent a request it rejected ({status})"
            ),
        )


class AuthenticationFailed(ProviderError):
    outcome = "auth_failed"

    def __init__(self, provider: str, env_var: str, status: int, detail: str | None) -> None:
        super().__init__(
            f"{display_name(provider)} refused this server's API key ({status}): the operator "
            "has been told in the logs.",
            status=status,
            detail=detail,
            phrase="refused this server's API key (the operator has been told)",
            operator=f"{display_name(provider)} refused the API key ({status}): check {env_var} on the server.",
        )


class QuotaExhausted(ProviderError):
    outcome = "quota_exhausted"

    def __init__(self, provider: str, status: int | None, detail: str | None) -> None:
        super().__init__(
            f"The {display_name(provider)} account is out of credit or quota: add credit there "
            "or choose another model.",
            status=status,
            detail=detail,
            phrase="is out of credit or quota",
        )


class Refused(ProviderError):
    outcome = "refused"

    def __init__(self, model: str, detail: str | None = None, status: int | None = None) -> None:
        super().__init__(
            f"{model} refused the request"
            + (f" ({_clip(detail)})" if detail else "")
            + ": rephrase it or choose another model.",
            status=status,
            detail=detail,
            phrase="refused the request",
        )


class Overloaded(ProviderError):
    """Anthropic's 529 (or an `overloaded_error` event): the chain moves on to the next model
    at once, and retries it (`RetryPolicy`, honouring Retry-After) only on the last model."""

    outcome = "overloaded"

    def __init__(
        self,
        provider: str,
        detail: str | None = None,
        status: int | None = 529,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            f"{display_name(provider)} is overloaded right now: try again in a few minutes or "
            "add a fallback model.",
            status=status,
            detail=detail,
            retry_after=retry_after,
            phrase="was overloaded",
        )


class RateLimited(ProviderError):
    outcome = "rate_limited"
    retryable = True

    def __init__(
        self, provider: str, retry_after: float | None = None, detail: str | None = None
    ) -> None:
        super().__init__(
            f"{display_name(provider)} is rate limiting this server: wait a minute and try again, "
            "or lower the request rate in the server's settings.",
            status=429,
            detail=detail,
            retry_after=retry_after,
            phrase="was rate limited",
        )


class ServerError(ProviderError):
    outcome = "server_error"
    retryable = True

    def __init__(
        self,
        provider: str,
        status: int,
        detail: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            f"{display_name(provider)} had a server error ({status}): try again later or add a "
            "fallback model.",
            status=status,
            detail=detail,
            retry_after=retry_after,
            phrase=f"had a server error ({status})",
        )


class Timeout(ProviderError):
    outcome = "timeout"
    retryable = True

    def __init__(self, provider: str, detail: str | None = None) -> None:
        super().__init__(
            f"{display_name(provider)} did not answer in time: try again later.",
            detail=detail,
            phrase="timed out",
            operator=f"{display_name(provider)} did not answer in time: if it keeps happening, "
            "raise the provider timeout on the server.",
        )


class ConnectionFailed(ProviderError):
    outcome = "connection_error"
    retryable = True

    def __init__(self, provider: str, detail: str | None = None) -> None:
        super().__init__(
            f"The model provider {display_name(provider)} could not be reached: the operator "
            "has been told in the logs; try again later.",
            detail=detail,
            phrase="could not be reached",
            operator=f"Could not reach {display_name(provider)}: check the server's network and "
            f"{provider.upper()}_BASE_URL.",
        )


class BadResponse(ProviderError):
    """The provider answered 2xx with something we cannot read."""

    outcome = "bad_response"
    retryable = True

    def __init__(self, provider: str, detail: str) -> None:
        super().__init__(
            f"{display_name(provider)} sent an answer that could not be read: try again or "
            "choose another model.",
            detail=detail,
            phrase="sent an unreadable answer",
        )


class Runaway(ProviderError):
    """The answer ran past the length limit the request set (`max_tokens`): more tokens
    reported, or more text sent, than the limit could produce. A model or a server that
    ignores the cap (a loop, a hostile endpoint) must not have its answer committed nor its
    stream read to the end. Not retried on the same model (another try is paid again); the
    chain moves on. `partial` holds what it is counted at."""

    outcome = "runaway"

    def __init__(self, model: str, max_tokens: int, detail: str) -> None:
        super().__init__(
            f"{model} kept writing past the length limit it was given ({max_tokens:,} tokens), "
            "so its answer was discarded: try again or choose another model.",
            detail=detail,
            phrase=f"wrote past its length limit ({max_tokens:,} tokens)",
        )


class UnusableAnswer(ProviderError):
    """A whole, paid-for answer that is still not one: empty, holding text that is not valid
    Unicode (a lone surrogate), or failing the caller's own rule (`TextRequest.accept`,
    e.g. a chapter with no body). The chain moves on to the next model; the usage row
    counts what it cost."""

    outcome = "unusable"

    def __init__(self, model: str, why: str) -> None:
        super().__init__(
            f"{model} {why}, so its answer was not used: try again or choose another model.",
            detail=why,
            phrase=why,
        )


class GenerationFailed(ProviderError):
    """An asynchronous job (Replicate prediction, Runway task) ended in failure."""

    outcome = "failed"

    def __init__(self, provider: str, detail: str | None) -> None:
        super().__init__(
            f"{display_name(provider)} could not finish the job"
            + (f" ({_clip(detail)})" if detail else "")
            + ": try again or choose another model.",
            detail=detail,
            phrase="could not finish the job",
        )


class FileTooLarge(BadResponse):
    """A generated file (image, video) larger than Liquid Book reads; not retried."""

    retryable = False

    def __init__(self, provider: str, limit: int) -> None:
        ProviderError.__init__(
            self,
            f"{display_name(provider)} sent a file of more than {limit // 2**20} MB, more than "
            "Liquid Book reads: try again or choose another model.",
            detail=f"file over {limit} bytes",
            phrase="sent a file too large",
        )


class BudgetExceeded(ProviderError):
    """Raised before any request is made: the call could take the month over budget.

    `spent` is what this month's finished calls cost; `held` what calls still in flight hold
    against the budget (their worst case, given back when they finish)."""

    outcome = "over_budget"
    fallback = False

    def __init__(
        self,
        budget: Decimal,
        spent: Decimal,
        estimate: Decimal,
        resets: datetime,
        held: Decimal = Decimal(0),
    ) -> None:
        in_flight = f" and ${held:.2f} held by calls in flight" if held > 0 else ""
        super().__init__(
            f"This call could cost up to ${estimate:.2f} and this month's AI budget is "
            f"${budget:.2f} with ${spent:.2f} spent{in_flight}, so it was not made: raise the "
            f"budget or wait until it resets on {resets:%Y-%m-%d}."
        )
        self.budget = budget
        self.spent = spent
        self.held = held
        self.estimate = estimate
        self.resets = resets


class AllModelsFailed(ProviderError):
    """Every model of the chain failed; the sentence summarizes each attempt."""

    outcome = "all_failed"
    fallback = False

    def __init__(self, attempts: Sequence[Attempt], skipped: Sequence[str] = ()) -> None:
        parts = [f"{a.model} {a.summary()}" for a in attempts]
        parts += list(skipped)
        count = len(attempts) + len(skipped)
        noun = "model" if count == 1 else f"all {count} models"
        head = "The model failed" if count == 1 else f"{noun[0].upper()}{noun[1:]} failed"
        super().__init__(f"{head}: " + "; ".join(parts) + ".")
        self.attempts = list(attempts)


E = TypeVar("E", bound=ProviderError)


def final(exc: E) -> E:
    """`exc`, not to be retried on the same model (a retry would start another paid job)."""
    exc.retryable = False
    return exc


def _clip(text: str, limit: int = 160) -> str:
    """One line, short: provider messages can be long or multi-line."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


# Things that look like API keys: OpenAI/Anthropic/OpenRouter `sk-…`, Replicate `r8_…`,
# Stability `sk-…`, bearer tokens echoed back in a provider's message.
_KEYLIKE = re.compile(r"(?i)\b(?:sk|rk|r8|pk|key|bearer)[-_ ][A-Za-z0-9_\-*.]{6,}")


def scrub(text: str | None, secrets: Sequence[str] = ()) -> str | None:
    """Remove the configured keys and anything key-like from a provider's message.

    Providers echo a masked key in some 401 messages; a usage row or a comment must not
    carry even part of one.
    """
    if text is None:
        return None
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[key]")
    return _clip(_KEYLIKE.sub("[key]", text), 300)

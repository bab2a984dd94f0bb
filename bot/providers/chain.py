"""`ModelClient`: one call, a chain of models, retries, limits, budget and usage records.

For each model of the chain, in order: reserve its worst case against the budget (a model
whose worst-case cost would pass it is skipped without a request), then call it with retries on transient
failures (429, 5xx, timeouts). A model that fails for good — retries used up, overloaded,
refused, out of quota, a bad key, a bad request — hands over to the next one.

Usage: one row per model tried, success or failure, written by `UsageWriter` under the
call's `UsageContext` (which gives the model's budget holds back in the same step). A row
sums every HTTP request made to that model in this call (retries and continuations) and its
`error` column notes how many there were; failed requests cost nothing, except streams that
broke off after their 200 (counted at an estimate). A model never tried (budget) has no row.

Answers: a reply past its request's cap, or a whole one that is empty, not valid Unicode or
refused by the caller's `TextRequest.accept`, fails its model like an error
(`bot.providers.answers`), paid for as far as it was read. A model whose row costs more than
was reserved for it is logged, and the note reaches the row and the author's sentence.

Truncation: a text cut off at `max_tokens` is continued up to `request.continuations` times
(the partial answer is sent back with a request to go on, and the parts are joined). If it
is still cut off — or a continuation fails, or would pass the budget — the result comes back
with `truncated=True`, and its row's outcome is `ok:truncated`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from decimal import Decimal
from types import TracebackType
from typing import TypeVar

import httpx
from redis.asyncio import Redis

from bot.db import Database
from bot.providers import budget as budgets
from bot.providers.accounting import Done, UsageWriter, failure_row, success_row
from bot.providers.anthropic import Anthropic
from bot.providers.errors import AllModelsFailed, BudgetExceeded, ProviderError
from bot.providers.gate import Gate
from bot.providers.media import MediaModels
from bot.providers.names import ModelName, parse_model
from bot.providers.openai_compat import OpenAICompatible
from bot.providers.openai_images import OpenAIImages
from bot.providers.prices import PriceTable, default_table
from bot.providers.ratelimit import ConcurrencyLimits, RateLimiter
from bot.providers.replicate import Replicate
from bot.providers.retry import RetryPolicy
from bot.providers.runway import Runway
from bot.providers.settings import Endpoint, ProviderSettings
from bot.providers.stability import Stability
from bot.providers.text import TextModels
from bot.providers.types import (
    Attempt,
    ImageRequest,
    ImageResult,
    TextRequest,
    TextResult,
    VideoRequest,
    VideoResult,
)
from bot.usage import UsageContext, UsageRow

log = logging.getLogger(__name__)

T = TypeVar("T")


class ModelClient:
    """Calls models by `provider:model` name with fallback chains; owns one HTTP client.

    `redis` shares the providers' request-per-minute limits between processes (without it,
    each process limits itself); `db` receives the usage rows and holds the spend budgets are
    checked against (without it, nothing is recorded or checked).
    """

    def __init__(
        self,
        settings: ProviderSettings,
        redis: Redis | None = None,
        db: Database | None = None,
        *,
        prices: PriceTable | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.prices = prices or default_table()
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(
                connect=settings.connect_timeout_s,
                read=settings.read_timeout_s,
                write=settings.write_timeout_s,
                pool=settings.read_timeout_s,
            ),
            limits=httpx.Limits(
                max_connections=settings.http_max_connections,
                max_keepalive_connections=settings.http_max_connections,
            ),
        )
        self.limiter = RateLimiter(redis, settings.ratelimit_window_s)
        # In-flight reservations against the monthly budget, shared by every process.
        self.reservations = budgets.Reservations(redis) if redis is not None else None
        self.usage = UsageWriter(db, self.reservations)
        self.concurrency = ConcurrencyLimits()
        self.retry_policy = RetryPolicy(
            max_tries=settings.retry_max_tries,
            max_wait_s=settings.retry_max_wait_s,
            base_s=settings.retry_base_s,
            cap_s=settings.retry_cap_s,
        )
        gate = Gate(self.concurrency, self.limiter, self.retry_policy)
        openai_compat = OpenAICompatible(self.http, settings)
        self._text = TextModels(
            gate,
            self.prices,
            settings.stream_min_tokens,
            openai_compat,
            Anthropic(self.http, settings),
        )
        self._media = MediaModels(
            gate,
            self.prices,
            openai_compat,
            OpenAIImages(self.http, settings),
            Stability(self.http, settings),
            Replicate(self.http, settings),
            Runway(self.http, settings),
        )

    async def __aenter__(self) -> ModelClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections and give the usage rows' database connection back."""
        await self.http.aclose()
        await self.usage.aclose()

    async def generate_text(
        self,
        request: TextRequest,
        models: Sequence[str],
        context: UsageContext | None = None,
        monthly_budget_usd: Decimal | None = None,
    ) -> TextResult:
        """Text from the first model of `models` that answers.

        Raises `BudgetExceeded` when no model fits the budget (no request is made), the
        model's own `ProviderError` when a one-model chain fails, `AllModelsFailed` otherwise.
        Check `result.truncated` before treating the text as complete.
        """
        request.conversation()  # fail early on a request without a prompt
        done, attempts, row, model = await self._chain(
            models,
            context or UsageContext(),
            monthly_budget_usd,
            lambda model: budgets.estimate_text(self.prices, model, request),
            lambda name, endpoint, guard, last: self._text.complete(
                name, endpoint, request, guard, last
            ),
            self._text.provider,
        )
        completion = done.value
        return TextResult(
            text=completion.text,
            model=model,
            finish_reason=completion.finish_reason,
            truncated=done.truncated,
            usage=row,
            attempts=attempts,
            continuations=done.continuations,
        )

    async def generate_image(
        self,
        request: ImageRequest,
        models: Sequence[str],
        context: UsageContext | None = None,
        monthly_budget_usd: Decimal | None = None,
    ) -> ImageResult:
        """One image from the first model of `models` that delivers; errors as for text."""
        done, attempts, row, model = await self._chain(
            models,
            context or UsageContext(),
            monthly_budget_usd,
            lambda model: budgets.estimate_image(self.prices, model, request),
            lambda name, endpoint, guard, last: self._media.image(name, endpoint, request, last),
            self._media.image_provider,
        )
        return ImageResult(
            data=done.value.data,
            media_type=done.value.media_type,
            model=model,
            usage=row,
            attempts=attempts,
            revised_prompt=done.value.revised_prompt,
        )

    async def generate_video(
        self,
        request: VideoRequest,
        models: Sequence[str],
        context: UsageContext | None = None,
        monthly_budget_usd: Decimal | None = None,
    ) -> VideoResult:
        """One video from the first model of `models` that delivers; errors as for text."""
        done, attempts, row, model = await self._chain(
            models,
            context or UsageContext(),
            monthly_budget_usd,
            lambda model: budgets.estimate_video(self.prices, model, request),
            lambda name, endpoint, guard, last: self._media.video(name, endpoint, request, last),
            self._media.video_provider,
        )
        return VideoResult(
            data=done.value.data,
            media_type=done.value.media_type,
            model=model,
            usage=row,
            attempts=attempts,
        )

    # -- the chain ----------------------------------------------------------------------

    async def _chain(
        self,
        models: Sequence[str],
        context: UsageContext,
        monthly_budget_usd: Decimal | None,
        estimate: Callable[[str], Decimal],
        run: Callable[[ModelName, Endpoint, budgets.BudgetGuard, bool], Awaitable[Done[T]]],
        supports: Callable[[ModelName, Endpoint], object],
    ) -> tuple[Done[T], list[Attempt], UsageRow, str]:
        if not models:
            raise ValueError("no models given")
        budget = (
            monthly_budget_usd
            if monthly_budget_usd is not None
            else self.settings.liquidbook_monthly_budget_usd
        )
        guard = await budgets.BudgetGuard.open(
            self.db, context, budget, self.reservations, self.settings.budget_wait_s
        )
        attempts: list[Attempt] = []
        errors: list[ProviderError] = []
        skipped: list[str] = []
        over_budget: list[BudgetExceeded] = []
        secrets = self.settings.secrets()
        for index, raw in enumerate(models):
            started = time.monotonic()
            provider, _, model = raw.strip().partition(":")
            try:
                name = parse_model(raw)
                provider, model = name.provider, name.model
                endpoint = self.settings.endpoint(name.provider, raw)
                supports(name, endpoint)
                endpoint.require_key()
                reserved = estimate(str(name))
                await guard.reserve(reserved)
            except BudgetExceeded as exc:
                over_budget.append(exc)
                skipped.append(
                    f"{raw.strip()} was not tried (it could cost up to ${exc.estimate:.2f})"
                )
                continue
            except ProviderError as exc:
                # Nothing was sent: a configuration problem, recorded so operators see it.
                exc.tries = 0
                await self._fail(context, attempts, errors, provider, model, exc, started, secrets)
                continue
            try:
                try:
                    # Overloaded moves on at once; the last model has nowhere to move on to,
                    # so it is retried with backoff there.
                    done = await run(name, endpoint, guard, index == len(models) - 1)
                except ProviderError as exc:
                    await self._fail(
                        context,
                        attempts,
                        errors,
                        provider,
                        model,
                        exc,
                        started,
                        secrets,
                        guard,
                        max(reserved, guard.held_usd),
                    )
                    continue
                row = success_row(provider, model, done, started)
                row, _ = _against_reservation(row, max(reserved, guard.held_usd))
                await self.usage.write(context, row, guard)
            finally:
                # Given back with the usage row's cost (the first request's reservation and any
                # continuation's), or here if no row was written: the cost is always counted,
                # by the holds or by the spend.
                await guard.release()
            attempts.append(Attempt(str(name), row, None, done.tries))
            return done, attempts, row, str(name)
        if not attempts and over_budget:
            raise over_budget[0]
        if len(errors) == 1 and not skipped:
            errors[0].attempts = attempts
            raise errors[0]
        failed = AllModelsFailed(attempts, skipped)
        if any(e.operator_message != e.user_message for e in errors):
            failed.operator_message = " ".join(
                f"{a.model}: {e.operator_message}" for a, e in zip(attempts, errors, strict=False)
            )
        raise failed

    async def _fail(
        self,
        context: UsageContext,
        attempts: list[Attempt],
        errors: list[ProviderError],
        provider: str,
        model: str,
        exc: ProviderError,
        started: float,
        secrets: list[str],
        guard: budgets.BudgetGuard | None = None,
        reserved: Decimal | None = None,
    ) -> None:
        row = failure_row(provider, model, exc, started, secrets)
        if reserved is not None:
            row, above = _against_reservation(row, reserved)
            if above:
                # The author sees it in the status line, whichever sentence is shown.
                exc.user_message = f"{exc.user_message} {above[0].upper()}{above[1:]}."
                exc.phrase = f"{exc.phrase} ({above})"
        await self.usage.write(context, row, guard)
        # A name that is not `provider:model` is shown as it was written.
        label = f"{provider}:{model}" if provider and model else f"{provider}{model}" or "?"
        attempts.append(Attempt(label, row, exc.user_message, exc.tries, exc.phrase))
        errors.append(exc)
        if exc.operator_message != exc.user_message:
            # Authors were told "the operator has been told": this is where.
            log.warning("%s:%s failed: %s", provider, model, exc.operator_message)
        else:
            log.info("%s:%s failed: %s", provider, model, exc.outcome)


def _against_reservation(row: UsageRow, reserved: Decimal) -> tuple[UsageRow, str | None]:
    """`row`, noting when it cost more than was reserved for it (a reply past its cap, a
    provider's own figure above the price table's); the note, or None.

    The budget let the call start on its worst case; a cost above it is real money spent
    past that check, so it is logged for the operator and said to the author."""
    if row.cost_usd <= reserved:
        return row, None
    above = f"it cost ${row.cost_usd:.4f}, above the ${reserved:.4f} reserved for it"
    log.warning("%s:%s %s", row.provider, row.model, above)
    return replace(row, error="; ".join(p for p in (above, row.error) if p)), above

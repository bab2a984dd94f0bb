"""Model calls in flight, remembered in Redis, so a call cut off by a dying worker is still
counted as usage.

The provider layer writes a usage row when a model answers or fails. A worker killed while
a model is writing (SIGKILL, out of memory, a lost machine) writes nothing, yet the provider
bills the request. So before each call of a command job, a marker with the call's estimate
goes to Redis under the job's id (`InFlightCalls`), and it is removed once the call ended
either way. A call cancelled in a live process (the job's time limit, a shutdown) is
recorded at once; markers a dead worker left behind are recorded by the job's next try or
by its giving up (`settle`). Such a row's outcome is `interrupted:estimated` and its cost the
request's most (its prompt and every allowed output token at the model's prices, what the
budget held for it): how much the model wrote before the worker died is unknown, and a
budget must not be undercounted.

Jobs reach this through `TrackedModelClient` (what `Services.model_client` builds), which
reads the running job's markers from a context variable that `bot.jobs.runner` sets.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

from bot.providers import (
    ImageRequest,
    ImageResult,
    ModelClient,
    TextRequest,
    TextResult,
    VideoRequest,
    VideoResult,
)
from bot.providers import budget as budgets
from bot.providers.tokens import estimate_all, estimate_tokens
from bot.usage import UsageContext, UsageRow

log = logging.getLogger(__name__)

# Longer than any job's tries (arq keeps a job's try count for a day).
TTL_SECONDS = 2 * 24 * 3600
OUTCOME = "interrupted:estimated"
RECORD_SECONDS = 10  # for writing a cut-off call's row while the job is being cancelled


class InFlightCalls:
    """The markers of one job's model calls (a Redis hash `liquidbook:inflight:<job id>`)."""

    def __init__(self, redis: Any, job_id: str) -> None:
        self.redis = redis
        self.job_id = job_id
        self.key = f"liquidbook:inflight:{job_id}"

    @asynccontextmanager
    async def track(
        self,
        client: ModelClient,
        context: UsageContext,
        model: str,
        tokens_in: int,
        tokens_out: int,
        cost: Decimal,
    ) -> AsyncIterator[None]:
        """Around one model call: its marker is in Redis while the call runs."""
        marker = uuid.uuid4().hex
        provider, _, name = model.strip().partition(":")
        value = {
            "installation_id": context.installation_id,
            "repository": context.repository,
            "command": context.command,
            "provider": provider,
            "model": name,
            "tokens_in": tokens_in,
            "tokens_out": tokens_out,
            "cost_usd": str(cost),
            "started": time.time(),
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.key, marker, json.dumps(value))
            pipe.expire(self.key, TTL_SECONDS)
            await pipe.execute()
        try:
            yield
        except asyncio.CancelledError:
            # Cut off in a live process: count it now (a failure leaves the marker to the
            # next try), then let the cancellation go on.
            try:
                await asyncio.wait_for(
                    asyncio.shield(self._record(client, marker, value)), RECORD_SECONDS
                )
            except Exception:
                log.warning("job %s: a cut-off model call is left to the next try", self.job_id)
            raise
        # Ended either way: the provider layer has written its row.
        await self.redis.hdel(self.key, marker)

    async def settle(self, client: Callable[[], ModelClient]) -> int:
        """Record every call a dead worker left in flight for this job (then forget them);
        answers how many there were. `client` makes the provider layer's client, only when
        there is something to record."""
        leftovers = await self.redis.hgetall(self.key)
        for marker, raw in leftovers.items():
            await self._record(client(), marker, json.loads(raw))
        return len(leftovers)

    async def _record(
        self, client: ModelClient, marker: str | bytes, value: dict[str, Any]
    ) -> None:
        context = UsageContext(value["installation_id"], value["repository"], value["command"])
        seconds = max(0.0, time.time() - float(value["started"]))
        row = UsageRow(
            provider=str(value["provider"])[:50] or "unknown",
            model=str(value["model"]) or "unknown",
            tokens_in=int(value["tokens_in"]),
            tokens_out=int(value["tokens_out"]),
            cost_usd=Decimal(value["cost_usd"]),
            latency_ms=int(seconds * 1000),
            outcome=OUTCOME,
            error=(
                "the job's worker stopped during this call; counted at the request's most "
                "(its prompt and every allowed output token)"
            ),
        )
        await client.usage.write(context, row)
        await self.redis.hdel(self.key, marker)


# The running job's markers; set by `bot.jobs.runner.command_job` for the job's task.
CURRENT: ContextVar[InFlightCalls | None] = ContextVar("liquidbook_inflight", default=None)


def _estimate(cost: Callable[[], Decimal]) -> Decimal:
    """The call's most, or 0 when it cannot be estimated (no models, a name that does not
    parse: the provider layer then refuses the call itself, and nothing is billed)."""
    try:
        return cost()
    except Exception:
        return Decimal(0)


class TrackedModelClient(ModelClient):
    """The provider layer's client; within a command job, each call leaves its marker."""

    @asynccontextmanager
    async def _tracked(
        self,
        models: Sequence[str],
        context: UsageContext | None,
        tokens_in: int,
        tokens_out: int,
        cost: Decimal,
    ) -> AsyncIterator[None]:
        calls = CURRENT.get()
        if calls is None or not models:
            yield
            return
        async with calls.track(
            self, context or UsageContext(), models[0], tokens_in, tokens_out, cost
        ):
            yield

    async def generate_text(
        self,
        request: TextRequest,
        models: Sequence[str],
        context: UsageContext | None = None,
        monthly_budget_usd: Decimal | None = None,
    ) -> TextResult:
        prompt = estimate_all(
            [request.stable_prefix, request.system, *(m.content for m in request.conversation())]
        )
        cost = _estimate(lambda: budgets.estimate_text(self.prices, models[0], request))
        async with self._tracked(models, context, prompt, request.max_tokens, cost):
            return await super().generate_text(request, models, context, monthly_budget_usd)

    async def generate_image(
        self,
        request: ImageRequest,
        models: Sequence[str],
        context: UsageContext | None = None,
        monthly_budget_usd: Decimal | None = None,
    ) -> ImageResult:
        cost = _estimate(lambda: budgets.estimate_image(self.prices, models[0], request))
        async with self._tracked(models, context, estimate_tokens(request.prompt), 0, cost):
            return await super().generate_image(request, models, context, monthly_budget_usd)

    async def generate_video(
        self,
        request: VideoRequest,
        models: Sequence[str],
        context: UsageContext | None = None,
        monthly_budget_usd: Decimal | None = None,
    ) -> VideoResult:
        cost = _estimate(lambda: budgets.estimate_video(self.prices, models[0], request))
        async with self._tracked(models, context, estimate_tokens(request.prompt), 0, cost):
            return await super().generate_video(request, models, context, monthly_budget_usd)

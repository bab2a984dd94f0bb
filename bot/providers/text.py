"""Text from one model: which provider writes it, and continuations of a cut-off reply.

A text cut off at `max_tokens` is continued up to `request.continuations` times (the partial
answer is sent back with a request to go on, and the parts are joined). If it is still cut
off — or a continuation fails, or would pass the budget — the answer comes back with
`truncated=True`: what was written is paid for and kept. Each continuation is reserved
against the budget before it is sent, like the first request (`BudgetGuard.reserve`).

Each reply is checked against its request (`bot.providers.answers`): a reply past its cap
fails the model (`Runaway`, counted at what was read), and so does a whole text that is
empty, not valid Unicode or refused by the caller's `accept` (`UnusableAnswer`, counted in
full); the chain then moves on to the next model.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal

from bot.providers import answers
from bot.providers import budget as budgets
from bot.providers.accounting import Done, price_text
from bot.providers.anthropic import Anthropic
from bot.providers.errors import (
    BudgetExceeded,
    NotSupported,
    ProviderError,
    Runaway,
    UnusableAnswer,
)
from bot.providers.gate import Gate
from bot.providers.names import ModelName
from bot.providers.openai_compat import OpenAICompatible
from bot.providers.prices import PriceTable
from bot.providers.protocols import TextProvider
from bot.providers.settings import Endpoint
from bot.providers.types import Completion, Message, TextRequest
from bot.visible import blank

log = logging.getLogger(__name__)

CONTINUE_PROMPT = (
    "Your previous reply was cut off by the length limit. Continue exactly where it stopped, "
    "without repeating anything and without any preface."
)


class TextModels:
    """The providers that write text, and one model's whole answer, continuations included."""

    def __init__(
        self,
        gate: Gate,
        prices: PriceTable,
        stream_min_tokens: int,
        openai_compat: OpenAICompatible,
        anthropic: Anthropic,
    ) -> None:
        self.gate = gate
        self.prices = prices
        self.stream_min_tokens = stream_min_tokens
        self.openai_compat = openai_compat
        self.anthropic = anthropic

    def provider(self, name: ModelName, endpoint: Endpoint) -> TextProvider:
        """The provider module that speaks to `endpoint`; `NotSupported` if none writes text."""
        if endpoint.kind == "openai_compat":
            return self.openai_compat
        if endpoint.kind == "anthropic":
            return self.anthropic
        raise NotSupported(str(name), "write text")

    async def complete(
        self,
        name: ModelName,
        endpoint: Endpoint,
        request: TextRequest,
        guard: budgets.BudgetGuard,
        last: bool = False,
    ) -> Done[Completion]:
        """The model's answer, its parts joined, with what all its requests used and cost.

        Raises the first request's `ProviderError`; a failed continuation only ends the
        answer early (truncated). `last`: the chain's last model, whose "overloaded" is
        retried (with nothing to move on to).
        """
        provider = self.provider(name, endpoint)
        stream = (
            request.stream
            if request.stream is not None
            else request.max_tokens >= self.stream_min_tokens
        )
        base = request.conversation()
        parts: list[str] = []
        total = Done(Completion("", "stop", False), 0, 0, 0, Decimal(0), False, 0)

        def broke_off(exc: ProviderError) -> None:
            # A request that failed after its 200 (a stream that broke off, a reply past its
            # cap) was billed for what the provider read and wrote: count it, whatever
            # happens next.
            lost = exc.partial
            if lost is None:
                return
            cost, unpriced = price_text(self.prices, str(name), lost)
            total.tokens_in += lost.tokens_in
            total.tokens_out += lost.tokens_out
            total.cost += cost
            total.unpriced = total.unpriced or unpriced
            total.estimated = total.estimated or lost.usage_estimated
            if isinstance(exc, Runaway):
                total.runaways += 1
            else:
                total.dropped += 1

        for round_ in range(request.continuations + 1):
            messages = base
            if parts:
                messages = [
                    *base,
                    Message("assistant", "".join(parts)),
                    Message("user", CONTINUE_PROMPT),
                ]

            async def once(messages: list[Message] = messages) -> Completion:
                completion = await provider.complete(
                    endpoint, name.model, request, messages, stream
                )
                past = answers.past_the_cap(completion, request.max_tokens)
                if past is not None:
                    # Whole but past the cap (a body read to its end): counted as reported.
                    raise _runaway(name, request.max_tokens, past, completion)
                return completion

            try:
                completion, tries = await self.gate.send(
                    endpoint, once, retry_overloaded=last, on_failure=broke_off
                )
            except ProviderError as exc:
                if not parts:
                    if total.dropped or total.runaways:
                        total.tries = exc.tries
                        exc.failed_usage = total
                    raise
                # The first part is paid for and kept: hand it back as truncated.
                total.tries += exc.tries
                log.info("continuation of %s failed: %s", name, exc.outcome)
                break
            cost, unpriced = price_text(self.prices, str(name), completion)
            total.tries += tries
            total.tokens_in += completion.tokens_in
            total.tokens_out += completion.tokens_out
            total.cached_tokens += completion.cached_tokens
            total.cost += cost
            total.unpriced = total.unpriced or unpriced
            total.estimated = total.estimated or completion.usage_estimated
            total.continuations = round_
            parts.append(completion.text)
            total.value = completion
            total.truncated = completion.truncated
            if not completion.truncated or round_ == request.continuations:
                break
            more = [*base, Message("assistant", "".join(parts)), Message("user", CONTINUE_PROMPT)]
            estimate = budgets.estimate_text(self.prices, str(name), _with_messages(request, more))
            try:
                # Held like the first request's reservation (which still covers what the
                # parts so far cost) until the chain has written the model's usage row.
                await guard.reserve(estimate, wait=False)
            except BudgetExceeded:
                log.info("continuation of %s would pass the budget", name)
                break
            except Exception:
                # The parts so far are paid for: keep them (truncated) and let the chain
                # record them, rather than lose them to a database or Redis hiccup.
                log.exception("could not reserve a continuation of %s", name)
                break
        text = answers.well_formed("".join(parts))
        why = _unusable(text, request)
        if why is not None:
            # A whole answer, paid for, that is still not one: the model failed.
            failure = UnusableAnswer(str(name), why)
            failure.tries = total.tries
            failure.failed_usage = total
            raise failure
        assert text is not None
        total.value = Completion(
            text=text,
            finish_reason=total.value.finish_reason,
            truncated=total.truncated,
        )
        return total


def _unusable(text: str | None, request: TextRequest) -> str | None:
    """Why a model's whole text is not an answer to `request`, or None."""
    if text is None:
        return "answered with text that is not valid Unicode (a lone surrogate)"
    if blank(text):
        return "answered with an empty text"
    return request.accept(text) if request.accept is not None else None


def _runaway(name: ModelName, max_tokens: int, why: str, completion: Completion) -> Runaway:
    """The error for a whole reply past its cap, counted at no more than the cap allows:
    a provider cannot rightly bill past the limit the request set, so a larger figure
    (reported, or estimated from an oversized text) is noted, not spent from the budget."""
    if completion.usage_estimated:
        counted = min(completion.tokens_out, answers.text_limit(max_tokens))
    else:
        counted = min(completion.tokens_out, answers.output_limit(max_tokens))
    if counted < completion.tokens_out:
        why = f"{why}; counted at {counted:,} output tokens"
    error = Runaway(str(name), max_tokens, why)
    error.partial = replace(
        completion,
        tokens_out=counted,
        reported_cost=None if counted < completion.tokens_out else completion.reported_cost,
    )
    return error


def _with_messages(request: TextRequest, messages: list[Message]) -> TextRequest:
    return replace(request, prompt=None, messages=messages)

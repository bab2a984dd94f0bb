"""Estimates before spending, and commands kept waiting for `/confirm` in Redis.

A command that calls a model states its cost before it starts ("about $0.42, at most
$1.10"). When the worst case is over the book's `budget.confirm_above_usd` (or the server's
`LIQUIDBOOK_CONFIRM_ABOVE_USD`, whatever the book says) the job does not run: its arguments
wait in Redis under the issue (`liquidbook:pending:{owner/repo}:{issue}`, a hash of job id →
JSON), and the job ends. No worker sleeps on it. `/confirm` on the issue, from someone with the
role, queues every waiting job again with `confirmed` set; a waiting job not confirmed within
24 hours is dropped by a deferred `expire_pending` job, which says so in its status comment.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.book.digest import DIGEST_MAX_TOKENS
from bot.book.model import Book
from bot.book.prompts import WINDOW
from bot.providers.prices import default_table
from bot.providers.tokens import estimate_tokens

PENDING_SECONDS = 24 * 3600
# What a fix-up request adds to its first prompt besides the first answer (the problems).
FOLLOW_UP_TOKENS = 2000
# What an image sent to a text model (a figure's alt text) may count as prompt tokens.
IMAGE_PROMPT_TOKENS = 2000
# A chapter's typical answer, for the "about" figure (the worst case allows every token).
TYPICAL_ANSWER_TOKENS = 5000
PROMPT_OVERHEAD_TOKENS = 3000


def pending_key(full_name: str, issue: int) -> str:
    return f"liquidbook:pending:{full_name}:{issue}"


def money(value: Decimal) -> str:
    return f"${value:.2f}" if value >= Decimal("0.01") or value == 0 else f"${value:.4f}"


def chapters_estimate(
    model: str, book: Book, chapters: list[Any], max_tokens: int
) -> tuple[Decimal, Decimal]:
    """(typical, worst case) in USD of writing `chapters`: per chapter one call with its
    prompt (the outline, the chapter, the overhead of instructions and neighbours), and at
    worst a second call (the repair of a failed build) with the first answer in its prompt.
    The worst case also counts a digest of every written chapter near one of them
    (`bot.jobs.continuity`: asked of the model unless cached, which only Redis knows)."""
    prices = default_table()
    price = prices.lookup(model) or prices.ceiling(model)
    if price is None:
        return Decimal(0), Decimal(0)
    outline = sum(estimate_tokens(f"{c.title} {c.summary}") for c in book.toc)
    typical = worst = Decimal(0)
    for chapter in chapters:
        prompt = PROMPT_OVERHEAD_TOKENS + outline + estimate_tokens(chapter.body or "")
        typical += price.max_text_cost(prompt, TYPICAL_ANSWER_TOKENS)
        worst += price.max_text_cost(prompt, max_tokens)
        worst += price.max_text_cost(prompt + max_tokens, max_tokens)
    numbers = {chapter.number for chapter in chapters}
    for near in book.toc:
        if (
            near.is_markdown
            and not near.is_stub
            and (near.body or "").strip()
            and any(0 < abs(near.number - n) <= WINDOW for n in numbers)
        ):
            digest = PROMPT_OVERHEAD_TOKENS + estimate_tokens(near.body or "")
            worst += price.max_text_cost(digest, DIGEST_MAX_TOKENS)
    return typical, worst


@dataclass(frozen=True)
class Estimate:
    """What a command's model calls cost: about `typical`, at most `worst` (USD). Estimates
    add up (`a + b`, `sum(..., Estimate())`); the constructors price one kind of call."""

    typical: Decimal = Decimal(0)
    worst: Decimal = Decimal(0)

    def __add__(self, other: Estimate) -> Estimate:
        return Estimate(self.typical + other.typical, self.worst + other.worst)

    def __mul__(self, times: int) -> Estimate:
        return Estimate(self.typical * times, self.worst * times)

    @classmethod
    def text(cls, model: str, request: Any, typical_answer_tokens: int) -> Estimate:
        """One text request (`bot.providers.TextRequest`)."""
        return cls(*request_estimate(model, request, typical_answer_tokens))

    @classmethod
    def with_fix_up(
        cls, model: str, request: Any, typical_answer_tokens: int, fix_ups: int = 1
    ) -> Estimate:
        """One text request and, at worst, `fix_ups` more with the first answer and the
        problems found in it (a build check's, a parser's) added to its prompt."""
        first = cls.text(model, request, typical_answer_tokens)
        extra = prompt_cost(model, request.max_tokens + FOLLOW_UP_TOKENS)
        return Estimate(first.typical, first.worst + (first.worst + extra) * fix_ups)

    @classmethod
    def image(cls, model: str, request: Any) -> Estimate:
        """One image (`bot.providers.ImageRequest`): its price is known before the call."""
        from bot.providers.budget import estimate_image

        cost = estimate_image(default_table(), model, request)
        return cls(cost, cost)

    @classmethod
    def video(cls, model: str, request: Any) -> Estimate:
        """One video clip (`bot.providers.VideoRequest`), priced by its seconds."""
        from bot.providers.budget import estimate_video

        cost = estimate_video(default_table(), model, request)
        return cls(cost, cost)

    @classmethod
    def total(cls, parts: Iterable[Estimate]) -> Estimate:
        return sum(parts, cls())


def prompt_cost(model: str, tokens: int) -> Decimal:
    """What `tokens` more of prompt cost at most with `model`."""
    prices = default_table()
    price = prices.lookup(model) or prices.ceiling(model)
    return price.max_text_cost(tokens, 0) if price is not None else Decimal(0)


# What a job hands down to the code that builds its prompts: `ask(config, estimate)`, the job's
# `ask_first` with its function and arguments bound (`functools.partial`).
Ask = Callable[[Any, "Estimate"], Awaitable[None]]


class AwaitingConfirmation(Exception):
    """Raised by `ask_first` when the command waits for `/confirm`: its status comment says
    so already, and `bot.jobs.runner.command_job` ends the job quietly."""


ESTIMATE_PREFIX = "💰 Estimated cost:"


def estimate_line(typical: Decimal, worst: Decimal) -> str:
    return f"{ESTIMATE_PREFIX} about {money(typical)}, at most {money(worst)}."


def threshold(book_value: float | None, server_value: float | None) -> Decimal | None:
    """The lower of the book's and the server's confirmation thresholds (None: no limit)."""
    values = [Decimal(str(v)) for v in (book_value, server_value) if v is not None]
    return min(values) if values else None


async def hold(
    services: Any,
    function: str,
    args: list[Any],
    job_id: str,
    request: dict[str, Any],
    status_ref: dict[str, Any],
    worst: Decimal,
) -> None:
    """Keep a job waiting for `/confirm`, and schedule its expiry note."""
    key = pending_key(request["repository"], request["issue_number"])
    entry = {"function": function, "args": args, "worst": str(worst)}
    await services.redis.hset(key, job_id, json.dumps(entry))
    await services.redis.expire(key, PENDING_SECONDS + 600)
    await services.queue.enqueue(
        "expire_pending",
        request,
        job_id,
        status_ref,
        job_id=f"expire:{job_id}",
        defer_seconds=PENDING_SECONDS,
    )


async def take_all(redis: Any, full_name: str, issue: int) -> dict[str, dict[str, Any]]:
    """Every job waiting on the issue, removed (atomically: a second `/confirm` finds none)."""
    key = pending_key(full_name, issue)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hgetall(key)
        pipe.delete(key)
        entries, _ = await pipe.execute()
    found = {}
    for job_id, raw in entries.items():
        name = job_id.decode() if isinstance(job_id, bytes) else str(job_id)
        try:
            found[name] = json.loads(raw)
        except ValueError:
            continue
    return found


async def confirm(services: Any, request: dict[str, Any]) -> str:
    """`/confirm`: queue every job waiting on this issue; the answer's text."""
    waiting = await take_all(services.redis, request["repository"], request["issue_number"])
    if not waiting:
        return "ℹ️ Nothing on this issue is waiting for confirmation."
    total = Decimal(0)
    for job_id, entry in waiting.items():
        args = entry["args"]
        args[0] = {**args[0], "confirmed": True, "confirmed_by": request["author"]}
        await services.queue.enqueue(entry["function"], *args, job_id=f"{job_id}:confirmed")
        from bot.jobs.cancel import remember_job

        await remember_job(services.redis, request, f"{job_id}:confirmed", args[-1])
        total += Decimal(entry.get("worst") or 0)
    count = len(waiting)
    jobs = "1 command" if count == 1 else f"{count} commands"
    return (
        f"✅ Confirmed {jobs} (at most {money(total)} in all); each goes on in its status comment."
    )


async def expire_pending(
    ctx: dict[str, Any], request: dict[str, Any], job_id: str, status_ref: dict[str, Any]
) -> str:
    """A waiting job not confirmed within 24 hours: drop it and say so."""
    services = ctx["services"]
    key = pending_key(request["repository"], request["issue_number"])
    if not await services.redis.hdel(key, job_id):
        return "already confirmed"
    if services.github is None:
        return "expired"
    from bot.jobs.runner import status_comment

    gh = services.github.installation(request["installation_id"])
    status = status_comment(gh, request["repository"], status_ref)
    await status.finish(
        "⌛ Not confirmed within 24 hours, so nothing was done. Comment the command again to "
        "run it."
    )
    return "expired"


def request_estimate(
    model: str, request: Any, typical_answer_tokens: int
) -> tuple[Decimal, Decimal]:
    """(typical, worst case) in USD of one model request: the worst allows every token."""
    from bot.providers.budget import estimate_text

    prices = default_table()
    price = prices.lookup(model) or prices.ceiling(model)
    if price is None:
        return Decimal(0), Decimal(0)
    worst = estimate_text(prices, model, request)
    prompt = estimate_tokens((request.stable_prefix or "") + (request.system or "")) + sum(
        estimate_tokens(m.content) for m in request.conversation()
    )
    return min(worst, price.max_text_cost(prompt, typical_answer_tokens)), worst


async def gate(
    services: Any,
    ctx: dict[str, Any],
    function: str,
    args: list[Any],
    status: Any,
    book_limit: float | None,
    typical: Decimal,
    worst: Decimal,
) -> bool:
    """State the estimate in the job's status comment; when its worst case is over the
    confirmation threshold (and the request is not confirmed yet), keep it waiting and end
    the job's status with the way to confirm. True: the job must stop here."""
    request, status_ref = args[0], args[-1]
    # Once per status comment (a job that estimates again, on a retry, replaces its line).
    footer = "\n".join(
        line for line in status.footer.split("\n") if not line.startswith(ESTIMATE_PREFIX)
    ).strip()
    status.footer = f"{estimate_line(typical, worst)}\n\n{footer}".strip()
    limit = threshold(book_limit, services.settings.liquidbook_confirm_above_usd)
    if limit is None or worst <= limit or request.get("confirmed"):
        return False
    job_id = str(ctx.get("job_id") or f"cmd:{request['repository']}:{request['comment_id']}")
    await hold(services, function, args, job_id, request, status_ref, worst)
    if status_ref.get("thread"):
        # A reply in a review thread: `/confirm` goes in the pull request's conversation.
        how = "comments `/confirm` in this pull request's conversation"
        box = ""
    else:
        how = "comments `/confirm` here (or ticks the box below)"
        box = "\n\n- [ ] confirm <!-- lb:confirm -->"
    await status.finish(
        f"⏸️ Waiting for confirmation: at most {money(worst)} is over this book's "
        f"limit of {money(limit)} (`budget.confirm_above_usd`). Someone with the role "
        f"{how} to run it; `/cancel` drops it. Without either, nothing is done and the "
        f"request expires in 24 hours.{box}"
    )
    return True


async def ask_first(
    ctx: dict[str, Any],
    function: str,
    args: Sequence[Any],
    status: Any,
    config: Any,
    estimate: Estimate,
) -> None:
    """The one call a command job makes before its first model call: the estimate goes in
    its status comment, and a worst case over the confirmation threshold (the book's
    `budget.confirm_above_usd` or the server's `LIQUIDBOOK_CONFIRM_ABOVE_USD`, the lower)
    keeps the job (`function` with `args`, as queued) waiting for `/confirm`, raising
    `AwaitingConfirmation`. For example:

        await pending.ask_first(ctx, "generate_video", [request, command, status_ref],
                                status, config, pending.Estimate.video(model, asked))
    """
    book_limit = config.budget.confirm_above_usd if config is not None else None
    held = await gate(
        ctx["services"],
        ctx,
        function,
        list(args),
        status,
        book_limit,
        estimate.typical,
        estimate.worst,
    )
    if held:
        raise AwaitingConfirmation(function)

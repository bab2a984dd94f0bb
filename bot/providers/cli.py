"""`liquidbook generate`: call a model from the shell, to check keys, names and fallbacks.

The text goes to stdout (so it can be piped); one usage line per model tried goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from bot.providers.anthropic import takes_temperature
from bot.providers.chain import ModelClient
from bot.providers.errors import ProviderError
from bot.providers.settings import ProviderSettings
from bot.providers.types import Attempt, TextRequest
from bot.usage import UsageContext

EPILOG = """\
Keys and endpoints come from the environment (OPENAI_API_KEY, OPENAI_BASE_URL,
ANTHROPIC_API_KEY, OPENROUTER_API_KEY, TOGETHER_API_KEY, <NAME>_BASE_URL for any
OpenAI-compatible server, ...).

Works without Redis and without a database: then requests-per-minute limits are not shared
with other processes (this process limits itself) and no usage rows are written. With
REDIS_URL set, the limits are shared with the running app; with DATABASE_URL set (a migrated
database), each model tried gets a usage row with command "cli generate". No budget is
checked: the call belongs to no installation.

Exit status: 0 with a whole answer, 2 when it was cut off at --max-tokens (printed anyway),
1 when no model answered (each attempt's usage line, then one sentence saying why).
"""


# The exit status when the answer came back cut off at the length limit (1: no answer).
TRUNCATED = 2


def register(subparsers: Any) -> None:
    """Add the `generate` subcommand to `liquidbook`'s parser."""
    parser = subparsers.add_parser(
        "generate",
        help="call a model and print its answer and usage",
        description="Call a model (with fallbacks) and print the answer and each attempt's usage.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("prompt", help="the prompt ('-' reads it from stdin)")
    parser.add_argument("--model", required=True, help="provider:model, e.g. openai:gpt-4.1")
    parser.add_argument(
        "--fallback",
        action="append",
        default=[],
        metavar="MODEL",
        help="a model to try when the previous ones fail (repeatable)",
    )
    parser.add_argument("--system", help="the system prompt")
    parser.add_argument("--max-tokens", type=int, default=1024, help="output limit (1024)")
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument(
        "--continuations",
        type=int,
        default=0,
        help="times to continue an answer cut off at --max-tokens (0)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of `liquidbook generate`; returns the exit status."""
    try:
        settings = ProviderSettings()
    except ValidationError as exc:
        name = str(exc.errors()[0]["loc"][0]).upper() if exc.errors()[0]["loc"] else "a setting"
        print(
            f"The provider setting {name} is invalid: fix it in the environment.", file=sys.stderr
        )
        return 1
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if args.max_tokens < 1:
        print("--max-tokens must be at least 1.", file=sys.stderr)
        return 1
    request = TextRequest(
        prompt=prompt,
        system=args.system,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        continuations=max(0, args.continuations),
    )
    models = [args.model, *args.fallback]
    if args.temperature is not None:
        for name in models:
            provider, _, model = name.strip().partition(":")
            if provider == "anthropic" and not takes_temperature(model, settings.anthropic_version):
                print(
                    f"{name.strip()} takes no temperature (Anthropic removed sampling "
                    "parameters for it): it is sent without one.",
                    file=sys.stderr,
                )
    # The chain logs each failure for an operator reading the server's log; here the operator
    # is at the shell and gets the same words once, below, after the usage lines.
    logging.getLogger("bot.providers.chain").addHandler(logging.NullHandler())
    logging.getLogger("bot.providers.chain").propagate = False
    try:
        return asyncio.run(_generate(settings, request, models))
    except ProviderError as exc:
        # What each model tried used, as on success, then the one sentence.
        for attempt in exc.attempts:
            print(usage_line(attempt), file=sys.stderr)
        print(exc.operator_message, file=sys.stderr)  # the operator is at the shell
        return 1


async def _generate(settings: ProviderSettings, request: TextRequest, models: list[str]) -> int:
    redis = None
    db = None
    if os.environ.get("REDIS_URL"):
        from redis.asyncio import Redis

        redis = Redis.from_url(os.environ["REDIS_URL"])
    if os.environ.get("DATABASE_URL"):
        from bot.db import Database

        db = Database(os.environ["DATABASE_URL"])
    try:
        async with ModelClient(settings, redis, db) as client:
            # On failure the error's one sentence already names what each model did.
            result = await client.generate_text(
                request, models, context=UsageContext(command="cli generate")
            )
    finally:
        if redis is not None:
            await redis.aclose()
        if db is not None:
            await db.close()
    print(result.text)
    for attempt in result.attempts:
        print(usage_line(attempt), file=sys.stderr)
    if result.truncated:
        print(
            f"The answer was cut off at {request.max_tokens} tokens: raise --max-tokens.",
            file=sys.stderr,
        )
        return TRUNCATED
    return 0


def usage_line(attempt: Attempt) -> str:
    """One attempt as `key=value` pairs, easy to read and to grep."""
    u = attempt.usage
    cost = u.cost_usd.quantize(Decimal("0.000001"))
    return (
        f"usage provider={u.provider} model={u.model} tokens_in={u.tokens_in} "
        f"tokens_out={u.tokens_out} cached={u.cached_tokens} cost_usd={cost} "
        f"latency_ms={u.latency_ms} requests={attempt.tries} outcome={u.outcome}"
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m bot.providers.cli generate ...` (the same as `liquidbook generate`)."""
    parser = argparse.ArgumentParser(prog="liquidbook")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

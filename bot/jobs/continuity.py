"""Continuity memory: what a chapter prompt knows of the chapters near it, as written.

Digests (a chapter's written summary and key terms, `bot.book.digest`) are derived from the
text on the default branch, asked of the model only when a prompt needs one and that text
changed: they are cached in Redis by the blob sha of the chapter's title and body (the same
text, the same digest, whichever branch or front matter it sits in), and the call is
recorded as usage of the job that needed it. Nothing is written into another chapter's
PR: a chapter's own PR carries its summary (`written_summary`), read from the text alone.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

from bot.book.chapters import Chapter
from bot.book.digest import DIGEST_MAX_TOKENS, Digest, digest_prompt, extract_digest, parse_digest
from bot.book.model import Book
from bot.book.prompts import WINDOW
from bot.jobs.cancel import together
from bot.jobs.proposal import text_request
from bot.jobs.unchanged import blob_sha
from bot.providers import ProviderError
from bot.usage import UsageContext

log = logging.getLogger(__name__)

TTL_SECONDS = 90 * 24 * 3600
_KEY = "liquidbook:digest:v1:"


def digest_key(chapter: Chapter) -> str:
    """The cache key of a chapter's digest: its text's blob sha."""
    return _KEY + blob_sha(f"{chapter.title}\n{chapter.body.strip()}\n")


def written_summary(body: str, planned: str) -> str:
    """The summary a chapter's own PR writes in its front matter: read from the text as
    written (no model call, so the PR holds what the text says), else the planned one."""
    return extract_digest(body).summary or planned


class ChapterMemory:
    """Digests of chapters, from the Redis cache or the model, for one job's prompts."""

    def __init__(
        self,
        redis: Any,
        client: Any,
        models: list[str],
        context: UsageContext,
        budget: Any,
    ) -> None:
        self.redis = redis
        self.client = client
        self.models = models
        self.context = context
        self.budget = budget
        self.results: list[Any] = []  # the model calls made, for the job's usage line

    async def near(self, book: Book, chapter: Chapter) -> dict[str, Digest]:
        """Digests of the written chapters within `WINDOW` of `chapter` (not itself)."""
        written = [
            other
            for other in book.toc
            if 0 < abs(other.number - chapter.number) <= WINDOW
            and other.is_markdown
            and not other.is_stub
            and other.body.strip()
        ]
        digests = await together(*(self.digest(other) for other in written))
        return {other.path: digest for other, digest in zip(written, digests, strict=True)}

    async def digest(self, chapter: Chapter) -> Digest:
        """The chapter's digest: cached, else asked of the model (and cached), else read
        from the text when no model answers (not cached: a model may answer next time)."""
        key = digest_key(chapter)
        cached = await self.redis.get(key)
        if cached is not None:
            try:
                data = json.loads(cached)
                return Digest(str(data["summary"]), [str(t) for t in data["terms"]])
            except (ValueError, KeyError, TypeError):
                log.warning("unreadable digest cached under %s; asking again", key)

        def readable(answer: str) -> str | None:
            return None if parse_digest(answer) else "answered with no summary as JSON"

        request = replace(
            text_request(digest_prompt(chapter.title, chapter.body), DIGEST_MAX_TOKENS),
            accept=readable,
        )
        try:
            result = await self.client.generate_text(
                request,
                models=self.models,
                context=self.context,
                monthly_budget_usd=self.budget,
            )
        except ProviderError as exc:
            log.info("no digest of %s from the models (%s); read from the text", chapter.path, exc)
            return extract_digest(chapter.body)
        self.results.append(result)
        digest = parse_digest(result.text) or extract_digest(chapter.body)
        value = json.dumps({"summary": digest.summary, "terms": digest.terms})
        await self.redis.set(key, value, ex=TTL_SECONDS)
        return digest

"""The standing glossary PR: after merges, add the key terms of the book's chapters to
`glossary.md` on branch `liquidbook/glossary`.

Chapter PRs run in parallel and never touch the glossary (two open PRs changing one shared
file would conflict): this job alone writes it, after a merge into the default branch. Merges
close together make one run (`schedule_glossary`: one pending run per repository, deferred
by `LIQUIDBOOK_GLOSSARY_DELAY_SECONDS`). A run reads the book on the default branch, takes
each written chapter's key terms from its digest (`bot.jobs.continuity`: cached by the
text's blob sha, asked of the model only for changed text, recorded as usage of the command
`glossary`), has the model define the new ones in one call (a term it leaves out, or all of
them when no model answers, is defined by the first sentence of the chapters naming it), and
merges them with the entries already there (`bot.book.glossary.merge`: a person's entries
are never dropped). The change goes through the same path as every job's
(`bot.jobs.proposal.propose`: path guard, build check, one commit, the PR updated in place
while open); a run that adds nothing commits nothing.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from bot.book.glossary import (
    GLOSSARY_PATH,
    clean_term,
    definition_from_text,
    definitions_prompt,
    merge,
    parse_definitions,
    read_glossary,
    render,
)
from bot.book_reader import checkout
from bot.jobs.continuity import ChapterMemory
from bot.jobs.proposal import budget_for, models_for, propose, text_request
from bot.providers import ProviderError
from bot.pull_request import BranchEdited, shorten
from bot.services import Services
from bot.usage import UsageContext

log = logging.getLogger(__name__)

GLOSSARY_BRANCH = "liquidbook/glossary"
_PENDING = "liquidbook:glossary:pending:"
_LOCK = "liquidbook:glossary:lock:"
TERMS_LISTED = 60  # new terms named in the PR body
MAX_TERMS_ASKED = 80  # new terms defined by the model in one call; the rest by the text
DEFINITIONS_MAX_TOKENS = 4000


async def schedule_glossary(queue: Any, redis: Any, request: dict[str, Any], delay: int) -> bool:
    """Queue one glossary run for the repository unless one is already waiting: merges
    within `delay` seconds of each other make one run. The run clears the mark when it
    starts, so a merge during a run queues the next one (nothing merged is ever missed)."""
    pending = _PENDING + request["repository"]
    if not await redis.set(pending, request["merged_pr"], nx=True, ex=delay + 600):
        return False
    return bool(
        await queue.enqueue(
            "update_glossary",
            request,
            job_id=f"glossary:{request['repository']}:{request['merged_pr']}",
            defer_seconds=delay,
        )
    )


async def update_glossary(ctx: dict[str, Any], request: dict[str, Any]) -> str:
    """Write the chapters' new key terms into the standing glossary PR."""
    services: Services = ctx["services"]
    if services.github is None:
        return "skipped: app not configured"
    full_name = request["repository"]
    await services.redis.delete(_PENDING + full_name)
    timeout = services.settings.liquidbook_job_timeout
    async with services.redis.lock(_LOCK + full_name, timeout=timeout, blocking_timeout=timeout):
        try:
            return await _update(services, request)
        except BranchEdited:
            log.info(
                "glossary of %s: someone pushed to %s; left as it is", full_name, GLOSSARY_BRANCH
            )
            return "branch edited"


async def _definitions(memory: ChapterMemory, found: dict[str, str]) -> dict[str, str]:
    """Definitions of the new terms from the model, in one call (usage of the command
    `glossary`); a term it leaves out, or every term when no model answers, keeps the
    sentence of the book that names it."""
    terms = sorted(found, key=str.casefold)[:MAX_TERMS_ASKED]

    def readable(answer: str) -> str | None:
        return None if parse_definitions(answer) else "answered with no definitions as JSON"

    request = replace(
        text_request(definitions_prompt(terms, found), DEFINITIONS_MAX_TOKENS), accept=readable
    )
    try:
        result = await memory.client.generate_text(
            request,
            models=memory.models,
            context=memory.context,
            monthly_budget_usd=memory.budget,
        )
    except ProviderError as exc:
        log.info("no glossary definitions from the models (%s); the book's sentences kept", exc)
        return {}
    answered = {k.casefold(): v for k, v in (parse_definitions(result.text) or {}).items()}
    return {term: answered[term.casefold()] for term in terms if term.casefold() in answered}


async def _update(services: Services, request: dict[str, Any]) -> str:
    gh = services.github.installation(request["installation_id"])  # type: ignore[union-attr]
    full_name = request["repository"]
    with TemporaryDirectory(prefix="liquidbook-") as tmp:
        co = await checkout(gh, full_name, request["default_branch"], Path(tmp))
        book = co.book
        if GLOSSARY_PATH not in book.back_files:
            # The page is not in the toc (a book set up before the glossary, no outline
            # since): `{term}` links could not reach it. The next outline PR adds it.
            return "no glossary page in the toc"
        config = book.config
        memory = ChapterMemory(
            services.redis,
            services.model_client(),
            models_for(config, services.settings),
            UsageContext(request["installation_id"], full_name, "glossary"),
            budget_for(config, services.settings),
        )
        written = [c for c in book.toc if c.is_markdown and not c.is_stub and c.body.strip()]
        bodies = [c.body for c in written]
        file = co.directory / GLOSSARY_PATH
        current = file.read_text("utf-8") if file.is_file() and not file.is_symlink() else None
        known = {t.casefold() for t in read_glossary(current).terms()}
        terms: dict[str, str] = {}
        for chapter in written:
            for raw in (await memory.digest(chapter)).terms:
                term = clean_term(raw)
                if term and term.casefold() not in known:
                    terms.setdefault(term, definition_from_text(term, bodies))
        if terms:
            terms.update(await _definitions(memory, terms))
        glossary, added = merge(read_glossary(current), terms)
        if not added:
            return "no new terms"
        listed = "\n".join(f"- {shorten(t, 80)}" for t in added[:TERMS_LISTED])
        more = f"\n- … and {len(added) - TERMS_LISTED} more" if len(added) > TERMS_LISTED else ""
        proposal = await propose(
            gh,
            request,
            co,
            {GLOSSARY_PATH: render(glossary)},
            branch=GLOSSARY_BRANCH,
            title=f"Glossary: {len(added)} new term{'s' if len(added) != 1 else ''}",
            body=(
                "Adds the key terms of the merged chapters to the book's glossary, each with "
                "a one-line definition. Entries already in "
                "`glossary.md` stay as they are; edit the definitions right in this PR. "
                f"Chapters link a term with {{term}}`name`.\n\nNew terms:\n\n{listed}{more}"
            ),
            details=f"Files: `{GLOSSARY_PATH}`",
            redis=services.redis,
        )
    if proposal.pull_request is None or proposal.unchanged:
        return "unchanged"
    return f"pr #{proposal.pull_request.number}"

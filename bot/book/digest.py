"""What other chapters need to know of a chapter as written: its summary and key terms.

A chapter prompt shows the chapters near it by what they actually say, not by the summaries
planned before anything was written. A digest is asked of the model once per version of a
chapter's text (the job caches it by the file's blob sha, see `bot.jobs.continuity`); when
no model answers, `extract_digest` reads one from the text itself, so a prompt never lacks
it. Digests are plain text: they go into prompts and front matter, never as MyST.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from bot.book.prompts import Prompt

MAX_SUMMARY = 400
MAX_TERMS = 8
# A chapter's opening sentences say what it is about; later ones drift into its detail (and a
# summary that echoes text written from the summary would never settle).
MAX_SENTENCES = 2
MAX_TEXT = 24_000  # characters of a chapter a digest request carries
DIGEST_MAX_TOKENS = 600

_FENCE = re.compile(r"^(`{3,}|~{3,}|:{3,}).*?^\1[ \t]*$", re.M | re.S)
_MATH = re.compile(r"^\$\$.*?^\$\$[ \t]*$", re.M | re.S)
_BOLD = re.compile(r"\*\*([^*\n]{2,60})\*\*")
_TERM_ROLE = re.compile(r"\{term\}`([^`<\n]{2,60})(?:<[^>`]*>)?`")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


@dataclass(frozen=True)
class Digest:
    """A chapter as written, for the prompts of other chapters."""

    summary: str
    terms: list[str] = field(default_factory=list)


def plain(text: str) -> str:
    """Text safe as a front-matter summary or a prompt line: no MyST syntax, one line."""
    text = re.sub(r"\{[a-z:]+\}`([^`<]*)(?:<[^>`]*>)?`", r"\1", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[`*_{}\[\]<>|#@$\\]", "", text)
    return " ".join(text.split())


def extract_digest(body: str) -> Digest:
    """A digest read from the text alone: its first two sentences of prose, and the terms
    it sets in bold or links to the glossary."""
    prose = _MATH.sub("", _FENCE.sub("", body))
    paragraphs = [
        " ".join(block.split())
        for block in re.split(r"\n\s*\n", prose)
        if block.strip() and not block.lstrip().startswith(("#", "%", "(", "-", "*", "|", ">", "<"))
    ]
    sentences = [s for p in paragraphs for s in _SENTENCE.split(plain(p)) if len(s) > 20]
    summary = ""
    for sentence in sentences[:MAX_SENTENCES]:
        if len(summary) + len(sentence) > MAX_SUMMARY:
            break
        summary = f"{summary} {sentence}".strip()
    terms = [plain(t) for t in [*_TERM_ROLE.findall(body), *_BOLD.findall(body)]]
    return Digest(summary or (sentences[0][:MAX_SUMMARY] if sentences else ""), _distinct(terms))


def digest_prompt(title: str, body: str) -> Prompt:
    """Ask for a chapter's digest as JSON."""
    system = (
        "You summarise chapters of a book for the author's other chapters. Answer with one "
        'JSON object and nothing else: {"summary": "two or three sentences on what the '
        'chapter actually says", "terms": ["the key terms it introduces or defines"]}.'
    )
    user = f"Summarise this chapter, {title}:\n\n{body[:MAX_TEXT]}"
    return Prompt(system, user, "")


def parse_digest(answer: str) -> Digest | None:
    """The digest in a model answer, or None when there is none."""
    start, end = answer.find("{"), answer.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        data = json.loads(answer[start : end + 1], strict=False)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("summary"), str):
        return None
    summary = plain(data["summary"])[:MAX_SUMMARY]
    terms = data.get("terms")
    listed = [plain(str(t)) for t in terms] if isinstance(terms, list) else []
    return Digest(summary, _distinct(listed)) if summary else None


def _distinct(terms: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for term in terms:
        term = term.strip(" .,;:")
        if 1 < len(term) <= 60:
            seen.setdefault(term.casefold(), term)
    return list(seen.values())[:MAX_TERMS]

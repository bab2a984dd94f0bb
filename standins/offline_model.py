"""The offline stand-in model: placeholder outlines and chapters, without any AI.

`liquidbook sandbox` runs the whole story on one machine, and most machines (and every test
run) have no model key. This module answers the app's two real prompts the way a good model
would in *shape* — an outline as JSON of `OUTLINE_SCHEMA`, a chapter as a MyST body with
sections, an admonition, display math, a code block and a cross-reference — so every step
after the model call (parsing, clean-up, the build check, the PR) runs for real.

Every text it writes says plainly that it is not AI output, so a placeholder can never be
mistaken for a written book. Answers are a pure function of the request: the same request
always gets the same text, which keeps tests and sandbox runs reproducible.

Use it through the OpenAI-compatible stand-in on loopback::

    model = start_offline_model()  # serves until model.stop()
    # app settings: LIQUIDBOOK_MODEL=openai:liquidbook-offline
    #               OPENAI_BASE_URL=model.base_url, OPENAI_API_KEY=model.api_key
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from standins.offline_review import is_revision, is_suggestion, revision_answer, suggestion_answer

if TYPE_CHECKING:
    from standins.providers.server import StandIn

MODEL_NAME = "openai:liquidbook-offline"
# The same server draws placeholder figures through OpenAI's Images API under this name.
IMAGE_MODEL_NAME = "openai:liquidbook-offline-image"
API_KEY = "liquidbook-offline-key"
DISCLAIMER = "(offline stand-in text, not written by AI)"
CHAPTER_WARNING = (
    "This chapter was written by Liquid Book's offline stand-in model. "
    "It is placeholder text, not AI output."
)
GENERIC_ANSWER = (
    "This answer comes from Liquid Book's offline stand-in model. It is placeholder text, "
    "not AI output: the stand-in only knows how to answer outline and chapter requests."
)

# The chapter count a description may ask for, in digits or words.
_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
_COUNT = re.compile(
    r"\b(\d{1,3}|" + "|".join(_NUMBER_WORDS) + r")[ -]+(?:short\s+)?"
    r"(?:chapters?|modules?|lessons?|units?|sections?|parts?)\b",
    re.I,
)
_A_TYPE = {
    "article": "An article",
    "book": "A book",
    "course": "A course",
    "research": "A research paper",
}
_DEFAULT_CHAPTERS = {"article": 4, "book": 6, "course": 6, "research": 6}
MAX_CHAPTERS = 40
# Openings that describe the book's form rather than its subject.
_FRAME = re.compile(
    r"^(?:(?:a|an|the|my|our)\s+)?(?:(?:short|brief|gentle|practical|hands-on|first|"
    r"introductory|advanced|complete|new|small|little|quick|online)\s+)*"
    r"(?:course|book|introduction|intro|guide|primer|tutorial|article|text|textbook|"
    r"handbook|overview|paper|study|series|workshop|class)\s+(?:on|about|to|of|in|for)\s+",
    re.I,
)
_STOPWORDS = frozenset(
    "a an and the of on in to for with about from by at as or is are be into its their "
    "our my your this that these those who what how why when where which course book "
    "books short brief introduction introductory guide chapters chapter modules module "
    "lessons lesson units unit sections section parts part each using use".split()
)
# Chapter title patterns, filled with the subject; every title differs from the others.
_TITLE_PATTERNS = (
    "Introducing {topic}",
    "Core Ideas of {topic}",
    "{topic} in Practice",
    "Observing {topic}",
    "Measuring {topic}",
    "Patterns in {topic}",
    "Questions about {topic}",
    "Case Studies in {topic}",
    "Tools for {topic}",
    "{topic} in Context",
    "Open Problems in {topic}",
    "Reviewing {topic}",
)
_OBJECTIVE_PATTERNS = (
    "Explain the main idea of {title}.",
    "Describe one example from {title}.",
    "Apply the notation of {title} to a small case.",
    "Compare {title} with the previous chapter.",
)
# Display math that KaTeX renders: one per chapter, chosen by its number.
_FORMULAS = (
    r"\bar{x} = \frac{1}{n} \sum_{i=1}^{n} x_i",
    r"s^2 = \frac{1}{n - 1} \sum_{i=1}^{n} \left( x_i - \bar{x} \right)^2",
    r"N(t) = N_0 \, e^{r t}",
    r"P(A \mid B) = \frac{P(B \mid A) \, P(A)}{P(B)}",
    r"c = \sqrt{a^2 + b^2}",
)


def offline_answer(request_json: dict[str, Any]) -> str:
    """The stand-in's answer to an OpenAI chat-completions request body."""
    text = _request_text(request_json)
    if "You summarise chapters of a book" in text:
        return json.dumps(digest_answer(text), ensure_ascii=False)
    if _is_outline_request(text):
        return json.dumps(outline_answer(text), indent=2, ensure_ascii=False)
    if ALT_REQUEST in text:
        request = re.search(r"<request>\n(.*?)\n</request>", text, re.S)
        drawn = " ".join((request.group(1) if request else "a figure").split())[:200]
        return json.dumps(
            {"alt": f"A placeholder figure for: {drawn} {DISCLAIMER}", "caption": f"{drawn}."},
            ensure_ascii=False,
        )
    if QUIZ_REQUEST in text:
        return json.dumps(quiz_answer(text), indent=2, ensure_ascii=False)
    if is_revision(text):
        return revision_answer(text)
    if is_suggestion(text):
        return suggestion_answer(text)
    chapter = parse_chapter_request(text)
    if chapter is not None:
        return chapter_answer(chapter)
    return GENERIC_ANSWER


def start_offline_model(host: str = "127.0.0.1", port: int = 0) -> StandIn:
    """Serve the offline model as an OpenAI-compatible API on loopback; call `.stop()` after.

    Point the app at it with `LIQUIDBOOK_MODEL=openai:liquidbook-offline` (`MODEL_NAME`),
    `OPENAI_BASE_URL=<returned>.base_url` and `OPENAI_API_KEY=<returned>.api_key`.
    """
    # Imported here: the provider stand-ins check requests with the `openai` package's
    # types, which only the test extra installs; `offline_answer` alone needs nothing.
    from standins.providers.behaviour import Behaviour
    from standins.providers.openai_chat import OpenAIChatStandIn
    from standins.providers.openai_images import OpenAIImagesStandIn

    class OfflineModel(OpenAIChatStandIn, OpenAIImagesStandIn):
        """Chat completions and the Images API on one OpenAI-shaped server, the images
        drawn locally as labelled placeholders."""

        def routes(self) -> list[Any]:
            return OpenAIChatStandIn.routes(self) + OpenAIImagesStandIn.routes(self)

        def draw(self, body: dict[str, Any]) -> bytes:
            return placeholder_image(str(body.get("prompt") or ""), str(body.get("size") or ""))

    standin = OfflineModel(
        "openai",
        api_key=API_KEY,
        host=host,
        port=port,
        known_models={MODEL_NAME.partition(":")[2], IMAGE_MODEL_NAME.partition(":")[2]},
    )
    standin.default = Behaviour(text=offline_answer)
    return standin.start()


def placeholder_image(prompt: str, size: str = "1024x1024") -> bytes:
    """A PNG drawn locally: the prompt's words on a plain background under the word
    PLACEHOLDER, saying it is not AI output. Same prompt and size, same bytes."""
    import io
    import textwrap

    from PIL import Image, ImageDraw, ImageFont

    match = re.fullmatch(r"(\d{2,4})x(\d{2,4})", size)
    width, height = (int(match.group(1)), int(match.group(2))) if match else (1024, 1024)
    width, height = min(max(width, 256), 2048), min(max(height, 256), 2048)
    image = Image.new("RGB", (width, height), (236, 239, 244))
    draw = ImageDraw.Draw(image)
    edge = max(4, width // 128)
    draw.rectangle((edge, edge, width - edge, height - edge), outline=(90, 100, 120), width=edge)
    big = ImageFont.load_default(size=max(24, width // 10))
    small = ImageFont.load_default(size=max(14, width // 36))
    y = height // 10
    draw.text((width // 2, y), "PLACEHOLDER", font=big, fill=(160, 40, 40), anchor="ma")
    y += width // 10 + height // 20
    words = " ".join(_plain(prompt).split()[:60]) or "(no prompt)"
    for line in textwrap.wrap(words, width=34)[:10]:
        draw.text((width // 2, y), line, font=small, fill=(30, 30, 30), anchor="ma")
        y += width // 30 + 8
    draw.text(
        (width // 2, height - height // 10),
        "drawn by Liquid Book's offline stand-in, not AI output",
        font=small,
        fill=(90, 100, 120),
        anchor="ma",
    )
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


QUIZ_REQUEST = "Write a self-check quiz for a chapter"
ALT_REQUEST = "You write the alt text and the caption of a figure"


def quiz_answer(text: str) -> list[dict[str, Any]]:
    """A valid JupyterQuiz array on the chapter's objectives: one question of each type,
    every answer's feedback saying it is placeholder text."""
    title = re.search(r"^The chapter: \d+\. (.+)$", text, re.M)
    topic = title.group(1).strip() if title else "this chapter"
    objectives = re.findall(
        r"^- (.+)$",
        text.split("Its learning objectives:", 1)[-1].split("The chapter's text:", 1)[0],
        re.M,
    )
    goal = objectives[0] if objectives else f"the ideas of {topic}"
    note = f" {DISCLAIMER}"
    return [
        {
            "type": "multiple_choice",
            "question": f"Which objective does “{topic}” set? {DISCLAIMER}",
            "answers": [
                {"answer": goal[:200], "correct": True, "feedback": "Right: it is listed." + note},
                {
                    "answer": "None at all",
                    "correct": False,
                    "feedback": "Every chapter has one." + note,
                },
            ],
        },
        {
            "type": "numeric",
            "question": f"How many learning objectives does “{topic}” list? {DISCLAIMER}",
            "precision": 2,
            "answers": [
                {
                    "type": "value",
                    "value": len(objectives),
                    "correct": True,
                    "feedback": "Yes." + note,
                },
                {"type": "default", "feedback": "Count the list at the chapter's start." + note},
            ],
        },
        {
            "type": "string",
            "question": f"Type the word <code>placeholder</code>. {DISCLAIMER}",
            "answers": [
                {
                    "answer": "placeholder",
                    "correct": True,
                    "match_case": False,
                    "feedback": "Yes." + note,
                }
            ],
        },
    ]


# -- reading the request ------------------------------------------------------------------


def _request_text(request_json: dict[str, Any]) -> str:
    """All message contents joined, whatever the split between system and user turns."""
    parts: list[str] = []
    for message in request_json.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [str(p.get("text", "")) for p in content if isinstance(p, dict)]
    return "\n\n".join(parts)


def _is_outline_request(text: str) -> bool:
    return '"chapters": [' in text and "The author's description:" in text


def _plain(text: str) -> str:
    """Words and ordinary punctuation only, so echoed text cannot become MyST syntax."""
    kept = re.sub(r"[^\w\s.,;:!?'()\-]", " ", text)
    return " ".join(kept.replace("_", " ").split())


# -- outlines -----------------------------------------------------------------------------


def outline_answer(text: str) -> dict[str, Any]:
    """An outline of `OUTLINE_SCHEMA` for the description in an outline prompt."""
    description = text.split("The author's description:", 1)[1].strip()
    book_type = book_type_of(description, text)
    count = chapter_count(description, _DEFAULT_CHAPTERS[book_type])
    topic = topic_of(description)
    words = focus_words(description, topic)
    chapters = [_planned_chapter(i, count, topic, words) for i in range(1, count + 1)]
    _shape_for_type(book_type, chapters, topic)
    return {
        "title": _title_case(topic),
        "description": (
            f"{_A_TYPE[book_type]} about {topic}, planned by Liquid Book's offline stand-in model "
            f"from the author's description. {DISCLAIMER}"
        ),
        "type": book_type,
        "chapters": chapters,
    }


def book_type_of(description: str, prompt: str) -> str:
    """The type the description names ("a course on …"), else the one the prompt plans."""
    named = re.search(r"\b(course|article|research|paper|book)\b", description, re.I)
    if named:
        word = named.group(1).lower()
        return "research" if word == "paper" else word
    planned = re.search(r"Plan an? (article|book|course|research)\b", prompt)
    return planned.group(1) if planned else "book"


def chapter_count(description: str, default: int) -> int:
    """The number of chapters the description asks for ("3 chapters", "ten modules")."""
    match = _COUNT.search(description)
    if match is None:
        return default
    raw = match.group(1).lower()
    number = int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]
    return max(1, min(number, MAX_CHAPTERS))


def topic_of(description: str) -> str:
    """The subject of a description: `A short course on tide pools, 3 chapters` → `tide pools`."""
    first = _COUNT.sub(" ", description.strip().splitlines()[0] if description.strip() else "")
    first = re.split(r"[,.;:!?(]", _plain(first))[0].strip()
    topic = _FRAME.sub("", first).strip()
    topic = re.split(r"\s+(?:for|with)\s+", topic, maxsplit=1)[0].strip() or topic
    words = topic.split()[:6]
    return " ".join(words).lower() if words else "the subject"


def focus_words(description: str, topic: str) -> list[str]:
    """Distinct content words: the description's own first, then the topic's (cycled)."""
    topic_words = re.findall(r"[A-Za-z][A-Za-z'-]+", topic)
    found = re.findall(r"[A-Za-z][A-Za-z'-]+", _plain(description))
    seen: dict[str, None] = {}
    for word in [w for w in found if w.lower() not in topic.split()] + topic_words:
        lowered = word.lower().strip("'-")
        if len(lowered) > 2 and lowered not in _STOPWORDS:
            seen.setdefault(lowered, None)
    return list(seen) or ["basics"]


def _title_case(text: str) -> str:
    small = {"a", "an", "and", "the", "of", "on", "in", "to", "for", "with", "at", "by"}
    words = text.split()
    return " ".join(w if (i and w in small) else w[:1].upper() + w[1:] for i, w in enumerate(words))


def _planned_chapter(number: int, count: int, topic: str, words: list[str]) -> dict[str, Any]:
    pattern = _TITLE_PATTERNS[(number - 1) % len(_TITLE_PATTERNS)]
    word = words[(number - 1) % len(words)]
    title = pattern.format(topic=_title_case(topic))
    if number > len(_TITLE_PATTERNS):
        title += f", Continued ({(number - 1) // len(_TITLE_PATTERNS) + 1})"
    summary = (
        f"Chapter {number} of {count} on {topic}, with {word} as its focus. "
        f"It is a placeholder planned without a model. {DISCLAIMER}"
    )
    objectives = [
        pattern.format(title=title.lower()) for pattern in _OBJECTIVE_PATTERNS[: 2 + number % 2]
    ]
    return {"title": title, "summary": summary, "objectives": objectives}


_RESEARCH_SECTIONS = (
    "Background and Related Work",
    "Methods",
    "Results",
    "Discussion",
    "Introduction",
    "Conclusion",
)
_BOOK_PARTS = ("Foundations", "In Practice")


def _shape_for_type(book_type: str, chapters: list[dict[str, Any]], topic: str) -> None:
    """What each type's outline carries besides titles: a research text's sections in the
    scientific order, a book's parts, a course module's time."""
    count = len(chapters)
    if book_type == "research":
        order = list(_RESEARCH_SECTIONS[: max(4, min(count, 6))])
        if count >= 6:
            order = ["Introduction", *_RESEARCH_SECTIONS[:4], "Conclusion"]
        for index, chapter in enumerate(chapters):
            base = order[index % len(order)] if index < len(order) else order[-1]
            round_ = index // len(order)
            chapter["title"] = base + (f" ({round_ + 1})" if round_ else "")
            chapter["summary"] = chapter["summary"].replace("Chapter", "Section", 1)
    elif book_type == "book" and count >= 4:
        for index, chapter in enumerate(chapters):
            part = _BOOK_PARTS[0] if index < (count + 1) // 2 else _BOOK_PARTS[1]
            chapter["part"] = f"{part} of {_title_case(topic)}"
    elif book_type == "course":
        for index, chapter in enumerate(chapters):
            chapter["minutes"] = 30 + 15 * (index % 3)


# -- digests of chapters as written -------------------------------------------------------


def digest_answer(text: str) -> dict[str, Any]:
    """A chapter's digest: its first sentence of prose (fences and headings skipped) as the
    summary, its section headings as its terms. Placeholder, like everything here."""
    found = re.search(r"^Summarise this chapter, (.+?):\n", text, re.M)
    title = _plain(found.group(1)) if found else "the chapter"
    body = text[found.end() :] if found else text
    body = re.sub(r"^(`{3,}|:{3,}).*?^\1[ \t]*$", "", body, flags=re.M | re.S)
    prose = [
        line.strip()
        for line in body.splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "%", "(", "-", "$", "|"))
    ]
    first = _plain(prose[0]).split(". ")[0].rstrip(".") + "." if prose else ""
    headings = [_plain(h) for h in re.findall(r"^##\s+(.+)$", body, re.M)]
    summary = f"As written, {title} says: {first} {DISCLAIMER}" if first else DISCLAIMER
    return {"summary": summary, "terms": [h for h in headings if h][:5]}


# -- chapters -----------------------------------------------------------------------------


@dataclass
class ChapterRequest:
    """What a chapter prompt says about the chapter to write."""

    number: int
    title: str
    book_title: str = ""
    summary: str = ""
    objectives: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    own_label: str = ""
    previous_label: str = ""
    instructions: bool = False
    book_type: str = "book"
    minutes: int = 45
    sections: list[str] = field(default_factory=list)
    current: str = ""  # the chapter's text when it is written (a rewrite)


def parse_chapter_request(text: str) -> ChapterRequest | None:
    """Read a `chapter_prompt`; None when `text` is not one."""
    task = re.search(r"^Write chapter (\d+), (.+)\.$", text, re.M)
    if task is None:
        return None
    number = int(task.group(1))
    request = ChapterRequest(number, task.group(2).strip())
    book = re.search(r"^The book: (.+) \((article|book|course|research)\)\.", text, re.M)
    request.book_title = book.group(1).strip() if book else ""
    request.book_type = book.group(2) if book else "book"
    minutes = re.search(r"^Estimated time: (\d{1,4}) minutes\.$", text, re.M)
    request.minutes = int(minutes.group(1)) if minutes else 45
    sections = re.search(r"^The sections planned, in order:\n((?:- .*\n?)+)", text, re.M)
    if sections:
        request.sections = [
            line[2:].split(":", 1)[0].strip() for line in sections.group(1).splitlines()
        ]
    covers = re.search(r"^What it covers: (.+)$", text, re.M)
    request.summary = covers.group(1).strip() if covers else ""
    objectives = re.search(
        r"^After reading it, readers should be able to:\n((?:- .*\n?)+)", text, re.M
    )
    if objectives:
        request.objectives = [line[2:].strip() for line in objectives.group(1).splitlines()]
    allowed = re.search(r"^Labels you may reference: (.+)$", text, re.M)
    if allowed:
        request.labels = re.findall(r"`([A-Za-z0-9][\w.:-]*)`", allowed.group(1))
    outline_labels = dict(re.findall(r"^(\d+)\. .* \(label `([^`]+)`\)$", text, re.M))
    request.own_label = outline_labels.get(str(number), "")
    request.previous_label = outline_labels.get(str(number - 1), "")
    request.instructions = "The author's instructions for this chapter:" in text
    current = text.split("The current text of the chapter, to improve on:\n\n", 1)
    if len(current) == 2:
        request.current = current[1].split("\n\nThe author's instructions for this chapter:")[0]
    return request


def reference_label(request: ChapterRequest) -> str | None:
    """One label the chapter may point at: the previous chapter, the intro, or any other."""
    allowed = request.labels
    for preferred in (request.previous_label, "intro"):
        if preferred and preferred in allowed and preferred != request.own_label:
            return preferred
    others = [label for label in allowed if label != request.own_label]
    return others[0] if others else (allowed[0] if allowed else None)


def chapter_answer(request: ChapterRequest) -> str:
    """A MyST chapter body that builds cleanly and says it is placeholder text, in the shape
    of the book's type (a course module's exercises, a research section's citations, an
    article's planned sections)."""
    title = _plain(request.title) or f"Chapter {request.number}"
    if request.current.strip() and not request.instructions:
        # A stand-in has nothing to improve: it gives the text back (with its references),
        # as a model with nothing to change would, so a rewrite changes nothing.
        if request.book_type == "research":
            return request.current.strip() + "\n\n" + _bibtex(request) + "\n"
        return request.current.strip() + "\n"
    if request.book_type == "course":
        return _course_module(request, title)
    if request.book_type == "research":
        return _research_section(request, title)
    if request.book_type == "article" and request.sections:
        return _article_page(request, title)
    sections = [
        _admonition("warning", CHAPTER_WARNING),
        _overview(request, title),
        _objectives(request),
        _key_idea(title),
        _formula(request.number),
        _code(request, title),
        _connections(request),
        "## Summary\n\n"
        f"This was the placeholder for {title}. Replace it by running the same command with "
        "a real model configured, or write the chapter by hand.",
    ]
    return "\n\n".join(part for part in sections if part) + "\n"


def _admonition(kind: str, text: str) -> str:
    return f"```{{{kind}}}\n{text}\n```"


def _overview(request: ChapterRequest, title: str) -> str:
    book = _plain(request.book_title)
    where = f" of the book “{book}”" if book else ""
    lines = [
        "## Overview",
        "",
        f"This page stands in for chapter {request.number}, {title}{where}. "
        "Liquid Book's offline stand-in model wrote it so the whole workflow can be tried "
        "without a model key; none of it was written by AI.",
    ]
    if request.summary:
        lines += ["", f"The outline says this chapter covers: {_plain(request.summary)}"]
    if request.instructions:
        lines += [
            "",
            "The author gave extra instructions for this chapter; the stand-in does not "
            "follow instructions, so a real model is needed for them.",
        ]
    return "\n".join(lines)


def _objectives(request: ChapterRequest) -> str:
    items = [_plain(item) for item in request.objectives if _plain(item)]
    if not items:
        return ""
    return "\n".join(["## Learning objectives", "", *(f"- {item}" for item in items)])


def _key_idea(title: str) -> str:
    note = _admonition(
        "note",
        f"A real chapter would develop the key idea of {title} here, with definitions "
        "and worked examples. This note only shows where such a box goes.",
    )
    return f"## Key ideas\n\n{note}"


def _formula(number: int) -> str:
    formula = _FORMULAS[(number - 1) % len(_FORMULAS)]
    return (
        "## A formula\n\n"
        "Display math goes between double dollar signs, inline math like $a + b$ between "
        f"single ones:\n\n$$\n{formula}\n$$"
    )


def _code(request: ChapterRequest, title: str) -> str:
    words = [w.lower() for w in re.findall(r"[A-Za-z]+", title)][:4] or ["placeholder"]
    return "\n".join(
        [
            "## A code example",
            "",
            "```python",
            "# Placeholder code from Liquid Book's offline stand-in model (not AI output).",
            f"words = {words!r}",
            "for position, word in enumerate(words, start=1):",
            f'    print(f"chapter {request.number}, word {{position}}: {{word}}")',
            "```",
        ]
    )


def _connections(request: ChapterRequest) -> str:
    label = reference_label(request)
    if label is None:
        return (
            "## Connections\n\nOther chapters are not written yet, so there is nothing to "
            "cross-reference."
        )
    return f"## Connections\n\nFor related material, see {{ref}}`{label}`."


def _course_module(request: ChapterRequest, title: str) -> str:
    label = request.own_label or f"module-{request.number}"
    objectives = [_plain(item) for item in request.objectives if _plain(item)] or [
        f"Explain the main idea of {title}."
    ]
    exercises = []
    for n in (1, 2):
        exercise = f"{label}-ex-{n}"
        exercises.append(
            f"```{{exercise}}\n:label: {exercise}\n"
            f"Placeholder exercise {n} of {title}: apply the formula above to a small case "
            "of your own.\n```\n\n"
            f"```{{solution}} {exercise}\n:class: dropdown\n"
            "A real solution would work the case through step by step (placeholder text, "
            "not AI output).\n```"
        )
    parts = [
        _admonition("warning", CHAPTER_WARNING),
        "\n".join(
            [
                "## Learning objectives",
                "",
                *(f"- {item}" for item in objectives),
                "",
                f"Estimated time: {request.minutes} minutes",
            ]
        ),
        _overview(request, title),
        _key_idea(title),
        "## Worked example\n\n"
        "A real module would solve one complete example here, step by step. The stand-in "
        "shows where it goes, with a formula and the code that computes it."
        + "\n\n"
        + _formula(request.number).split("\n\n", 1)[1]
        + "\n\n"
        + _code(request, title).split("\n\n", 1)[1],
        "## Exercises\n\n" + "\n\n".join(exercises),
        _connections(request),
    ]
    return "\n\n".join(part for part in parts if part) + "\n"


def _citation_key(request: ChapterRequest) -> str:
    """One key per section, unique in the book (each section's `.bib` is its own file)."""
    base = re.sub(r"[^a-z0-9]", "", (request.own_label or "").lower())
    return f"standin{base or request.number}"


def _research_section(request: ChapterRequest, title: str) -> str:
    key = _citation_key(request)
    parts = [
        _admonition("warning", CHAPTER_WARNING),
        _overview(request, title),
        "## Prior work\n\n"
        f"A real section would place its argument among published work, citing it like "
        f"this {{cite}}`{key}`. The stand-in's reference below is a placeholder, not a real "
        "source, and has no DOI: the app marks it as needing one.",
        _formula(request.number),
        _connections(request),
    ]
    return "\n\n".join(part for part in parts if part) + "\n\n" + _bibtex(request) + "\n"


def _bibtex(request: ChapterRequest) -> str:
    """The section's one placeholder reference, with no DOI (the app marks it)."""
    return (
        f"```bibtex\n@misc{{{_citation_key(request)},\n"
        f"  title = {{Placeholder reference for section {request.number} "
        "(offline stand-in, not a real source)},\n"
        "  author = {{Liquid Book offline stand-in}},\n  year = {2026}\n}\n```"
    )


def _article_page(request: ChapterRequest, title: str) -> str:
    parts = [_admonition("warning", CHAPTER_WARNING)]
    for index, section in enumerate(request.sections):
        heading = _plain(section) or f"Section {index + 1}"
        parts.append(
            f"## {heading}\n\nA real article would develop {heading} here. This paragraph "
            f"is placeholder text from the offline stand-in model for {title}, not AI output."
        )
        if index == 0:
            parts.append(_formula(request.number).split("\n\n", 1)[1])
    return "\n\n".join(parts) + "\n"

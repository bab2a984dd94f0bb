"""How big a chapter prompt is for chapters 1, 10 and 30 of a 30-chapter book (issue 13.2).

A chapter prompt carries the outline near the chapter (the written summaries of its
neighbours, the rest by title), the glossary and key terms it is likely to use, the end of
the previous chapter and the start of the next, and the style guide, within a fixed budget.
This builds a 30-chapter book on disk whose chapters are all written (the worst case: every
neighbour has text and a digest, the glossary has a term per chapter) and prints the prompt
tokens of chapters 1, 10 and 30, as `bot.providers.tokens.estimate_tokens` counts them (the
generous estimate budgets reserve by: about 3 ASCII characters a token) and, when `tiktoken`
is installed, as OpenAI's o200k tokenizer does. Chapter 30 against chapter 1 is the ratio
the issue asks to keep at or below 1.5.

    python bench/prompt_tokens.py [--chapters 30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.book.digest import Digest, extract_digest
from bot.book.model import Book
from bot.book.prompts import WINDOW, chapter_prompt
from bot.providers.tokens import estimate_tokens

PARAGRAPH = (
    "Tide pools keep a little of the sea behind when the water goes out, and what lives in "
    "them has to cope with heat, fresh rain and hungry birds until it comes back. "
)


def write_book(root: Path, count: int) -> Book:
    """A book of `count` written chapters of about 1,800 words each, and a glossary."""
    toc = "".join(f"    - file: chapters/{n:02d}.md\n" for n in range(1, count + 1))
    (root / "chapters").mkdir(parents=True)
    (root / "myst.yml").write_text(
        f"version: 1\nproject:\n  title: Tide Pools\n  toc:\n    - file: intro.md\n{toc}"
    )
    (root / "intro.md").write_text("---\ntitle: Welcome\nlabel: intro\n---\n\nHello.\n")
    for n in range(1, count + 1):
        sections = "\n\n".join(
            f"(zone-{n}-{s})=\n## Zone {n}.{s}\n\n**Term {n}.{s}** matters. "
            + "\n\n".join(PARAGRAPH * 3 for _ in range(4))
            for s in range(1, 5)
        )
        (root / f"chapters/{n:02d}.md").write_text(
            f"---\ntitle: Shore zone {n}\nlabel: zone-{n}\nsummary: What lives in zone {n}.\n"
            f"options:\n  objectives:\n    - Name the animals of zone {n}\n---\n\n{sections}\n"
        )
    terms = "".join(f"term {n}\n  What term {n} means.\n\n" for n in range(1, count + 1))
    (root / "glossary.md").write_text(f"# Glossary\n\n```{{glossary}}\n{terms}```\n")
    return Book.from_directory(root)


def o200k() -> object | None:
    try:
        import tiktoken
    except ImportError:
        return None
    try:
        return tiktoken.get_encoding("o200k_base")
    except Exception:  # the encoding is downloaded on first use: offline, skip it
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chapters", type=int, default=30)
    args = parser.parse_args()
    encoding = o200k()
    with tempfile.TemporaryDirectory() as tmp:
        book = write_book(Path(tmp), args.chapters)
        picks = sorted({1, min(10, args.chapters), args.chapters})
        sizes: dict[tuple[int, bool], int] = {}
        print(f"Prompt tokens of a chapter of a {args.chapters}-chapter book, others written:")
        print("chapter | first draft (estimate / o200k) | rewrite of its text (estimate / o200k)")
        for number in picks:
            chapter = book.toc[number - 1]
            memory = {
                other.path: Digest(extract_digest(other.body).summary, [f"Term {other.number}.1"])
                for other in book.toc
                if 0 < abs(other.number - number) <= WINDOW
            }
            row = []
            for rewrite in (False, True):
                target = chapter if rewrite else replace(chapter, body="", is_stub=True)
                prompt = chapter_prompt(book, target, memory=memory)
                text = prompt.system + "\n\n" + prompt.user
                sizes[(number, rewrite)] = estimate_tokens(text)
                exact = f"{len(encoding.encode(text)):,}" if encoding is not None else "n/a"  # type: ignore[attr-defined]
                row.append(f"{sizes[(number, rewrite)]:,} / {exact}")
            print(f"{number:>7} | {row[0]:>30} | {row[1]}")
        for rewrite, what in ((False, "first draft"), (True, "rewrite")):
            first, last = sizes[(picks[0], rewrite)], sizes[(picks[-1], rewrite)]
            print(
                f"{what}: chapter {picks[-1]} / chapter {picks[0]} = {last / first:.2f}× (aim ≤ 1.5×)"
            )


if __name__ == "__main__":
    main()

"""Read the book at a commit in two GitHub calls: the branch head, and that commit's tarball.

The tarball lands in a temporary directory (extracted safely: see `bot.book.tarball`), where
the job reads the book model and later runs the build check on the changed copy. Two calls
whatever the size of the book, instead of one call per file.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from githubkit import GitHub

from bot.book.model import Book
from bot.book.tarball import extract_tarball
from bot.pull_request import BaseCommit, base_commit


@dataclass
class BookCheckout:
    """The book as it is on `base`, extracted at `directory`."""

    base: BaseCommit
    directory: Path
    book: Book


async def download_tarball(gh: GitHub, full_name: str, sha: str) -> bytes:
    """The gzip tarball of a commit (GitHub answers with a redirect to its download host)."""
    owner, _, repo = full_name.partition("/")
    response = await gh.arequest("GET", f"/repos/{owner}/{repo}/tarball/{sha}")
    return response.content


async def checkout(gh: GitHub, full_name: str, branch: str, workdir: Path) -> BookCheckout:
    """Fetch `branch` at its head into `workdir` and read the book there.

    Raises `bot.book.model.BookError` when the repository holds no readable book.
    """
    return await checkout_commit(gh, full_name, await base_commit(gh, full_name, branch), workdir)


async def checkout_commit(
    gh: GitHub, full_name: str, base: BaseCommit, workdir: Path
) -> BookCheckout:
    """The book at `base`, a head already read (one call: the tarball)."""
    data = await download_tarball(gh, full_name, base.sha)
    # File work runs in a thread: in `liquidbook serve` this loop also answers webhooks.
    directory = await asyncio.to_thread(extract_tarball, data, workdir / "book")
    book = await asyncio.to_thread(Book.from_directory, directory)
    return BookCheckout(base=base, directory=directory, book=book)

"""A `/cancel` never cuts a repository write in half (`bot.jobs.cancel.uninterrupted`).

A chapter job cancelled while its commit and pull request are being written waits for them,
then stops; the pull request is remembered for the cancelled status (`OPENED`). The end-to-end
case is `tests/test_confirm_cancel.py`: its count of pull requests against the status's list
of finished chapters failed once when a cancel landed while a pull request was opened.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.jobs.cancel import OPENED, cancelled_key, note_opened, uninterrupted
from bot.jobs.runner import command_job
from bot.services import Services
from tests.world import REPO, World


async def test_a_cancel_waits_for_the_write_then_goes_on() -> None:
    steps: list[str] = []
    writing = asyncio.Event()

    async def write() -> str:
        steps.append("commit")
        writing.set()
        await asyncio.sleep(0.05)
        steps.append("pull request")
        note_opened("http://github.test/o/r/pull/5")
        return "opened"

    async def job() -> None:
        OPENED.set([])
        try:
            await uninterrupted(write())
            steps.append("after the write")  # never reached: the cancel goes on
        except asyncio.CancelledError:
            steps.append(f"cancelled, having opened {OPENED.get()}")
            raise

    task = asyncio.create_task(job())
    await writing.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert steps == [
        "commit",
        "pull request",
        "cancelled, having opened ['http://github.test/o/r/pull/5']",
    ]


async def test_a_cancelled_range_ends_after_the_write_under_way() -> None:
    """`/generate chapter all` cancelled while chapter 2 opens its PR and the others wait
    for a slot: the job's cancel goes on (and its status is written) only once chapter 2's
    write has ended. (`asyncio.gather` let the cancel through at the first waiting chapter
    it cancelled, while chapter 2's PR was still being opened: a CI run saw that PR missing
    from the status.)"""
    from bot.book.chapters import Chapter
    from bot.jobs.proposal import each_chapter

    events: list[str] = []
    writing = asyncio.Event()

    async def work(chapter: Chapter) -> str:
        if chapter.number != 2:
            await asyncio.sleep(3600)  # a model call
        writing.set()

        async def write() -> str:
            await asyncio.sleep(0.1)
            events.append("chapter 2 PR opened")
            return "pull/2"

        return await uninterrupted(write())

    chapters = [Chapter(number=n, title=f"T{n}", path=f"c{n}.md") for n in range(1, 6)]

    async def job() -> None:
        try:
            await each_chapter(chapters, work, limit=3)
        except asyncio.CancelledError:
            events.append("status written")
            raise

    task = asyncio.create_task(job())
    await writing.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert events == ["chapter 2 PR opened", "status written"]


async def test_without_a_cancel_it_is_the_step_itself() -> None:
    async def write() -> int:
        await asyncio.sleep(0)
        return 7

    assert await uninterrupted(write()) == 7

    async def fails() -> None:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        await uninterrupted(fails())


async def test_a_write_that_hangs_is_cut_after_the_grace() -> None:
    started = asyncio.Event()
    ended: list[str] = []

    async def hangs() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            ended.append("cut")
            raise

    task = asyncio.create_task(uninterrupted(hangs(), grace_s=0.05))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert ended == ["cut"]


async def test_a_second_cancel_does_not_wait_for_the_grace() -> None:
    started = asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.sleep(3600)

    task = asyncio.create_task(uninterrupted(slow(), grace_s=3600))
    await started.wait()
    task.cancel()
    await asyncio.sleep(0.01)
    assert not task.done()  # waiting for the write
    task.cancel()  # the worker shutting down, say
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)


def test_note_opened_outside_a_job_is_ignored() -> None:
    note_opened("http://github.test/o/r/pull/1")
    assert OPENED.get() is None


async def test_a_cancelled_job_started_again_does_nothing(tmp_path: Path, redis_url: str) -> None:
    """arq starts a cancelled job again when its end was not seen as an abort (a worker that
    stopped first): `command_job` sees the cancel mark and runs nothing, leaving the status
    comment's "Cancelled" as it is."""
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'app.db'}")
    services = None
    try:
        installation = world.github.install(world.app.id, "octo-org", ["book"], deliver=False)
        services = await Services.start(world.settings())
        issue = world.github.open_issue(REPO, "alice", "Write chapter 1")
        world.github.comment(REPO, issue, "alice", "🛑 Cancelled by @alice")
        status = world.github.comments(REPO, issue)[-1]["id"]
        request = {
            "installation_id": installation,
            "repository": REPO,
            "issue_number": issue,
        }
        ran: list[str] = []

        async def body(services_: Any, gh: Any, status_: Any) -> str:
            ran.append("body")
            return "written"

        ctx = {"services": services, "job_id": "cmd:octo-org/book:1:0", "job_try": 2}
        ref = {"comment_id": status, "heading": "Write"}
        await services.redis.set(cancelled_key("cmd:octo-org/book:1:0"), "alice")
        assert await command_job(ctx, request, ref, "generate_chapters", body) == "cancelled"
        assert ran == []
        ctx["job_id"] = "cmd:octo-org/book:1:1"  # another job, not cancelled: it runs
        assert await command_job(ctx, request, ref, "generate_chapters", body) == "written"
        assert ran == ["body"]
    finally:
        if services is not None:
            await services.redis.delete(cancelled_key("cmd:octo-org/book:1:0"))
            await services.close()
        world.close()

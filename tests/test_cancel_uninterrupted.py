"""A `/cancel` never cuts a repository write in half (`bot.jobs.cancel.uninterrupted`).

A chapter job cancelled while its commit and pull request are being written waits for them,
then stops; the pull request is remembered for the cancelled status (`OPENED`). The end-to-end
case is `tests/test_confirm_cancel.py`: its count of pull requests against the status's list
of finished chapters failed once when a cancel landed while a pull request was opened.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.jobs.cancel import OPENED, note_opened, uninterrupted


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

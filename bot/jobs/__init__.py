"""Jobs the worker runs. Each module is one job; the webhook handlers enqueue them by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.jobs.acknowledge import acknowledge_command
from bot.jobs.check import check_commit
from bot.jobs.dashboard import refresh_dashboard
from bot.jobs.figure import generate_figure
from bot.jobs.generate import generate_chapters
from bot.jobs.glossary import update_glossary
from bot.jobs.line_commands import acknowledge_line_command
from bot.jobs.outline import outline_book
from bot.jobs.publish import deploy_finished, publish_book, publish_timed_out
from bot.jobs.quiz import generate_quizzes
from bot.jobs.redeliver import recovery_schedule
from bot.jobs.review_commands import acknowledge_review
from bot.jobs.revise import revise_pull_request
from bot.jobs.setup import setup_repository
from bot.jobs.setup_offers import offer_setup
from bot.jobs.suggest import suggest_lines
from bot.jobs.video import generate_video
from bot.pending import expire_pending

if TYPE_CHECKING:
    from arq.cron import CronJob

    from bot.settings import Settings

# Run by the acknowledgement worker, on its own queue (see `bot.worker`).
ACK_FUNCTIONS: list[Callable[..., Any]] = [
    acknowledge_command,
    acknowledge_line_command,
    acknowledge_review,
]

# Run by the job worker. The acknowledgement is here too, so one queued by a server from
# before acknowledgements had their own queue still runs.
FUNCTIONS: list[Callable[..., Any]] = [
    acknowledge_command,
    acknowledge_review,
    setup_repository,
    offer_setup,
    outline_book,
    generate_chapters,
    generate_quizzes,
    generate_figure,
    generate_video,
    revise_pull_request,
    suggest_lines,
    update_glossary,
    check_commit,
    publish_book,
    deploy_finished,
    publish_timed_out,
    refresh_dashboard,
    expire_pending,
]


def scheduled_jobs(settings: Settings) -> list[CronJob]:
    """Jobs the job worker runs on a schedule, timed by the settings (arq cron jobs)."""
    return [*recovery_schedule(settings)]

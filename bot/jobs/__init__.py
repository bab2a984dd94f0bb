"""Jobs the worker runs. Each module is one job; the webhook handlers enqueue them by name."""

from collections.abc import Callable
from typing import Any

from bot.jobs.acknowledge import acknowledge_command
from bot.jobs.generate import generate_chapters
from bot.jobs.outline import outline_book
from bot.jobs.setup import setup_repository
from bot.jobs.setup_offers import offer_setup

# Run by the acknowledgement worker, on its own queue (see `bot.worker`).
ACK_FUNCTIONS: list[Callable[..., Any]] = [acknowledge_command]

# Run by the job worker. The acknowledgement is here too, so one queued by a server from
# before acknowledgements had their own queue still runs.
FUNCTIONS: list[Callable[..., Any]] = [
    acknowledge_command,
    setup_repository,
    offer_setup,
    outline_book,
    generate_chapters,
]

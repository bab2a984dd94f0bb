"""Check run events: "Re-run" (`rerequested`) and the "Rebuild" button (`requested_action`)
on the app's "Liquid Book" check run build the commit again (`bot.jobs.check`)."""

from __future__ import annotations

import time

from bot.jobs.check import CHECK_NAME, schedule_check
from bot.routing import Event, Router
from bot.services import Services

router = Router()


@router.register("check_run", "rerequested")
@router.register("check_run", "requested_action")
async def rebuild(event: Event, services: Services) -> None:
    run = event.payload.get("check_run")
    if not isinstance(run, dict) or event.installation_id is None or event.repository is None:
        return
    if run.get("name") != CHECK_NAME or not isinstance(run.get("head_sha"), str):
        return
    if event.action == "requested_action":
        action = event.payload.get("requested_action") or {}
        if action.get("identifier") != "rebuild":
            return
    request = {
        "installation_id": event.installation_id,
        "repository": event.repository,
        "sha": run["head_sha"],
        "ref": f"rebuild:{run['head_sha']}",
        "again": True,
    }
    # Its own job id: the first check of this commit is done, and its id stays taken.
    await schedule_check(services.queue, services.redis, request, 0, why=f":{time.time_ns()}")

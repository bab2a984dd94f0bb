"""Webhook handlers, one module per event or command family; `router` combines them."""

from bot.routing import Router
from handlers import checks, comments, dashboard, deploys, installation, issues, pulls, pushes, reviews

router = Router(
    installation.router,
    comments.router,
    pulls.router,
    reviews.router,
    pushes.router,
    checks.router,
    deploys.router,
    issues.router,
    dashboard.router,
)

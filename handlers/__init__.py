"""Webhook handlers, one module per event or command family; `router` combines them."""

from bot.routing import Router
from handlers import comments, dashboard, installation, issues, pulls, reviews

router = Router(
    installation.router,
    comments.router,
    pulls.router,
    reviews.router,
    issues.router,
    dashboard.router,
)

"""The model-provider layer: `provider:model` names, fallback chains, retries that honour
rate limits, budgets and cost accounting.

    async with ModelClient(ProviderSettings(), redis, db) as client:
        result = await client.generate_text(
            TextRequest(system=..., prompt=..., max_tokens=8000),
            models=["openrouter:anthropic/claude-sonnet-5.5", "openai:gpt-4.1"],
            context=UsageContext(installation_id=..., repository=..., command="generate"),
        )
"""

from bot.providers.chain import ModelClient
from bot.providers.errors import AllModelsFailed, BudgetExceeded, ProviderError
from bot.providers.settings import ProviderSettings
from bot.providers.types import (
    Attempt,
    ImageRequest,
    ImageResult,
    Message,
    TextRequest,
    TextResult,
    VideoRequest,
    VideoResult,
)

__all__ = [
    "AllModelsFailed",
    "Attempt",
    "BudgetExceeded",
    "ImageRequest",
    "ImageResult",
    "Message",
    "ModelClient",
    "ProviderError",
    "ProviderSettings",
    "TextRequest",
    "TextResult",
    "VideoRequest",
    "VideoResult",
]

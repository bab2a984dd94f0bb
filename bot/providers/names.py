"""Model names as people write them: `provider:model`.

The provider is the part before the first colon; the model is everything after it, so names
like `openrouter:anthropic/claude-sonnet-5.5` or `ollama:llama3.1:8b` keep their own colons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.providers.errors import UnknownModel

# Providers with a native client here; any other name is OpenAI-compatible when it has a
# `<NAME>_BASE_URL` (Ollama, vLLM, LM Studio, ...).
KNOWN_PROVIDERS = (
    "openrouter",
    "together",
    "anthropic",
    "openai",
    "stability",
    "replicate",
    "runway",
)

_PROVIDER = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class ModelName:
    """A parsed `provider:model` name."""

    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


def parse_model(name: str) -> ModelName:
    """Split `provider:model`; raise `UnknownModel` with a sentence saying how to write it."""
    provider, sep, model = name.strip().partition(":")
    provider = provider.strip().lower()
    model = model.strip()
    if not sep or not model or not _PROVIDER.match(provider):
        raise UnknownModel(name)
    return ModelName(provider, model)

"""Stand-ins of the model providers: real HTTP servers on loopback that accept exactly the
documented requests (checked against the official SDKs' types where they exist), answer in
the documented shapes, and do what a test scripts (answer, 429, 500, 529, slow streams,
truncation, refusals, OpenRouter's cost)."""

from standins.providers.anthropic_messages import AnthropicStandIn
from standins.providers.behaviour import (
    Behaviour,
    answer,
    moderated,
    overloaded,
    quota_exhausted,
    rate_limited,
    refusal,
    server_error,
    slow,
    truncated,
)
from standins.providers.openai_chat import OpenAIChatStandIn
from standins.providers.openai_images import OpenAIImagesStandIn
from standins.providers.replicate import ReplicateStandIn
from standins.providers.runway import RunwayStandIn
from standins.providers.server import Recorded, StandIn
from standins.providers.stability import StabilityStandIn

__all__ = [
    "AnthropicStandIn",
    "Behaviour",
    "OpenAIChatStandIn",
    "OpenAIImagesStandIn",
    "Recorded",
    "ReplicateStandIn",
    "RunwayStandIn",
    "StabilityStandIn",
    "StandIn",
    "answer",
    "moderated",
    "overloaded",
    "quota_exhausted",
    "rate_limited",
    "refusal",
    "server_error",
    "slow",
    "truncated",
]

"""The interfaces each provider module implements, so the chain can treat them alike."""

from __future__ import annotations

from typing import Protocol

from bot.providers.gate import Requests
from bot.providers.settings import Endpoint
from bot.providers.types import (
    Artifact,
    Completion,
    ImageRequest,
    Message,
    TextRequest,
    VideoRequest,
)


class TextProvider(Protocol):
    async def complete(
        self,
        endpoint: Endpoint,
        model: str,
        request: TextRequest,
        messages: list[Message],
        stream: bool,
    ) -> Completion:
        """One request for text; `messages` may differ from the request's (continuations)."""
        ...


class ImageProvider(Protocol):
    async def image(
        self, endpoint: Endpoint, model: str, request: ImageRequest, requests: Requests
    ) -> Artifact:
        """One image; each HTTP request goes through `requests` (retried on its own)."""
        ...


class VideoProvider(Protocol):
    async def video(
        self, endpoint: Endpoint, model: str, request: VideoRequest, requests: Requests
    ) -> Artifact:
        """One video; each HTTP request goes through `requests` (retried on its own)."""
        ...

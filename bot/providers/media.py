"""Images and videos from one model: which provider makes them, and what one cost.

An image or video is one job (no continuations): one request for most providers; create,
polls and download for Replicate and Runway. Each request is retried on its own (`Requests`),
so a failed poll or download never starts a second paid job, and a job that outlives the
poll deadline is final. Its cost is the provider's own figure when it gives one, else the
price table's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.providers.accounting import Done, price_artifact
from bot.providers.errors import NotSupported, ProviderError
from bot.providers.gate import Gate, Requests
from bot.providers.names import ModelName
from bot.providers.openai_compat import OpenAICompatible
from bot.providers.openai_images import OpenAIImages
from bot.providers.prices import PriceTable
from bot.providers.protocols import ImageProvider, VideoProvider
from bot.providers.replicate import Replicate
from bot.providers.runway import Runway
from bot.providers.settings import Endpoint
from bot.providers.stability import Stability
from bot.providers.types import Artifact, ImageRequest, VideoRequest


class MediaModels:
    """The providers that draw images and make videos, and one model's artifact."""

    def __init__(
        self,
        gate: Gate,
        prices: PriceTable,
        openai_compat: OpenAICompatible,
        openai_images: OpenAIImages,
        stability: Stability,
        replicate: Replicate,
        runway: Runway,
    ) -> None:
        self.gate = gate
        self.prices = prices
        self.openai_compat = openai_compat
        self.openai_images = openai_images
        self.stability = stability
        self.replicate = replicate
        self.runway = runway

    def image_provider(self, name: ModelName, endpoint: Endpoint) -> ImageProvider:
        """The provider module that draws images at `endpoint`; `NotSupported` if none."""
        if endpoint.provider == "openrouter":
            return self.openai_compat
        if endpoint.kind == "openai_compat":
            return self.openai_images
        if endpoint.kind == "stability":
            return self.stability
        if endpoint.kind == "replicate":
            return self.replicate
        raise NotSupported(str(name), "draw images")

    def video_provider(self, name: ModelName, endpoint: Endpoint) -> VideoProvider:
        """The provider module that makes videos at `endpoint`; `NotSupported` if none."""
        if endpoint.kind == "runway":
            return self.runway
        raise NotSupported(str(name), "make videos")

    async def image(
        self, name: ModelName, endpoint: Endpoint, request: ImageRequest, last: bool = False
    ) -> Done[Artifact]:
        """One image from the model, with what it used and cost (`last`: the chain's last
        model, whose "overloaded" is retried)."""
        provider = self.image_provider(name, endpoint)
        return await self._artifact(
            name,
            endpoint,
            lambda requests: provider.image(endpoint, name.model, request, requests),
            last,
        )

    async def video(
        self, name: ModelName, endpoint: Endpoint, request: VideoRequest, last: bool = False
    ) -> Done[Artifact]:
        """One video from the model, with what it used and cost."""
        provider = self.video_provider(name, endpoint)
        return await self._artifact(
            name,
            endpoint,
            lambda requests: provider.video(endpoint, name.model, request, requests),
            last,
        )

    async def _artifact(
        self,
        name: ModelName,
        endpoint: Endpoint,
        make: Callable[[Requests], Awaitable[Artifact]],
        last: bool,
    ) -> Done[Artifact]:
        requests = Requests(self.gate, endpoint, retry_overloaded=last)
        try:
            artifact = await make(requests)
        except ProviderError as exc:
            exc.tries = requests.tries
            raise
        cost, unpriced = price_artifact(self.prices, str(name), artifact)
        return Done(
            artifact, artifact.tokens_in, artifact.tokens_out, 0, cost, unpriced, requests.tries
        )

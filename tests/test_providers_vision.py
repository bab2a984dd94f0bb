"""Images shown to a text model (alt text for figures): image content blocks in each
provider's own wire format, checked by the stand-ins as the real APIs check them."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from bot.providers import ModelClient, ProviderError
from bot.providers.types import Message, TextRequest
from standins.providers import AnthropicStandIn, OpenAIChatStandIn
from standins.providers.testing import settings_for


def _webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 30)).save(out, "WEBP")
    return out.getvalue()


WEBP = _webp()


def _request(data: bytes) -> TextRequest:
    return TextRequest(
        messages=[Message("user", "Describe it.", images=(("image/webp", data),))],
        max_tokens=100,
    )


async def test_openai_gets_an_image_url_part_and_refuses_a_false_one() -> None:
    with OpenAIChatStandIn("openai") as std:
        async with ModelClient(settings_for(openai=std)) as client:
            await client.generate_text(_request(WEBP), ["openai:gpt-4.1"])
            [seen] = std.requests
            text, image = seen.body["messages"][-1]["content"]
            assert text == {"type": "text", "text": "Describe it."}
            assert (
                image["image_url"]["url"]
                == "data:image/webp;base64," + base64.b64encode(WEBP).decode()
            )
            with pytest.raises(ProviderError):
                await client.generate_text(_request(b"<html>not webp</html>"), ["openai:gpt-4.1"])


async def test_anthropic_gets_a_base64_image_block_and_refuses_a_false_one() -> None:
    with AnthropicStandIn() as std:
        async with ModelClient(settings_for(anthropic=std)) as client:
            await client.generate_text(_request(WEBP), ["anthropic:claude-sonnet-5-5"])
            [seen] = std.requests
            image, text = seen.body["messages"][-1]["content"]
            assert image["source"] == {
                "type": "base64",
                "media_type": "image/webp",
                "data": base64.b64encode(WEBP).decode(),
            }
            assert text == {"type": "text", "text": "Describe it."}
            with pytest.raises(ProviderError):
                await client.generate_text(
                    _request(b"\x89PNG\r\n\x1a\n not webp"), ["anthropic:claude-sonnet-5-5"]
                )

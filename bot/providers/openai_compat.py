"""OpenAI-compatible chat completions: OpenAI, OpenRouter, Together, and any server with a
`<NAME>_BASE_URL` (Ollama, vLLM, LM Studio).

OpenRouter extras: the attribution headers (`HTTP-Referer`, `X-Title`), `usage: {include:
true}` so each answer carries its real cost (`usage.cost`), `cache_control` on the stable
part of the system prompt for models that need an explicit breakpoint (Anthropic's), and
images through `modalities: ["image", "text"]`.

Long outputs are streamed (`stream: true` with `stream_options: {include_usage: true}`), so a
chapter that takes minutes never hits a read timeout: the timeout applies between chunks.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import httpx

from bot.providers.answers import Bound
from bot.providers.errors import BadResponse, NotSupported, Refused
from bot.providers.gate import Requests
from bot.providers.settings import Endpoint, ProviderSettings
from bot.providers.tokens import estimate_all, estimate_tokens
from bot.providers.types import Artifact, Completion, ImageRequest, Message, TextRequest
from bot.providers.wire import (
    Overflow,
    classify,
    dropped,
    error_fields,
    overflowed,
    parse_data_url,
    read_json,
    send,
    sse_events,
)

# The fields of a stream's delta that carry what the model wrote.
_WRITTEN = ("content", "refusal", "reasoning", "reasoning_content")
# OpenRouter models that cache only at explicit `cache_control` breakpoints.
_EXPLICIT_CACHE_PREFIXES = ("anthropic/", "google/gemini")


class OpenAICompatible:
    """Chat completions over HTTP, in OpenAI's wire format."""

    def __init__(self, http: httpx.AsyncClient, settings: ProviderSettings) -> None:
        self.http = http
        self.settings = settings

    def headers(self, endpoint: Endpoint) -> dict[str, str]:
        """Authentication, plus OpenRouter's attribution."""
        headers = {"content-type": "application/json"}
        if endpoint.api_key:
            headers["authorization"] = f"Bearer {endpoint.api_key}"
        if endpoint.provider == "openrouter":
            headers["http-referer"] = self.settings.openrouter_referer
            headers["x-title"] = self.settings.openrouter_title
        return headers

    def body(
        self,
        endpoint: Endpoint,
        model: str,
        request: TextRequest,
        messages: list[Message],
        stream: bool,
    ) -> dict[str, Any]:
        """The request body, in the form `openai.types.chat.CompletionCreateParams` describes."""
        wire: list[dict[str, Any]] = []
        explicit_cache = endpoint.provider == "openrouter" and model.startswith(
            _EXPLICIT_CACHE_PREFIXES
        )
        if explicit_cache and request.stable_prefix:
            parts: list[dict[str, Any]] = [
                {
                    "type": "text",
                    "text": request.stable_prefix,
                    "cache_control": {"type": "ephemeral"},
                }
            ]
            if request.system:
                parts.append({"type": "text", "text": request.system})
            wire.append({"role": "system", "content": parts})
        elif request.instructions():
            wire.append({"role": "system", "content": request.instructions()})
        wire += [{"role": m.role, "content": openai_content(m)} for m in messages]
        body: dict[str, Any] = {"model": model, "messages": wire}
        # OpenAI replaced max_tokens with max_completion_tokens (its reasoning models refuse
        # the old name); the other servers still read max_tokens.
        limit_field = "max_completion_tokens" if endpoint.provider == "openai" else "max_tokens"
        body[limit_field] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.stop:
            body["stop"] = list(request.stop)
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        if endpoint.provider == "openrouter":
            body["usage"] = {"include": True}
        return body

    async def complete(
        self,
        endpoint: Endpoint,
        model: str,
        request: TextRequest,
        messages: list[Message],
        stream: bool,
    ) -> Completion:
        """One chat completion; raises `ProviderError` on any failure."""
        http_request = self.http.build_request(
            "POST",
            f"{endpoint.base_url}/chat/completions",
            headers=self.headers(endpoint),
            content=json.dumps(self.body(endpoint, model, request, messages, stream)),
        )
        prompt_tokens = estimate_all([request.instructions(), *(m.content for m in messages)])
        # Reading stops where the reply passes what max_tokens could produce.
        bound = Bound(request.max_tokens)
        async with send(self.http, endpoint, model, http_request) as response:
            try:
                if stream:
                    return await self._read_stream(endpoint, model, response, prompt_tokens, bound)
                data = await read_json(response, endpoint, bound.line_chars)
            except Overflow as exc:
                raise overflowed(endpoint, model, exc, bound, prompt_tokens) from None
        return self._read_completion(endpoint, model, data, prompt_tokens)

    def _read_completion(
        self, endpoint: Endpoint, model: str, data: Any, prompt_tokens: int
    ) -> Completion:
        try:
            choice = data["choices"][0]
            message = choice["message"]
            text = message.get("content") or ""
            finish = choice.get("finish_reason")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise BadResponse(endpoint.provider, "no choices[0].message") from None
        completion = _completion(endpoint, model, message.get("refusal"), finish, text)
        _add_usage(completion, data.get("usage"), prompt_tokens)
        return completion

    async def _read_stream(
        self,
        endpoint: Endpoint,
        model: str,
        response: httpx.Response,
        prompt_tokens: int,
        bound: Bound,
    ) -> Completion:
        parts: list[str] = []
        try:
            return await self._read_chunks(endpoint, model, response, prompt_tokens, parts, bound)
        except httpx.TransportError as exc:
            raise dropped(endpoint, exc, prompt_tokens, "".join(parts)) from None

    async def _read_chunks(
        self,
        endpoint: Endpoint,
        model: str,
        response: httpx.Response,
        prompt_tokens: int,
        parts: list[str],
        bound: Bound,
    ) -> Completion:
        refusal: list[str] = []
        finish: str | None = None
        usage: Any = None
        async for _event, data in sse_events(response, bound):
            if data == "[DONE]":
                break
            try:
                chunk = json.loads(data)
            except ValueError:
                raise BadResponse(endpoint.provider, "a stream chunk is not JSON") from None
            if not isinstance(chunk, dict):
                raise BadResponse(endpoint.provider, "a stream chunk is not a JSON object")
            if isinstance(chunk.get("error"), dict):
                # OpenRouter reports failures after the 200 as a chunk with an error.
                kind, code, message = error_fields(chunk)
                status = int(code) if code and code.isdigit() else 502
                raise classify(endpoint, model, status, {}, kind, code, message)
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                # Everything the model writes counts against its cap, reasoning included.
                for key in _WRITTEN:
                    if isinstance(delta.get(key), str) and bound.add(delta[key]):
                        raise Overflow("more text than the cap allows")
                if delta.get("content"):
                    parts.append(delta["content"])
                if delta.get("refusal"):
                    refusal.append(delta["refusal"])
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
            if chunk.get("usage"):
                usage = chunk["usage"]
        completion = _completion(endpoint, model, "".join(refusal) or None, finish, "".join(parts))
        _add_usage(completion, usage, prompt_tokens)
        return completion

    async def image(
        self, endpoint: Endpoint, model: str, request: ImageRequest, requests: Requests
    ) -> Artifact:
        """An image from a chat model with image output (OpenRouter's `modalities`)."""
        if endpoint.provider != "openrouter":
            raise NotSupported(f"{endpoint.provider}:{model}", "draw images")
        return await requests.start(lambda: self._image(endpoint, model, request))

    async def _image(self, endpoint: Endpoint, model: str, request: ImageRequest) -> Artifact:
        prompt = request.prompt
        if request.negative_prompt:
            prompt += f"\n\nAvoid: {request.negative_prompt}"
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
            "modalities": ["image", "text"],
            "image_config": {"aspect_ratio": aspect_ratio(request.size)},
            "usage": {"include": True},
        }
        http_request = self.http.build_request(
            "POST",
            f"{endpoint.base_url}/chat/completions",
            headers=self.headers(endpoint),
            content=json.dumps(body),
        )
        async with send(self.http, endpoint, model, http_request) as response:
            data = await read_json(response, endpoint)
        try:
            message = data["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise BadResponse(endpoint.provider, "no choices[0].message") from None
        images = message.get("images") or []
        if not images:
            if (
                message.get("refusal")
                or data["choices"][0].get("finish_reason") == "content_filter"
            ):
                raise Refused(
                    f"{endpoint.provider}:{model}", message.get("refusal") or "content filter"
                )
            raise Refused(
                f"{endpoint.provider}:{model}",
                "it answered without an image"
                + (f": {message.get('content')}"[:120] if message.get("content") else ""),
            )
        try:
            content, media_type = parse_data_url(images[0]["image_url"]["url"])
        except (KeyError, TypeError, ValueError):
            raise BadResponse(endpoint.provider, "the image is not a data URL") from None
        usage = data.get("usage") or {}
        return Artifact(
            data=content,
            media_type=media_type,
            tokens_in=int(usage.get("prompt_tokens") or 0),
            tokens_out=int(usage.get("completion_tokens") or 0),
            reported_cost=_decimal(usage.get("cost")),
        )


def _completion(
    endpoint: Endpoint, model: str, refusal: str | None, finish: Any, text: str
) -> Completion:
    """The reply, if its `finish_reason` says it is whole (`stop`) or cut off at the length
    limit (`length`); anything else is not an answer to commit.

    `content_filter` is a refusal even with some text: what came back is the part before the
    filter stopped it, never the whole answer. No `finish_reason` at all, or one this client
    never asks for (`tool_calls`, `function_call`), is an answer that cannot be trusted.
    """
    name = f"{endpoint.provider}:{model}"
    if refusal:
        raise Refused(name, refusal)
    if finish == "content_filter":
        partly = " after part of the answer" if text.strip() else ""
        raise Refused(name, f"stopped by the content filter{partly}")
    if finish == "stop":
        return Completion(text=text, finish_reason=finish, truncated=False)
    if finish == "length":
        return Completion(text=text, finish_reason=finish, truncated=True)
    if finish is None:
        raise BadResponse(endpoint.provider, "the answer has no finish_reason")
    raise BadResponse(endpoint.provider, f"unexpected finish_reason {str(finish)[:40]!r}")


def _add_usage(completion: Completion, usage: Any, prompt_tokens: int) -> None:
    """The reply's usage as reported; estimated from the text when none was (a stream
    without a usage chunk, a server that sends none)."""
    if not isinstance(usage, dict) or usage.get("completion_tokens") is None:
        completion.tokens_in = prompt_tokens
        completion.tokens_out = estimate_tokens(completion.text)
        completion.usage_estimated = True
        return
    completion.tokens_in = int(usage.get("prompt_tokens") or 0)
    completion.tokens_out = int(usage.get("completion_tokens") or 0)
    details = usage.get("prompt_tokens_details") or {}
    completion.cached_tokens = int(details.get("cached_tokens") or 0)
    completion.cache_write_tokens = int(details.get("cache_write_tokens") or 0)
    completion.reported_cost = _decimal(usage.get("cost"))


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def aspect_ratio(size: str) -> str:
    """`WIDTHxHEIGHT` as the nearest common aspect ratio (`16:9`, `1:1`, ...)."""
    return nearest_ratio(
        size, ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
    )


def nearest_ratio(size: str, choices: tuple[str, ...]) -> str:
    """The ratio among `choices` closest to `size` (`1024x1024` → `1:1`)."""
    try:
        width, height = (int(x) for x in size.lower().split("x"))
        wanted = width / height
    except (ValueError, ZeroDivisionError):
        return choices[0]

    def distance(ratio: str) -> float:
        w, h = (int(x) for x in ratio.split(":"))
        return abs(w / h - wanted)

    return min(choices, key=distance)


def openai_content(message: Message) -> str | list[dict[str, Any]]:
    """A turn's content: its text, or text and `image_url` parts (data URLs) with images."""
    if not message.images:
        return message.content
    parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}]
    for media_type, data in message.images:
        url = f"data:{media_type};base64," + base64.b64encode(data).decode()
        parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts

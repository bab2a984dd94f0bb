"""A stand-in for OpenAI-compatible chat completions, in three flavours.

- `openai`: `POST /v1/chat/completions`, bodies checked against
  `openai.types.chat.CompletionCreateParams`, answers shaped as `ChatCompletion` /
  `ChatCompletionChunk` (checked too), errors as OpenAI sends them.
- `openrouter`: base `/api/v1`; also accepts OpenRouter's documented extensions (`usage:
  {include: true}` → `usage.cost` in the answer, `provider`, `models`, `transforms`,
  `plugins`, `reasoning`, `image_config`, `modalities` with `"image"`, `cache_control` on text
  parts) and answers errors in OpenRouter's `{"error": {"code", "message", "metadata"}}`;
  `modalities: ["image", "text"]` returns `message.images[].image_url.url` data URLs.
- `together`: base `/v1`, OpenAI's shapes plus Together's sampling extensions.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat.completion_create_params import (
    CompletionCreateParamsNonStreaming,
    CompletionCreateParamsStreaming,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from standins.providers.behaviour import Behaviour
from standins.providers.common import EscapedJSONResponse, bearer, json_body, split, sse, tokens
from standins.providers.images import tiny_png
from standins.providers.server import StandIn
from standins.providers.validation import Invalid, check

Flavour = Literal["openai", "openrouter", "together"]

_OPENROUTER_EXTRAS = (
    "usage",
    "provider",
    "models",
    "transforms",
    "route",
    "plugins",
    "reasoning",
    "image_config",
)
_TOGETHER_EXTRAS = ("repetition_penalty", "top_k", "min_p", "safety_model", "echo")
_STATUS_TEXT = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    429: "requests",
    500: "server_error",
    502: "server_error",
    503: "server_error",
}


# OpenAI's chat models as of 2026-12 (developers.openai.com models and deprecations pages):
# the GPT-6 and GPT-5.6 families, GPT-5 (shut down 2026-12-11) and GPT-4.1/4o (2027-01-14).
OPENAI_CHAT_MODELS = frozenset(
    {
        "gpt-6.2-sol",
        "gpt-6.1-sol",
        "gpt-6.1-terra",
        "gpt-6-sol",
        "gpt-6-luna",
        "gpt-5.6-sol",
        "gpt-5.6-terra",
        "gpt-5.6-luna",
        "gpt-5",
        "gpt-5-mini",
        "gpt-5-nano",
        "gpt-5-pro",
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4o",
        "gpt-4o-mini",
    }
)
_JSON_TYPES = {
    str: "a string",
    bool: "a boolean",
    list: "an array",
    dict: "an object",
    int: "an integer",
    float: "a number",
}
# OpenAI models that take `max_completion_tokens` only (reasoning models).
_COMPLETION_TOKENS_ONLY = re.compile(r"^(?:gpt-[5-9]|o\d)")
# Numeric fields and their documented ranges: (integer?, minimum, maximum).
_RANGES: dict[str, tuple[bool, float | None, float | None]] = {
    "temperature": (False, 0, 2),
    "top_p": (False, 0, 1),
    "presence_penalty": (False, -2, 2),
    "frequency_penalty": (False, -2, 2),
    "n": (True, 1, 128),
    "max_tokens": (True, 1, None),
    "max_completion_tokens": (True, 1, None),
    "top_logprobs": (True, 0, 20),
    "seed": (True, None, None),
}


class OpenAIChatStandIn(StandIn):
    """Chat completions as OpenAI, OpenRouter or Together serve them.

    The `openai` flavour knows OpenAI's current chat models (`OPENAI_CHAT_MODELS`) and
    answers 404 `model_not_found` for others; OpenRouter and Together know any name unless
    given `known_models` (their catalogues are hundreds long).
    """

    def __init__(
        self,
        flavour: Flavour = "openai",
        api_key: str = "sk-test-key",
        known_models: Any = None,
        **kwargs: Any,
    ) -> None:
        self.flavour = flavour
        if known_models is None and flavour == "openai":
            known_models = OPENAI_CHAT_MODELS
        super().__init__(api_key=api_key, known_models=known_models, **kwargs)

    @property
    def prefix(self) -> str:
        return "/api/v1" if self.flavour == "openrouter" else "/v1"

    @property
    def base_url(self) -> str:
        return self.root_url + self.prefix

    def routes(self) -> list[BaseRoute]:
        return [Route(f"{self.prefix}/chat/completions", self.chat, methods=["POST"])]

    # -- errors in each flavour's shape -------------------------------------------------

    def error(
        self,
        status: int,
        message: str,
        *,
        kind: str | None = None,
        code: str | int | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> JSONResponse:
        if self.flavour == "openrouter":
            err: dict[str, Any] = {"code": status, "message": message}
            if metadata:
                err["metadata"] = metadata
            return JSONResponse({"error": err}, status, headers=headers)
        body = {
            "error": {
                "message": message,
                "type": kind or _STATUS_TEXT.get(status, "server_error"),
                "param": param,
                "code": code,
            }
        }
        return JSONResponse(body, status, headers=headers)

    def scripted_error(self, b: Behaviour, model: str) -> JSONResponse:
        status = b.status
        if b.moderated:
            return self.error(
                403,
                b.message
                or f"{model} requires moderation on OpenInference. Your input was flagged.",
                metadata={
                    "reasons": ["violence"],
                    "flagged_input": "…",
                    "provider_name": "OpenInference",
                    "model_slug": model,
                },
            )
        if status == 402:
            if self.flavour == "openai":
                return self.error(
                    429,
                    "You exceeded your current quota, please check your plan and billing details.",
                    kind="insufficient_quota",
                    code="insufficient_quota",
                )
            return self.error(
                402,
                b.message
                or "Insufficient credits. Add more using https://openrouter.ai/settings/credits",
            )
        if status == 429:
            return self.error(
                429,
                b.message or f"Rate limit reached for {model} on requests per min (RPM).",
                code=b.error_code or "rate_limit_exceeded",
                headers=b.headers,
            )
        if status >= 500:
            return self.error(
                status,
                b.message
                or "The server had an error while processing your request. Sorry about that!",
                headers=b.headers,
            )
        return self.error(
            status,
            b.message or "Bad request.",
            kind=b.error_type,
            code=b.error_code,
            headers=b.headers,
        )

    # -- the endpoint -------------------------------------------------------------------

    async def chat(self, request: Request) -> Response:
        try:
            body = await json_body(request)
        except ValueError:
            self.record("POST", request.url.path, request.headers, None)
            return self.error(400, "We could not parse the JSON body of your request.")
        self.record("POST", request.url.path, request.headers, body)
        if bearer(request.headers) != self.api_key:
            if self.flavour == "openrouter":
                return self.error(401, "No auth credentials found")
            sent = bearer(request.headers) or ""
            # The real API echoes a masked key; clients must not pass it on.
            masked = f"{sent[:5]}***{sent[-4:]}" if len(sent) > 9 else sent
            return self.error(
                401,
                f"Incorrect API key provided: {masked}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        try:
            wants_image = self.validate(body)
        except Invalid as exc:
            return self.error(400, exc.message, param=exc.param, code=exc.code)
        if not self.knows(body["model"]):
            return self.unknown_model(body["model"])
        b = self.next_behaviour()
        if b.delay:
            await asyncio.sleep(b.delay)
        if b.status >= 400 or b.moderated:
            return self.scripted_error(b, body["model"])
        text = b.answer_text(body)
        if body.get("stream"):
            return StreamingResponse(self.stream(body, b, text), media_type="text/event-stream")
        return EscapedJSONResponse(self.completion(body, b, text, wants_image))

    def unknown_model(self, model: str) -> JSONResponse:
        """The answer for a model this provider does not serve."""
        if self.flavour == "openrouter":
            return self.error(400, f"{model} is not a valid model ID")
        if self.flavour == "together":
            return self.error(
                404,
                f"Unable to access model {model}. Please visit https://api.together.ai/models "
                "to view the list of supported models.",
                code="model_not_available",
            )
        return self.error(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )

    def validate(self, body: Any) -> bool:
        """Check the body as the real server would; True when image output is asked for."""
        if not isinstance(body, dict):
            raise Invalid("The request body must be a JSON object.")
        check_values(body, self.flavour)
        body = dict(body)
        wants_image = False
        if self.flavour == "openrouter":
            for key in _OPENROUTER_EXTRAS:
                value = body.pop(key, None)
                if (
                    key == "usage"
                    and value is not None
                    and not (
                        isinstance(value, dict)
                        and set(value) <= {"include"}
                        and isinstance(value.get("include"), bool)
                    )
                ):
                    raise Invalid("usage must be {include: boolean}", "usage")
            modalities = body.pop("modalities", None)
            if modalities is not None:
                if not isinstance(modalities, list) or not set(modalities) <= {
                    "text",
                    "image",
                    "audio",
                }:
                    raise Invalid("modalities must list text, image or audio", "modalities")
                wants_image = "image" in modalities
            body["messages"] = [_strip_cache_control(m) for m in body.get("messages") or []]
        elif self.flavour == "together":
            for key in _TOGETHER_EXTRAS:
                body.pop(key, None)
        params = (
            CompletionCreateParamsStreaming
            if body.get("stream")
            else CompletionCreateParamsNonStreaming
        )
        check(params, body)
        check_image_parts(body)
        return wants_image

    def usage(self, body: dict[str, Any], b: Behaviour, text: str) -> dict[str, Any]:
        prompt = b.prompt_tokens if b.prompt_tokens is not None else tokens(_prompt_text(body))
        completion = b.completion_tokens if b.completion_tokens is not None else tokens(text)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": b.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        }
        if self.flavour == "openrouter" and (body.get("usage") or {}).get("include"):
            usage["cost"] = (
                b.cost if b.cost is not None else round((prompt * 1 + completion * 2) / 1e6, 8)
            )
            usage["is_byok"] = False
        return usage

    @staticmethod
    def finish_reason(b: Behaviour) -> str | None:
        if b.finish_reason != "":
            return b.finish_reason
        return "length" if b.truncated else "stop"

    def completion(
        self, body: dict[str, Any], b: Behaviour, text: str, wants_image: bool
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if b.refusal else text,
            "refusal": b.refusal,
            "annotations": [],
        }
        if wants_image:
            png = b.image if b.image is not None else tiny_png()
            url = "data:image/png;base64," + base64.b64encode(png).decode()
            message["images"] = [{"type": "image_url", "image_url": {"url": url}}]
        data = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": self.finish_reason(b),
                    "logprobs": None,
                }
            ],
            "usage": self.usage(body, b, text) if b.report_usage else None,
            "system_fingerprint": "fp_standin",
        }
        if b.finish_reason is not None:
            ChatCompletion.model_validate(data)
        return data

    async def stream(self, body: dict[str, Any], b: Behaviour, text: str) -> AsyncIterator[bytes]:
        ident = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        include_usage = include_usage and b.report_usage

        def chunk(
            delta: dict[str, Any],
            finish: str | None = None,
            usage: Any = None,
            choices: bool = True,
        ) -> bytes:
            data: dict[str, Any] = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body["model"],
                "system_fingerprint": "fp_standin",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
                if choices
                else [],
            }
            if include_usage:
                data["usage"] = usage
            ChatCompletionChunk.model_validate(data)
            return sse(data)

        if self.flavour == "openrouter":
            yield b": OPENROUTER PROCESSING\n\n"
        yield chunk({"role": "assistant", "content": ""})
        field = "refusal" if b.refusal else "content"
        for sent, piece in enumerate(split(b.refusal or text, b.chunks)):
            if sent == b.drop_after:
                raise ConnectionResetError("the stand-in drops this stream")
            if b.stream_error is not None and sent == b.error_after:
                # OpenRouter's mid-stream failure: a chunk with an error (and no choices).
                yield sse(
                    {
                        "id": ident,
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": body["model"],
                        "error": {
                            "code": b.error_code or 502,
                            "message": b.message or "Provider returned error",
                        },
                        "choices": [],
                    }
                )
                return
            if b.chunk_delay:
                await asyncio.sleep(b.chunk_delay)
            yield chunk({field: piece})
        finish = self.finish_reason(b)
        if finish is not None:
            yield chunk({}, finish)
        if include_usage:
            yield chunk({}, usage=self.usage(body, b, text), choices=False)
        yield sse("[DONE]")


def check_values(body: dict[str, Any], flavour: Flavour) -> None:
    """The documented value rules the SDK's types do not express, worded as OpenAI's API
    words them (`Invalid 'x': …` with a code); OpenRouter and Together share them."""
    for name, (integer, low, high) in _RANGES.items():
        value = body.get(name)
        if value is None:
            continue
        kind = "an integer" if integer else "a number"
        if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
            got = _JSON_TYPES.get(type(value), "a value")
            raise Invalid(
                f"Invalid type for '{name}': expected {kind}, but got {got} instead.",
                name,
                code="invalid_type",
            )
        what = "integer" if integer else "decimal"
        if low is not None and value < low:
            raise Invalid(
                f"Invalid '{name}': {what} below minimum value. Expected a value >= {low:g}, "
                f"but got {value:g} instead.",
                name,
                code=f"{what}_below_min_value",
            )
        if high is not None and value > high:
            raise Invalid(
                f"Invalid '{name}': {what} above maximum value. Expected a value <= {high:g}, "
                f"but got {value:g} instead.",
                name,
                code=f"{what}_above_max_value",
            )
    if body.get("messages") == []:
        raise Invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but "
            "got an empty array instead.",
            "messages",
            code="empty_array",
        )
    if body.get("stream_options") is not None and not body.get("stream"):
        raise Invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
        )
    if body.get("max_tokens") is not None and body.get("max_completion_tokens") is not None:
        raise Invalid(
            "Setting 'max_tokens' and 'max_completion_tokens' at the same time is not supported.",
            "max_tokens",
            code="invalid_parameter_combination",
        )
    model = body.get("model")
    if (
        flavour == "openai"
        and body.get("max_tokens") is not None
        and isinstance(model, str)
        and _COMPLETION_TOKENS_ONLY.match(model)
    ):
        raise Invalid(
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
            "'max_completion_tokens' instead.",
            "max_tokens",
            code="unsupported_parameter",
        )


def _strip_cache_control(message: Any) -> Any:
    """OpenRouter passes `cache_control` on text parts through to providers that cache."""
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        return message
    parts = []
    for part in message["content"]:
        if isinstance(part, dict) and "cache_control" in part:
            control = part["cache_control"]
            if not (isinstance(control, dict) and control.get("type") == "ephemeral"):
                raise Invalid("cache_control must be {type: 'ephemeral'}", "cache_control")
            part = {k: v for k, v in part.items() if k != "cache_control"}
        parts.append(part)
    return {**message, "content": parts}


def _prompt_text(body: dict[str, Any]) -> str:
    out = []
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out += [p.get("text", "") for p in content if isinstance(p, dict)]
    return "\n".join(out)


IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")


def check_image_parts(body: Any) -> None:
    """Image parts as OpenAI reads them: a data URL of a supported type whose base64 decodes
    to an image of that type (an https URL is accepted as it is)."""
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            if not isinstance(part, dict) or part.get("type") != "image_url":
                continue
            url = str((part.get("image_url") or {}).get("url") or "")
            if url.startswith("https://"):
                continue
            head, _, data = url.partition(",")
            media_type = head.removeprefix("data:").removesuffix(";base64")
            if (
                not head.startswith("data:")
                or not head.endswith(";base64")
                or media_type not in IMAGE_TYPES
            ):
                raise Invalid(
                    "Invalid image_url: expected a data URL of image/png, jpeg, webp or gif.",
                    "messages",
                    code="invalid_image_format",
                )
            try:
                decoded = base64.b64decode(data, validate=True)
            except ValueError:
                raise Invalid(
                    "Invalid base64 in image_url.", "messages", code="invalid_image"
                ) from None
            if not image_matches(media_type, decoded):
                raise Invalid(
                    "You uploaded an unsupported image. Please make sure your image is valid.",
                    "messages",
                    code="invalid_image_format",
                )


def image_matches(media_type: str, data: bytes) -> bool:
    """Whether the bytes start as an image of `media_type` does."""
    signatures = {
        "image/png": data.startswith(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg": data.startswith(b"\xff\xd8\xff"),
        "image/webp": data[:4] == b"RIFF" and data[8:12] == b"WEBP",
        "image/gif": data[:6] in (b"GIF87a", b"GIF89a"),
    }
    return signatures.get(media_type, False)

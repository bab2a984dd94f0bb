"""The model the sandboxed app calls: the operator's own, or the offline stand-in.

The operator's model is used only when `LIQUIDBOOK_MODEL` and that provider's key are both
set; otherwise the offline stand-in model (`standins.offline_model`) answers, whose every
text says it is placeholder text, not AI output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.sandbox.console import SandboxError

# Key variables whose name does not follow `<PROVIDER>_API_KEY`.
KEY_VARIABLES = {"replicate": ("REPLICATE_API_TOKEN",), "runway": ("RUNWAY_API_KEY",)}


@dataclass
class ModelChoice:
    """Which model the app will call, the variables that say so, and a line for people."""

    name: str
    env: dict[str, str]
    note: str


def choose_model(environ: dict[str, str]) -> tuple[ModelChoice, Any]:
    """The operator's model if fully configured, else the offline stand-in.

    Returns the choice and the offline model's server (None for a real model), which the
    caller stops when the sandbox ends.
    """
    choice, why = real_model(environ)
    if choice is not None:
        return choice, None
    try:
        from standins.offline_model import IMAGE_MODEL_NAME, MODEL_NAME, start_offline_model

        server = start_offline_model()
    except ImportError as exc:
        raise SandboxError(
            f"the offline model needs the `{(exc.name or 'openai').split('.')[0]}` package "
            "(pip install -e '.[test]'), or set LIQUIDBOOK_MODEL and its provider's key"
        ) from None
    choice = offline_model_choice(
        server.base_url, server.api_key, MODEL_NAME, why, IMAGE_MODEL_NAME
    )
    return choice, server


def real_model(environ: dict[str, str]) -> tuple[ModelChoice | None, str]:
    """The operator's model when `LIQUIDBOOK_MODEL` and its provider's key are both set.

    Returns the choice (or None) and, when None, why the offline model is used instead.
    """
    from bot.providers.names import KNOWN_PROVIDERS, parse_model

    name = environ.get("LIQUIDBOOK_MODEL", "").strip()
    if not name:
        return None, "LIQUIDBOOK_MODEL is not set"
    try:
        provider = parse_model(name).provider
    except Exception:
        return None, f"LIQUIDBOOK_MODEL={name!r} is not a `provider:model` name"
    if provider in KNOWN_PROVIDERS:
        keys = KEY_VARIABLES.get(provider, (f"{provider.upper()}_API_KEY",))
        if not any(environ.get(key) for key in keys):
            return None, f"LIQUIDBOOK_MODEL is {name} but {keys[0]} is not set"
        source = keys[0]
    elif environ.get(f"{provider.upper()}_BASE_URL"):
        source = f"{provider.upper()}_BASE_URL"
    else:
        return None, f"LIQUIDBOOK_MODEL is {name} but {provider.upper()}_BASE_URL is not set"
    providers = {provider} | _fallback_providers(environ.get("LIQUIDBOOK_FALLBACK_MODELS", ""))
    prefixes = tuple(f"{p.upper()}_" for p in providers)
    env = {
        key: value
        for key, value in environ.items()
        if key.startswith(prefixes)
        or key
        in (
            "LIQUIDBOOK_MODEL",
            "LIQUIDBOOK_FALLBACK_MODELS",
            "LIQUIDBOOK_IMAGE_MODEL",
            "LIQUIDBOOK_MONTHLY_BUDGET_USD",
        )
    }
    note = f"{name}, a real model from your environment ({source}); its calls are billed"
    return ModelChoice(name, env, note), ""


def _fallback_providers(text: str) -> set[str]:
    names = [part.strip() for part in text.split(",") if ":" in part]
    return {name.split(":", 1)[0].strip().lower() for name in names}


def offline_model_choice(
    base_url: str, api_key: str, model_name: str, why: str, image_model: str = ""
) -> ModelChoice:
    """The app's settings for the offline stand-in model (`image_model`: the name its
    placeholder figures are drawn under, for books that name no `models.image`)."""
    env = {
        "LIQUIDBOOK_MODEL": model_name,
        "LIQUIDBOOK_FALLBACK_MODELS": "",
        "LIQUIDBOOK_IMAGE_MODEL": image_model,
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": api_key,
    }
    note = (
        f"{model_name}, Liquid Book's offline stand-in at {base_url}: it writes placeholder "
        f"text, not AI output ({why}; set LIQUIDBOOK_MODEL and its provider's key for a real one)"
    )
    return ModelChoice(model_name, env, note)

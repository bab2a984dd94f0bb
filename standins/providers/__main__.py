"""Run one provider stand-in in the foreground: `python -m standins.providers openai 8765`.

Prints the base URL to set (e.g. `OPENAI_BASE_URL`) and serves until interrupted. Used by the
bench, and handy for trying `liquidbook generate` without keys. A third argument makes every
answer wait that many seconds (`… openai 8765 0.5`), so many calls are in flight at once;
`GET /_standin/stats` says how many were.
"""

from __future__ import annotations

import sys

from standins.providers import (
    AnthropicStandIn,
    OpenAIChatStandIn,
    OpenAIImagesStandIn,
    ReplicateStandIn,
    RunwayStandIn,
    StabilityStandIn,
    StandIn,
)
from standins.providers.behaviour import Behaviour


def make(kind: str, port: int) -> StandIn:
    if kind in ("openai", "openrouter", "together"):
        return OpenAIChatStandIn(kind, port=port)  # type: ignore[arg-type]
    makers: dict[str, type[StandIn]] = {
        "anthropic": AnthropicStandIn,
        "openai-images": OpenAIImagesStandIn,
        "stability": StabilityStandIn,
        "replicate": ReplicateStandIn,
        "runway": RunwayStandIn,
    }
    return makers[kind](port=port)


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else "openai"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 8765
    standin = make(kind, port)
    if len(sys.argv) > 3:
        standin.default = Behaviour(delay=float(sys.argv[3]))
    print(f"{kind} stand-in: {standin.base_url} (key {standin.api_key})", flush=True)
    standin.serve_forever()


if __name__ == "__main__":
    main()

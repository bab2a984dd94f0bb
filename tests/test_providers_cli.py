"""`liquidbook generate`, run as a separate process against stand-ins."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from standins.providers import AnthropicStandIn, OpenAIChatStandIn, answer, server_error, truncated

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def openai_std() -> Iterator[OpenAIChatStandIn]:
    with OpenAIChatStandIn("openai") as std:
        yield std  # type: ignore[misc]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any real provider configuration."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_API_KEY", "_API_TOKEN", "_BASE_URL", "_API_SECRET"))
        and k not in ("REDIS_URL", "DATABASE_URL")
    }
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def generate(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.providers.cli", "generate", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_generate_prints_text_and_each_attempt(
    openai_std: OpenAIChatStandIn, tmp_path: Path
) -> None:
    openai_std.reset()
    openai_std.script(server_error())
    with AnthropicStandIn() as anthropic_std:
        anthropic_std.script(answer("Hello, operator.", prompt_tokens=100, completion_tokens=20))
        env = clean_env(
            OPENAI_BASE_URL=openai_std.base_url,
            OPENAI_API_KEY=openai_std.api_key,
            ANTHROPIC_BASE_URL=anthropic_std.base_url,
            ANTHROPIC_API_KEY=anthropic_std.api_key,
            RETRY_MAX_TRIES="1",
        )
        done = generate(
            "--model",
            "openai:gpt-4.1",
            "--fallback",
            "anthropic:claude-haiku-4-5",
            "--system",
            "Be kind.",
            "--max-tokens",
            "50",
            "Say hello",
            env=env,
            cwd=tmp_path,
        )
        seen = anthropic_std.requests[0].body
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Hello, operator.\n"
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("usage provider=openai model=gpt-4.1 tokens_in=0 tokens_out=0")
    assert lines[0].endswith("requests=1 outcome=server_error")
    # claude-haiku-4-5: 100 in at $1/M, 20 out at $5/M.
    assert (
        "provider=anthropic model=claude-haiku-4-5 tokens_in=100 tokens_out=20 cached=0 cost_usd=0.000200"
        in lines[1]
    )
    assert lines[1].endswith("outcome=ok")
    assert seen["system"] == [{"type": "text", "text": "Be kind."}] and seen["max_tokens"] == 50


def test_generate_error_is_one_sentence(tmp_path: Path) -> None:
    done = generate(
        "--model", "together:deepseek-ai/DeepSeek-V3", "hi", env=clean_env(), cwd=tmp_path
    )
    assert done.returncode == 1
    assert done.stdout == ""
    usage, sentence = done.stderr.splitlines()
    assert usage.startswith("usage provider=together model=deepseek-ai/DeepSeek-V3 ")
    assert usage.endswith("requests=0 outcome=no_key")
    assert sentence == "No API key is set for Together: set TOGETHER_API_KEY on the server."


def test_generate_help_says_it_works_without_redis_or_a_database(tmp_path: Path) -> None:
    done = generate("--help", env=clean_env(), cwd=tmp_path)
    assert done.returncode == 0
    assert "Works without Redis and without a database" in done.stdout
    assert "not shared" in done.stdout and "no usage rows" in done.stdout


def test_register_adds_the_subcommand() -> None:
    import argparse

    from bot.providers.cli import register, run

    parser = argparse.ArgumentParser(prog="liquidbook")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["generate", "--model", "openai:gpt-4.1", "--fallback", "x:y", "hi"])
    assert args.func is run and args.fallback == ["x:y"] and args.max_tokens == 1024


@pytest.mark.parametrize(
    ("model", "note"), [("claude-sonnet-4-6", False), ("claude-sonnet-5-5", True)]
)
def test_generate_with_a_temperature_against_anthropic(
    tmp_path: Path, model: str, note: bool
) -> None:
    """`--temperature 0.3 --model anthropic:…` works: the model gets it where the API takes
    it, and is sent none (with a note) where Anthropic removed it."""
    with AnthropicStandIn() as std:
        std.script(answer("Hello."))
        env = clean_env(ANTHROPIC_BASE_URL=std.base_url, ANTHROPIC_API_KEY=std.api_key)
        done = generate(
            "--temperature", "0.3", "--model", f"anthropic:{model}", "hi", env=env, cwd=tmp_path
        )
        (seen,) = std.requests
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Hello.\n"
    assert ("temperature" in seen.body) is not note
    assert ("takes no temperature" in done.stderr) is note


def test_generate_failure_prints_each_attempt_then_the_sentence(
    openai_std: OpenAIChatStandIn, tmp_path: Path
) -> None:
    openai_std.reset()
    openai_std.script(server_error(), server_error())
    env = clean_env(
        OPENAI_BASE_URL=openai_std.base_url,
        OPENAI_API_KEY=openai_std.api_key,
        RETRY_MAX_TRIES="2",
        RETRY_BASE_S="0.01",
    )
    done = generate(
        "--model", "openai:gpt-4.1", "--fallback", "badname", "hi", env=env, cwd=tmp_path
    )
    assert done.returncode == 1 and done.stdout == ""
    first, second, sentence = done.stderr.strip().splitlines()
    assert first.startswith("usage provider=openai model=gpt-4.1 tokens_in=0 tokens_out=0")
    assert first.endswith("requests=2 outcome=server_error")
    assert second.startswith("usage provider=badname model=unknown ")
    assert second.endswith("requests=0 outcome=unknown_model")
    assert sentence.startswith(
        "All 2 models failed: openai:gpt-4.1 had a server error (500) (2 tries); badname is "
        "unknown (write it as provider:model"
    )
    assert "badname:" not in sentence


def test_generate_exits_non_zero_on_a_cut_off_answer(
    openai_std: OpenAIChatStandIn, tmp_path: Path
) -> None:
    openai_std.reset()
    openai_std.script(truncated("Half of it"))
    env = clean_env(OPENAI_BASE_URL=openai_std.base_url, OPENAI_API_KEY=openai_std.api_key)
    done = generate("--model", "openai:gpt-4.1", "--max-tokens", "5", "hi", env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == "Half of it\n"
    usage, note = done.stderr.strip().splitlines()
    assert usage.endswith("outcome=ok:truncated")
    assert note == "The answer was cut off at 5 tokens: raise --max-tokens."

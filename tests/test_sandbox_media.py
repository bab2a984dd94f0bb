"""`liquidbook sandbox` makes quizzes and figures without keys: the offline stand-in model
writes the quiz and draws the figure as a labelled placeholder, served in OpenAI Images'
wire format (`b64_json`) by the same loopback server as its text.

The sandbox runs as a person runs it, a child process with no model settings at all.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from standins.offline_model import DISCLAIMER, IMAGE_MODEL_NAME, placeholder_image
from tests.servers import clean_env


def test_the_placeholder_is_a_png_of_the_asked_size_and_the_same_for_the_same_prompt() -> None:
    drawn = placeholder_image("a labelled diagram", "1536x1024")
    image = Image.open(io.BytesIO(drawn))
    assert image.format == "PNG" and image.size == (1536, 1024)
    assert drawn == placeholder_image("a labelled diagram", "1536x1024")
    assert drawn != placeholder_image("another diagram", "1536x1024")
    # Hostile sizes and prompts still give a sane image.
    odd = Image.open(io.BytesIO(placeholder_image("```{raw}\n<script>" * 500, "9999x10")))
    assert odd.size == (2048, 256)
    assert Image.open(io.BytesIO(placeholder_image("x", "huge"))).size == (1024, 1024)


@pytest.mark.skipif(
    shutil.which("jupyter-book") is None or shutil.which("git") is None,
    reason="the sandbox needs the jupyter-book CLI and git",
)
def test_sandbox_writes_a_quiz_and_draws_a_placeholder_figure_offline(tmp_path: Path) -> None:
    workdir = tmp_path / "sandbox"
    report_path = tmp_path / "report.json"
    env = clean_env({})
    for name in ("LIQUIDBOOK_MODEL", "LIQUIDBOOK_FALLBACK_MODELS", "LIQUIDBOOK_IMAGE_MODEL"):
        env.pop(name, None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "sandbox",
            "--workdir",
            str(workdir),
            "--report",
            str(report_path),
            "--comment",
            "/generate quiz chapter 1",
            "--comment",
            '/generate figure chapter 1 "a labelled diagram"',
        ],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    report = json.loads(report_path.read_text("utf-8"))
    pulls = {p["title"].split(":")[0]: p for p in report["pull_requests"]}
    quiz_files = [f["path"] for f in pulls["Quiz for chapter 1"]["changed_files"]]
    assert any(p.startswith("quizzes/") and p.endswith(".json") for p in quiz_files), quiz_files
    figure_files = [f["path"] for f in pulls["Figure for chapter 1"]["changed_files"]]
    [image_path] = [p for p in figure_files if p.endswith(".webp")]
    assert all(p["state"] == "merged" for p in report["pull_requests"])
    book = Path(report["book_clone"])
    quiz = json.loads(next((book / "quizzes").glob("*.json")).read_text("utf-8"))
    assert quiz and all(DISCLAIMER in q["question"] for q in quiz)
    image = Image.open(book / image_path)
    assert image.format == "WEBP" and max(image.size) <= 1600
    sidecar = (book / image_path).with_suffix(".yml").read_text("utf-8")
    assert f"model: {IMAGE_MODEL_NAME}" in sidecar
    chapter = next((book / "chapters").glob("01-*.md")).read_text("utf-8")
    # The alt text comes from the offline text model, labelled as placeholder text.
    assert f":alt: A placeholder figure for: a labelled diagram {DISCLAIMER}" in chapter

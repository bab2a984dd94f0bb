"""The quiz widget (templates/book-skeleton/_static/liquidbook-quiz.mjs) in headless Chromium.

A small page served on loopback imports the widget module and renders a quiz through the
anywidget interface (`render({model, el})`); the test clicks and types like a reader and
reads the answers' feedback from the DOM. The quiz's HTML is hostile on purpose: no script
runs, no handler is kept, nothing is fetched.
"""

from __future__ import annotations

import functools
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.book.bundled import skeleton_dir
from bot.book.quiz import parse_quiz
from tests.chromium import Chromium, executable

if executable() is None:
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

QUIZ = [
    {
        "type": "multiple_choice",
        "question": "Where do <em>tide pools</em> form?",
        "answers": [
            {
                "answer": "On rocky shores",
                "correct": True,
                "feedback": "Yes: rocks hold the water.",
            },
            {
                "answer": 'In deserts <img src=x onerror="window.pwned=1">',
                "correct": False,
                "feedback": "No: there is <b>no sea</b> there.",
            },
        ],
    },
    {
        "type": "numeric",
        "question": "Pi to two decimals?",
        "precision": 3,
        "answers": [
            {"type": "value", "value": 3.14, "correct": True, "feedback": "Exactly."},
            {"type": "range", "range": [3, 3.3], "correct": False, "feedback": "Close, not quite."},
            {"type": "default", "feedback": "Think of a circle."},
        ],
    },
    {
        "type": "string",
        "question": "The zone between the tides?",
        "answers": [
            {
                "answer": "Intertidal",
                "correct": True,
                "match_case": False,
                "fuzzy_threshold": 0.8,
                "feedback": "That is its name.",
            }
        ],
    },
]

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>quiz</title></head><body>
<div id="quiz"></div>
<script type="module">
import widget from "./liquidbook-quiz.mjs";
const data = JSON.parse(document.getElementById("data").textContent);
widget.render({ model: { get: (key) => data[key], on() {} }, el: document.getElementById("quiz") });
window.rendered = true;
</script>
<script type="application/json" id="data">DATA</script>
</body></html>"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Chromium, str]]:
    root = tmp_path_factory.mktemp("widget")
    site = root / "site"
    site.mkdir()
    shutil.copy(skeleton_dir() / "_static" / "liquidbook-quiz.mjs", site)
    # The widget gets what the app commits: the quiz as parsed and sanitised.
    data = json.dumps({"quiz": json.loads(parse_quiz(json.dumps(QUIZ)).json())})
    # The unsanitised quiz too, in a second page: the widget alone must stay safe.
    (site / "index.html").write_text(PAGE.replace("DATA", data.replace("</", "<\\/")))
    raw = json.dumps({"quiz": QUIZ}).replace("</", "<\\/")
    (site / "raw.html").write_text(PAGE.replace("DATA", raw))
    handler = functools.partial(_Quiet, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with Chromium(root / "browser") as browser:
            yield browser, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def _pause(browser: Chromium, ms: int) -> None:
    browser.call(
        "Runtime.evaluate", expression=f"new Promise(r => setTimeout(r, {ms}))", awaitPromise=True
    )


def _wait_rendered(browser: Chromium) -> None:
    for _ in range(200):
        if browser.evaluate("window.rendered === true"):
            return
        _pause(browser, 50)
    raise AssertionError("the widget did not render")


def _answer(browser: Chromium, question: int, text: str) -> str:
    q = f"document.querySelectorAll('.lbq-question')[{question}]"
    browser.evaluate(
        f"{q}.querySelector('input').value = {json.dumps(text)};"
        f"{q}.querySelector('button.lbq-check').click()"
    )
    return str(browser.evaluate(f"{q}.querySelector('.lbq-feedback').textContent"))


def test_wrong_answer_shows_its_feedback_right_one_is_marked_right(
    page: tuple[Chromium, str],
) -> None:
    browser, url = page
    browser.open(url + "/index.html")
    _wait_rendered(browser)
    first = "document.querySelectorAll('.lbq-question')[0]"
    assert browser.evaluate(f"{first}.querySelector('em').textContent") == "tide pools"
    browser.evaluate(f"{first}.querySelectorAll('button.lbq-answer')[1].click()")
    assert browser.evaluate(f"{first}.querySelector('.lbq-feedback').textContent") == (
        "✗ Not right. No: there is no sea there."
    )
    assert browser.evaluate(f"{first}.querySelector('.lbq-feedback b').textContent") == "no sea"
    browser.evaluate(f"{first}.querySelectorAll('button.lbq-answer')[0].click()")
    assert browser.evaluate(f"{first}.querySelector('.lbq-feedback').className").endswith(
        "lbq-right"
    )
    assert browser.evaluate(f"{first}.querySelectorAll('button.lbq-answer')[0].className") == (
        "lbq-answer lbq-right"
    )
    assert _answer(browser, 1, "3.1415") == "✓ Correct. Exactly."
    assert _answer(browser, 1, "3.2") == "✗ Not right. Close, not quite."
    assert _answer(browser, 1, "seven") == "✗ Not right. Think of a circle."
    assert _answer(browser, 2, "intertidel") == "✓ Correct. That is its name."
    assert _answer(browser, 2, "subtidal").startswith("✗ Not right.")


def test_hostile_html_in_the_quiz_runs_nothing(page: tuple[Chromium, str]) -> None:
    browser, url = page
    browser.open(url + "/raw.html")
    _wait_rendered(browser)
    _pause(browser, 200)
    assert browser.evaluate("window.pwned === undefined")
    assert browser.evaluate("document.querySelectorAll('#quiz img, #quiz [onerror]').length") == 0
    requested = [u for u in browser.page_requests() if "/x" in u.split("?")[0][-2:]]
    assert requested == []

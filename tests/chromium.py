"""Headless Chromium (Debian's `chromium`) driven over the DevTools protocol on a pipe.

No driver library: Chromium reads DevTools commands from fd 3 and writes answers to fd 4
(`--remote-debugging-pipe`), each message JSON ended by a NUL byte. Every network request the
browser makes, the page's and the browser's own, is written to a net log (`--log-net-log`),
so a test can check that nothing left loopback.

Used by tests/test_setup_pages_browser.py and scripts/screenshots.py.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Flags that keep Chromium from reaching the internet on its own (updates, sync, field
# trials, safe browsing, ...) and from needing a display or a GPU.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--metrics-recording-only",
    "--hide-scrollbars",
    "--force-color-profile=srgb",
    "--font-render-hinting=none",
    "--disable-features=NetworkTimeServiceQuerying,MediaRouter,OptimizationHints,Translate",
    # A guard, not a hope: Chromium 156 still asks Google for the time, component updates and
    # accounts with every flag above. Names other than localhost do not resolve, and requests
    # to anything but loopback go to a closed local port (loopback bypasses proxies).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1]",
    "--proxy-server=http://127.0.0.1:9",
)
_LOCAL_NAMES = {"localhost"}


def executable() -> str | None:
    """Debian's chromium, if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Chromium:
    """One headless browser with a fresh profile; `open` a page, `evaluate`, `screenshot`."""

    def __init__(self, workdir: Path, width: int = 1280, height: int = 900) -> None:
        self.workdir = workdir
        self.netlog = workdir / "netlog.json"
        self.width, self.height = width, height
        self.process: subprocess.Popen[bytes] | None = None
        self._next_id = 0
        self._buffer = b""
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def __enter__(self) -> Chromium:
        binary = executable()
        if binary is None:
            raise RuntimeError("chromium is not installed")
        self.workdir.mkdir(parents=True, exist_ok=True)
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()
        args = [
            binary,
            *FLAGS,
            f"--user-data-dir={self.workdir / 'profile'}",
            f"--log-net-log={self.netlog}",
            f"--window-size={self.width},{self.height}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        # bash puts our pipe ends on fds 3 and 4, where Chromium looks for them (dash cannot
        # redirect from a descriptor above 9).
        script = f'exec "$@" 3<&{commands_read} 4>&{answers_write}'
        self.process = subprocess.Popen(
            ["/bin/bash", "-c", script, "bash", *args],
            pass_fds=(commands_read, answers_write),
            stdin=subprocess.DEVNULL,
            stdout=(self.workdir / "chromium.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        os.close(commands_read)
        os.close(answers_write)
        [target] = [
            t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page"
        ][:1]
        attached = self.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)
        self.session = attached["sessionId"]
        for domain in ("Page", "Network", "Log", "Runtime"):
            self.call(f"{domain}.enable")
        self.call(
            "Emulation.setEmulatedMedia",
            features=[{"name": "prefers-color-scheme", "value": "light"}],
        )
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the browser cleanly, so the net log is complete."""
        if self.process is None:
            return
        try:
            self.session = None
            self._send("Browser.close", {})
        except OSError:
            pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        for fd in (self._commands, self._answers):
            try:
                os.close(fd)
            except OSError:
                pass
        self.process = None

    # -- the protocol --------------------------------------------------------------------------

    def _send(self, method: str, params: dict[str, Any]) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if self.session is not None and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._answers], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed its DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        """Send a DevTools command and return its result (events met meanwhile are kept)."""
        wanted = self._send(method, params)
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            if "method" in message:
                self.events.append(message)

    def wait_for(self, method: str, since: int, timeout: float = 30) -> dict[str, Any]:
        """The first event `method` after the `since`-th kept event."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events[since:]:
                if event["method"] == method:
                    return event
            since = len(self.events)
            message = self._receive(deadline)
            if "method" in message:
                self.events.append(message)

    # -- what tests use -------------------------------------------------------------------------

    def open(self, url: str) -> None:
        """Navigate and wait until the page and its stylesheets have loaded."""
        since = len(self.events)
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired", since)

    def evaluate(self, expression: str) -> Any:
        """A JavaScript expression's value in the page (JSON-able)."""
        answer = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in answer:
            raise RuntimeError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def style(self, selector: str, prop: str) -> str:
        """The computed value of a CSS property of the first element matching `selector`."""
        value = self.evaluate(
            f"getComputedStyle(document.querySelector({json.dumps(selector)}))"
            f".getPropertyValue({json.dumps(prop)})"
        )
        return str(value)

    def screenshot(self, path: Path, full_page: bool = True) -> None:
        """A PNG of the page, its full height when `full_page` (at the window's width)."""
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            height = int(self.evaluate("document.documentElement.scrollHeight"))
            params["clip"] = {"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1}
        data = self.call("Page.captureScreenshot", **params)["data"]
        path.write_bytes(base64.b64decode(data))

    def page_requests(self) -> list[str]:
        """Every URL the page asked for (DevTools' view, including blocked ones)."""
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e["method"] == "Network.requestWillBeSent"
        ]

    def log_entries(self) -> list[dict[str, Any]]:
        """Console and browser log entries (a CSP violation is one)."""
        return [e["params"]["entry"] for e in self.events if e["method"] == "Log.entryAdded"]


def _loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _address_host(address: str) -> str:
    """ "127.0.0.1:80" -> "127.0.0.1", "[::1]:80" -> "::1"."""
    return address.rsplit(":", 1)[0].strip("[]")


def read_netlog(netlog: Path) -> tuple[dict[int, str], list[dict[str, Any]]]:
    """The net log's event type names and its events. Chromium finishes the JSON on a clean
    exit only; a log cut short is closed here and read as far as it goes."""
    text = netlog.read_text(errors="replace")
    try:
        log = json.loads(text)
    except json.JSONDecodeError:
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    return names, log["events"]


def egress(netlog: Path) -> list[str]:
    """What left this machine's loopback, from the net log: DNS queries, TCP connection
    attempts and UDP datagrams sent to any address that is not loopback.

    A UDP socket merely connected (Chromium's IPv6 reachability probe "connects" one to a
    public address to read the routing table) sends nothing and is not counted."""
    names, events = read_netlog(netlog)
    left: list[str] = []
    udp_peer: dict[int, str] = {}
    for event in events:
        name = names.get(event["type"], "")
        params = event.get("params") or {}
        source = event["source"]["id"]
        if name == "DNS_TRANSACTION_QUERY" and params.get("qname"):
            left.append(f"DNS query for {params.get('qname')}")
        elif name in ("TCP_CONNECT_ATTEMPT", "TCP_CONNECT") and "address" in params:
            if not _loopback(_address_host(params["address"])):
                left.append(f"TCP connection to {params['address']}")
        elif name == "UDP_CONNECT" and "address" in params:
            udp_peer[source] = params["address"]
        elif name == "UDP_BYTES_SENT":
            peer = params.get("address") or udp_peer.get(source, "?")
            if not _loopback(_address_host(peer)):
                left.append(f"UDP datagram to {peer}")
    return left


def requested_elsewhere(netlog: Path) -> set[str]:
    """URLs the browser asked for that are not on loopback (each stopped by the guard flags
    unless `egress` lists it): Chromium's own background requests, or a page's."""
    names, events = read_netlog(netlog)
    urls = set()
    for event in events:
        url = (event.get("params") or {}).get("url")
        if names.get(event["type"]) == "REQUEST_ALIVE" and url:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https", "ws", "wss") and not _loopback(
                parts.hostname or ""
            ):
                urls.add(f"{parts.scheme}://{parts.netloc}{parts.path}")
    return urls

"""The HTTP/1.1 protocol `liquidbook serve` runs: uvicorn's httptools one, with a deadline on
each request's headers.

uvicorn times out only idle keep-alive connections (`timeout_keep_alive`, armed after a
response and disarmed by the first byte of the next request); a connection that opens and
sends nothing, or trickles its request line and headers a byte at a time, is held for as
long as the sender likes, and enough of them hold every descriptor the process has.
`h11_max_incomplete_event_size` bounds the size of the headers, not how long they take. So
each request gets `seconds` from its first byte (or the connection's opening) to its last
header line; past that it is answered 408 and closed. The body has its own deadline in the
webhook endpoint (`bot.webhooks.read_body`), where the answer can be a JSON message.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_MESSAGE = b"request headers not received in time"
_TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_MESSAGE), _MESSAGE)
)


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """httptools' protocol; a request whose headers take over `seconds` gets 408 and a close."""

    seconds: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        # Between requests, the first byte of the next one starts its clock.
        if self._deadline is None and (self.cycle is None or self.cycle.response_complete):
            self._arm()
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(self.seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.write(_TIMED_OUT)
            self.transport.close()


def with_header_deadline(seconds: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class for `uvicorn.Config(http=...)`, with this deadline."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"seconds": seconds})

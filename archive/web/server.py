"""Serving the app with uvicorn, with every connection's idle time bounded.

What uvicorn bounds by itself (0.54, its h11 protocol: ``httptools`` is not
a dependency): a keep-alive connection idle *after* a response is closed
after ``timeout_keep_alive`` seconds. What it does not: a connection that
never completes a request's head (a client that connects and sends nothing,
or sends a header a byte at a time, "slowloris") is kept for ever, one
socket and one file descriptor each. :class:`BoundedH11Protocol` closes a
connection whose request head is not complete within :data:`HEAD_TIMEOUT`
seconds of the connection or of the previous response. Request heads are
capped by h11 at 16 KiB (``h11_max_incomplete_event_size``: 431 past it).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..following import LiveArchive
from .app import create_app
from .guards import loopback_hosts
from .limits import Runner

KEEP_ALIVE_TIMEOUT = 5
"""Seconds a keep-alive connection may stay idle between two requests (uvicorn's ``timeout_keep_alive``)."""
HEAD_TIMEOUT = 10.0
"""Seconds a connection has to send a complete request head (request line and headers)."""
MAX_HEAD_BYTES = 16 * 1024
"""Bytes of one request's head."""


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request head is late (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._waiting_after: object = None
        """The request cycle the connection waits after (``None``: the first); a new cycle is a new head."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._head_timer is not None and self.cycle is not self._waiting_after:
            self._disarm_head_timer()  # a request's head arrived: it is being answered

    def on_response_complete(self) -> None:
        answered = self.cycle
        super().on_response_complete()
        if self.cycle is answered and not self.transport.is_closing():
            self._arm_head_timer()  # the next request's head has the same time (unless it came pipelined)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._waiting_after = self.cycle
        self._head_timer = self.loop.call_later(HEAD_TIMEOUT, self._head_too_late)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_late(self) -> None:
        self._head_timer = None
        if self.cycle is self._waiting_after and not self.transport.is_closing():  # no request began meanwhile
            self.transport.close()


def serve(live: LiveArchive, sock: socket.socket, *, loopback: bool, time_limit: float) -> None:
    """Answer on ``sock`` until interrupted; on a ``loopback`` address the ``Host`` header is checked
    (DNS rebinding, :class:`archive.web.guards.HostCheck`)."""
    port = sock.getsockname()[1]
    allowed = loopback_hosts(port) if loopback else None
    app = create_app(live, allowed_hosts=allowed, runner=Runner(time_limit=time_limit))
    uvicorn.Server(config(app)).run(sockets=[sock])


def config(app: Any) -> uvicorn.Config:
    """uvicorn's settings for ``app``: quiet, with the connection bounds of this module."""
    return uvicorn.Config(app, log_level="warning", access_log=False, http=BoundedH11Protocol,
                          timeout_keep_alive=KEEP_ALIVE_TIMEOUT, h11_max_incomplete_event_size=MAX_HEAD_BYTES)

"""The ASGI layers around the app: security headers, HEAD, the Host check, and a last answer for
any error nothing else answered.

Plain ASGI middlewares (Starlette's ``BaseHTTPMiddleware`` costs about a
millisecond a request). Each takes the next app and does one thing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import messages

Answer = Callable[[Scope, messages.Message], Response]
"""Makes the response of a message for a request (JSON under ``/api/``, else a page)."""

LOG = logging.getLogger("archive.web")


class SecurityHeaders:
    """Adds ``headers`` to every response that does not set them itself."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HeadAsGet:
    """Answers ``HEAD`` on every route as its ``GET``, headers (``Content-Length`` included) without
    the body. FastAPI's routes take only the methods they name, so ``HEAD`` was 405 everywhere."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def loopback_hosts(port: int) -> frozenset[str]:
    """The ``Host`` values a browser sends to a server on loopback ``port`` (with the port, and
    without it when it is the default port 80)."""
    names = {f"{name}:{port}" for name in LOOPBACK_NAMES}
    if port == 80:
        names |= set(LOOPBACK_NAMES)
    return frozenset(names)


class HostCheck:
    """Refuses (400) a request whose ``Host`` is not one of ``allowed``.

    A server on 127.0.0.1 is reachable by any page a local browser opens: a
    page on another site whose name is made to resolve to 127.0.0.1 (DNS
    rebinding) would be same-origin with it and could read the whole archive.
    Such a request carries that site's name in ``Host``; requests meant for
    this server carry ``localhost``, ``127.0.0.1`` or ``[::1]`` and its port.
    """

    def __init__(self, app: ASGIApp, allowed: Collection[str], answer: Answer) -> None:
        self.app = app
        self.allowed = frozenset(host.lower() for host in allowed)
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = Headers(scope=scope).get("host", "").lower()
            if host not in self.allowed:
                shown = " or ".join(sorted(h for h in self.allowed if ":" in h)) or " or ".join(sorted(self.allowed))
                await self.answer(scope, messages.host_not_allowed(shown))(scope, receive, send)
                return
        await self.app(scope, receive, send)


class LastAnswer:
    """Answers an error no handler answered: logged in full for whoever runs the server, and a
    500 without its text for the visitor. It is not raised further: uvicorn closes a keep-alive
    connection on an error that reaches it, and the client's next request on it was reset."""

    def __init__(self, app: ASGIApp, answer: Answer) -> None:
        self.app = app
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watching(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watching)
        except Exception:
            LOG.exception("error answering %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise  # half a response is out: only closing the connection ends it
            await self.answer(scope, messages.server_error())(scope, receive, send)

"""The web sections of ``scripts/probe.py``: ``archive serve`` as a hostile visitor and a busy writer see it.

``web``: what the server tells (unknown ids, errors: no server path, no
exception text, Arabic pages, JSON for the API), ``HEAD``, an id ending in
``/related``, the ``Host`` header, a request head that never ends, a
right-to-left override in ``q``, markup in ``q``.

``web-writes``: ``/api/stats`` and ``/api/search`` in a loop from a few
clients while a writer adds and deletes an article in a loop (each a commit);
every answer must be a 200 and no connection reset. Run it against other code
with ``--code DIR`` (a checkout whose ``archive`` package serves) to compare.

Every server is started on a free 127.0.0.1 port and stopped at the end.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

HEAD_TIMEOUT_BOUND = 15.0
"""Seconds within which a connection that never finishes its request head must be closed."""


WRITER = """
import sys, time
from archive import Archive, Document
index, seconds = sys.argv[1], float(sys.argv[2])
doc = Document(id="w-loop", title="خبر يضاف ويحذف", body="هطلت أمطار غزيرة على جدة وأغلقت الطرق")
commits, ends = 0, time.monotonic() + seconds
while time.monotonic() < ends:
    Archive.update(index, add=[doc]).close()
    Archive.update(index, delete=[doc.id]).close()
    commits += 2
print(commits)
"""
"""A writer (the package of the code under test) adding and deleting one article, each a commit."""


class Recorder(Protocol):
    def record(self, category: str, case: str, ok: bool, detail: str = "") -> None: ...


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(index: Path, code: Path, *args: str) -> Iterator[int]:
    """``python -m archive serve`` of the package in ``code`` over ``index``; yields its port."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(code), "NO_COLOR": "1"}
    log = (index.parent / "serve.log").open("w")  # not a pipe: a server logging errors would fill it and stall
    proc = subprocess.Popen([sys.executable, "-m", "archive", "serve", "--index", str(index), "--port", str(port),
                             *args], env=env, cwd=code, stdout=subprocess.DEVNULL, stderr=log, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"archive serve ended: {(index.parent / 'serve.log').read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def request(port: int, path: str, *, method: str = "GET", headers: dict[str, str] | None = None,
            timeout: float = 60) -> tuple[int, dict[str, str], str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode("utf-8")
    finally:
        connection.close()


def q(text: str) -> str:
    return urllib.parse.quote(text)


def web_cases(probe: Recorder, index: Path, code: Path) -> None:
    """The ``web`` section over a copy of the probe's archive (an article whose id ends in /related added)."""
    from archive import Archive, Document

    with Archive.update(index, add=[Document(id="a0001/related", title="نسخة بمعرف فيه شرطة مائلة",
                                             body="ارتفعت أسعار النفط بعد قرار أوبك خفض الإنتاج")]):
        pass
    paths = {str(index), str(index.resolve()), str(index.parent)}
    with served(index, code) as port:
        for name, path in [("unknown id, page", "/article?id=nosuch"), ("unknown id, API", "/api/articles/nosuch"),
                           ("unknown related, API", "/api/related/nosuch"), ("bad k, page", "/?q=x&k=0"),
                           ("unknown route", "/nothing"), ("semantic on words only", "/api/search?q=x&mode=semantic")]:
            status, headers, body = request(port, path)
            leaked = [p for p in paths if p in body]
            shape = status == 200 or ((body.startswith("{") and set(json.loads(body)) == {"error", "message"})
                                      if "/api/" in path else
                                      ('lang="ar"' in body and "text/html" in headers.get("content-type", "")))
            probe.record("web", f"{name}: no path or exception", status in (200, 400, 404) and not leaked and shape
                         and "Traceback" not in body, f"{status} {body[:80]!r}")
        for path in ("/", f"/api/search?q={q('النفط')}", "/api/stats", "/article?id=a0001", "/api/articles/a0001"):
            status, headers, body = request(port, path, method="HEAD")
            probe.record("web", f"HEAD {path[:30]}", status == 200 and body == "", f"{status}")
        status, _, body = request(port, "/api/articles/a0001/related")
        probe.record("web", "id ending in /related", status == 200 and json.loads(body)["id"] == "a0001/related",
                     f"{status} {body[:60]!r}")
        status, _, body = request(port, "/api/related/a0001")
        probe.record("web", "related list of a0001", status == 200 and "hits" in json.loads(body), f"{status}")
        for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1:{port + 1}"):
            status, _, body = request(port, "/api/stats", headers={"Host": host})
            probe.record("web", f"Host {host} refused", status in (400, 421) and "documents" not in body,
                         f"{status} {body[:60]!r}")
        status, _, _ = request(port, "/api/stats", headers={"Host": f"localhost:{port}"})
        probe.record("web", "Host localhost:PORT answered", status == 200, f"{status}")
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never the blank line
            sock.settimeout(HEAD_TIMEOUT_BOUND + 5)
            try:
                closed = sock.recv(100) == b""
            except (TimeoutError, ConnectionError):
                closed = False
        waited = time.monotonic() - started
        probe.record("web", "half-open connection closed", closed and waited <= HEAD_TIMEOUT_BOUND, f"{waited:.1f} s")
        status, _, body = request(port, f"/?q={q(chr(0x202E) + 'النفط')}")
        title = body.split("<title>", 1)[-1].split("</title>", 1)[0]
        probe.record("web", "RLO in q not in the page", status == 200 and "\u202e" not in body, f"title {title!r}")
        status, _, body = request(port, f"/?q={q('<script>alert(1)</script>')}")
        probe.record("web", "markup in q escaped", status == 200 and "<script>alert" not in body, f"{status}")


def web_writes(probe: Recorder, index: Path, code: Path, seconds: float = 60.0, clients: int = 4) -> dict[str, Any]:
    """The ``web-writes`` section: requests in a loop while a writer commits in a loop (see the module)."""
    counts = {"requests": 0, "errors": 0, "resets": 0, "commits": 0}
    seen: dict[str, int] = {}
    lock = threading.Lock()
    stop = threading.Event()
    paths = ["/api/stats", f"/api/search?q={q('النفط')}&mode=lexical", "/api/articles/a0002"]

    def client(n: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = n
        while not stop.is_set():
            i += 1
            try:
                connection.request("GET", paths[i % len(paths)])
                response = connection.getresponse()
                response.read()
                status = response.status
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                with lock:
                    counts["resets"] += 1
                    seen[type(exc).__name__] = seen.get(type(exc).__name__, 0) + 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                continue
            with lock:
                counts["requests"] += 1
                if status != 200:
                    counts["errors"] += 1
                    seen[str(status)] = seen.get(str(status), 0) + 1
        connection.close()

    with served(index, code) as port:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for thread in threads:
            thread.start()
        writer = subprocess.run([sys.executable, "-c", WRITER, str(index), str(seconds)], cwd=code, check=True,
                                env={**os.environ, "PYTHONPATH": str(code)}, capture_output=True, text=True)
        counts["commits"] = int(writer.stdout.strip())
        stop.set()
        for thread in threads:
            thread.join(120)
    detail = (f"{counts['requests']} answered, {counts['errors']} not 200, {counts['resets']} resets, "
              f"{counts['commits']} commits in {seconds:g} s {seen or ''}")
    probe.record("web-writes", "every answer 200 while writes commit",
                 counts["errors"] == 0 and counts["resets"] == 0 and counts["requests"] > 0, detail)
    return {**counts, "seen": seen}

"""``archive serve`` under hostile or careless use: what its answers tell, HEAD, ids with slashes,
the Host header, idle connections, bidi controls, writes while it serves, slow requests."""

from __future__ import annotations

import html
import http.client
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from archive import Archive, Document
from archive.following import LiveArchive
from archive.web import server
from archive.web.app import create_app
from archive.web.guards import loopback_hosts
from archive.web.limits import Runner

from .conftest import NEWS
from .webdata import KURSK

SLOW = "بحث بطيء جدا"
"""A query the tests make slow: it waits on an event (a search that a range or a huge article made slow)."""
RLO = "\u202e"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    docs = [*NEWS, *KURSK,
            Document(id="ant/2024/7", title="قوات كورية في كورسك", body="وصلت قوات كورية إلى منطقة كورسك الروسية."),
            Document(id="ant/2024/7/related", title="أسعار النفط ترتفع",
                     body="ارتفعت أسعار النفط بعد قرار أوبك خفض الإنتاج.")]
    with Archive.build(docs, tmp_path_factory.mktemp("hostile") / "index", encoder=None, procs=1) as built:
        yield built


@pytest.fixture(scope="module")
def client(archive: Archive) -> Iterator[TestClient]:
    with TestClient(create_app(archive)) as test_client:
        yield test_client


@contextmanager
def serving(app: object) -> Iterator[int]:
    """A real uvicorn server (the settings of ``archive serve``) over ``app`` on a free loopback port."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    running = uvicorn.Server(server.config(app))
    thread = threading.Thread(target=running.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not running.started:
        thread.join(0.05)
        assert thread.is_alive(), "the server did not start"
    try:
        yield sock.getsockname()[1]
    finally:
        running.should_exit = True
        thread.join(10)
        sock.close()


class Release(threading.Event):
    """Set it to let the held searches finish; ``entered`` counts the searches that have begun."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Semaphore(0)

    def wait_entered(self, count: int = 1) -> None:
        """Blocks until ``count`` slow searches are inside the archive (a sleep races a loaded machine)."""
        for _ in range(count):
            assert self.entered.acquire(timeout=30), "the slow search never began"


@contextmanager
def slow_searches(monkeypatch: pytest.MonkeyPatch) -> Iterator[Release]:
    """Makes a search for :data:`SLOW` wait (up to 30 s) until the yielded event is set."""
    release = Release()
    search = Archive.search

    def waiting(self: Archive, query: str, *args: object, **kwargs: object) -> object:
        if query == SLOW:
            release.entered.release()
            release.wait(30)
        return search(self, query, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Archive, "search", waiting)
    try:
        yield release
    finally:
        release.set()


def get(port: int, path: str, timeout: float = 20) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


# --------------------------------------------------------------- what it tells
def test_an_unknown_id_is_named_without_the_servers_path(client: TestClient, archive: Archive) -> None:
    api = client.get("/api/articles/nosuch")
    assert api.status_code == 404 and api.json() == {"error": "DocumentNotFoundError",
                                                     "message": "no article with id 'nosuch'"}
    page = client.get("/article", params={"id": "nosuch"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="ar" dir="rtl">' in page.text and "لا مقال بالمعرّف 'nosuch'" in html.unescape(page.text)
    english = client.get("/article", params={"id": "nosuch"}, headers={"Accept-Language": "en-GB,en;q=0.9,ar;q=0.5"})
    assert '<html lang="en" dir="ltr">' in english.text and "no article with id 'nosuch'" in html.unescape(english.text)
    arabic = client.get("/article", params={"id": "nosuch"}, headers={"Accept-Language": "ar,en;q=0.8"})
    assert "لا مقال بالمعرّف" in arabic.text
    for response in (api, page, english, client.get("/api/related/nosuch"), client.get("/api/search?k=0"),
                     client.get("/nothing"), client.get("/api/search", params={"q": "x", "mode": "semantic"})):
        assert str(archive.path) not in response.text and str(archive.path.parent) not in response.text
        assert "Traceback" not in response.text and "Error:" not in response.text


@pytest.mark.parametrize("language", ["ar", "en-GB,en;q=0.9"])
def test_no_page_or_api_answer_names_a_server_path(client: TestClient, archive: Archive, language: str) -> None:
    """Every route, in both languages, answered and refused: none names the index's directory (or the
    directory above it), the package's or the working directory."""
    import archive as package

    places = {str(p) for p in (archive.path, archive.path.resolve(), archive.path.parent,
                               Path(package.__file__).resolve().parent, Path.cwd())}
    urls = ["/", "/?q=%D9%83%D9%88%D8%B1%D8%B3%D9%83", "/?q=%D9%83%D9%88%D8%B1%D8%B3%D9%83&mode=semantic",
            "/?q=x&page=50", "/?q=x&since=2024-05-01&until=2024-01-01", "/?q=[a TO b]", "/?k=0",
            "/article?id=ant/2024/7", "/article?id=ant/2024/7&q=x", "/article?id=nosuch", "/article",
            "/api/search?q=x&mode=semantic", "/api/search?q=%D9%83%D9%88%D8%B1%D8%B3%D9%83", "/api/stats",
            "/api/articles/ant/2024/7", "/api/articles/nosuch", "/api/related/ant/2024/7", "/api/related/nosuch",
            "/api/openapi.json", "/nothing", "/static/site.css", "/api/search?q=" + "x" * 600]
    for url in urls:
        response = client.get(url, headers={"Accept-Language": language})
        assert response.status_code in (200, 400, 404), url
        for place in places:
            assert place not in response.text, (url, place)
        assert "Traceback" not in response.text


def test_a_local_models_directory_is_cut_from_what_the_server_says(archive: Archive,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """An archive embedded with a model from a directory of the server (``st:/srv/…``) names the model,
    not the directory, in /api/stats and in a search's notice (the API's and the English page's)."""
    import dataclasses

    from archive.search.floor import NO_FLOOR_NOTICE
    from archive.index.columns import Facets
    from archive.search.results import Hits

    model = "/srv/private/models/arabic-e5"
    stats = Archive.stats

    monkeypatch.setattr(Archive, "stats", lambda self: dataclasses.replace(
        stats(self), encoder=f"st:{model}/sentence-transformers-6.2.0"))
    def search(self: Archive, *args: object, **kwargs: object) -> Hits:
        hits = Hits(mode="lexical", total=0, reason="no article contains these words",
                    notice=NO_FLOOR_NOTICE.format(name=f"st:{model}"))
        hits.facets = Facets(total=0)
        hits.open_facets = {"source": hits.facets, "category": hits.facets}
        return hits

    monkeypatch.setattr(Archive, "search", search)
    client = TestClient(create_app(archive))
    assert client.get("/api/stats").json()["encoder"] == "st:…/arabic-e5/sentence-transformers-6.2.0"
    body = client.get("/api/search", params={"q": "كورسك"}).json()
    assert "st:…/arabic-e5" in body["notice"]
    page = client.get("/", params={"q": "كورسك"}, headers={"Accept-Language": "en"}).text
    assert "st:…/arabic-e5" in page
    for text in (body["notice"], page, client.get("/api/stats").text):
        assert "/srv/private" not in text


def test_an_unexpected_failure_is_500_without_its_text_and_the_connection_stays_usable(
        archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    """/api/stats over a removed generation raised FileNotFoundError: a plain-text 500, and uvicorn
    reset the keep-alive connection, so the client's next request failed too."""
    def gone(self: Archive) -> None:
        raise FileNotFoundError(2, "No such file or directory", f"{self.generation}/docs.sqlite")

    monkeypatch.setattr(Archive, "stats", gone)
    with serving(create_app(archive)) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        connection.request("GET", "/api/stats")
        first = connection.getresponse()
        body = first.read().decode()
        assert first.status == 500 and json.loads(body)["error"] == "ServerError"
        assert str(archive.path) not in body and "FileNotFoundError" not in body and "docs.sqlite" not in body
        connection.request("GET", "/api/search?q=" + urllib.parse.quote("كورسك") + "&mode=lexical")
        second = connection.getresponse()  # the same connection
        assert second.status == 200 and json.loads(second.read())["hits"]
        connection.close()


# ------------------------------------------------------------------------ HEAD
@pytest.mark.parametrize("url", ["/", "/?q=%D9%83%D9%88%D8%B1%D8%B3%D9%83", "/article?id=ant/2024/7",
                                 "/api/search?q=%D9%83%D9%88%D8%B1%D8%B3%D9%83&mode=lexical", "/api/stats",
                                 "/api/articles/ant/2024/7", "/api/related/ant/2024/7", "/static/site.css",
                                 "/robots.txt", "/favicon.ico", "/api/openapi.json", "/nothing",
                                 "/api/articles/nosuch"])
def test_head_is_answered_on_every_route_as_its_get(client: TestClient, url: str) -> None:
    got, head = client.get(url), client.head(url)
    assert head.status_code == got.status_code != 405
    assert head.content == b"" and head.headers.get("content-type") == got.headers.get("content-type")
    if "search" not in url:  # a search's answer carries the time it took
        assert head.headers.get("content-length", "0") == str(len(got.content))
    assert head.headers["content-security-policy"] == got.headers["content-security-policy"]


def test_other_methods_are_405_naming_get_and_head(client: TestClient) -> None:
    response = client.post("/api/stats")
    assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"
    assert response.json()["error"] == "MethodNotAllowed"


# -------------------------------------------------------------- ids with "/"
def test_an_id_ending_in_related_is_fetched_and_so_is_its_related_list(client: TestClient, archive: Archive) -> None:
    article = client.get("/api/articles/ant/2024/7/related").json()
    assert article["id"] == "ant/2024/7/related" and article["title"] == "أسعار النفط ترتفع"
    assert client.get("/api/articles/ant/2024/7").json()["title"] == "قوات كورية في كورسك"
    related = client.get("/api/related/ant/2024/7", params={"k": 3}).json()
    assert related["id"] == "ant/2024/7" and [h["id"] for h in related["hits"]] == \
        [h.id for h in archive.related("ant/2024/7", k=3)]
    assert client.get("/api/related/ant/2024/7/related").json()["id"] == "ant/2024/7/related"
    moved = client.get("/api/articles/kursk-bbc/related")  # the old address of a related list says where it is
    assert moved.status_code == 404 and "/api/related/" in moved.json()["message"]


# ------------------------------------------------------------------------ Host
def test_the_host_header_is_checked_on_loopback(archive: Archive) -> None:
    app = create_app(archive, allowed_hosts=loopback_hosts(8000))
    for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST:8000"):
        assert TestClient(app, base_url=f"http://{host}").get("/api/stats").status_code == 200, host
    for host in ("evil.example:8000", "evil.example", "127.0.0.1:9000", "127.0.0.1", "localhost.evil.example:8000"):
        refused = TestClient(app, base_url=f"http://{host}").get("/api/stats")
        assert refused.status_code == 400 and refused.json()["error"] == "HostNotAllowed", host
        assert "127.0.0.1:8000" in refused.json()["message"] and "documents" not in refused.text
        page = TestClient(app, base_url=f"http://{host}").get("/", params={"q": "كورسك"})
        assert page.status_code == 400 and "لا يجيب هذا الخادم" in page.text and "كورسك" not in page.text
    anywhere = create_app(archive)  # not on loopback: the user opened it to the network
    assert TestClient(anywhere, base_url="http://archive.example:8000").get("/api/stats").status_code == 200


def test_serve_on_loopback_checks_the_host_and_not_on_another_address(monkeypatch: pytest.MonkeyPatch,
                                                                      archive: Archive) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from archive import cli

    served: list[uvicorn.Server] = []

    def listen(host: str, port: int) -> socket.socket:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        return sock

    monkeypatch.setattr(cli, "_listen", listen)
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: served.append(self))
    for host, refused in (("127.0.0.1", True), ("0.0.0.0", False)):
        result = CliRunner().invoke(cli.app, ["serve", "--index", str(archive.path), "--host", host])
        assert result.exit_code == 0, result.output
        config = served[-1].config
        assert config.timeout_keep_alive == server.KEEP_ALIVE_TIMEOUT and config.http is server.BoundedH11Protocol
        answer = TestClient(config.app, base_url="http://rebound.example:8000").get("/api/stats").json()
        assert (answer.get("error") == "HostNotAllowed") is refused, host  # (the command closed its archive)


# ----------------------------------------------------------- idle connections
@pytest.mark.slow
def test_a_connection_that_never_finishes_its_request_head_is_closed(archive: Archive,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "HEAD_TIMEOUT", 0.5)
    with serving(create_app(archive)) as port:
        silent = socket.create_connection(("127.0.0.1", port))
        partial = socket.create_connection(("127.0.0.1", port))
        partial.sendall(b"GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line
        for sock in (silent, partial):
            sock.settimeout(10)
            assert sock.recv(100) == b""  # closed by the server (a timeout here raises)
            sock.close()
        # After a response, the next head has the same time; a complete request is answered.
        kept = socket.create_connection(("127.0.0.1", port))
        kept.settimeout(10)
        kept.sendall(b"GET /robots.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = b""
        while not answer.endswith(b"Disallow: /\n"):
            answer += kept.recv(1000)
        assert answer.startswith(b"HTTP/1.1 200")
        kept.sendall(b"GET /robots.txt HTTP/1.1\r\n")
        assert kept.recv(100) == b""
        kept.close()


# ---------------------------------------------------------------------- bidi
def test_bidi_overrides_are_not_echoed(client: TestClient) -> None:
    query = f"{RLO}كورسك"
    page = client.get("/", params={"q": query, "mode": "lexical"}).text
    assert RLO not in page and "<title>كورسك — أرشيف الأخبار</title>" in page
    assert 'value="كورسك"' in page
    for text in (client.get("/article", params={"id": f"x{RLO}y"}).text,
                 client.get(f"/api/articles/x{RLO}y").text,
                 client.get("/article", params={"id": "ant/2024/7", "q": query}).text):
        assert RLO not in text  # an id's control is shown escaped (\\u202e), as text
    api = client.get("/api/search", params={"q": query, "mode": "lexical"}).json()
    assert api["query"] == query and api["hits"]  # data is data: the API returns the query as sent


# ------------------------------------------------------------ writes meanwhile
@pytest.mark.slow
def test_a_request_reads_one_generation_while_writes_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A request that is still running when two writes commit finishes on the handle it started
    with (it was closed under it at the second swap), and that generation stays on disk."""
    root = tmp_path / "index"
    Archive.build([*NEWS, *KURSK], root, encoder=None, procs=1).close()
    live = LiveArchive(Archive.open(root), interval=0.0)
    with slow_searches(monkeypatch) as release, TestClient(create_app(live)) as client:
        answers: list[object] = []
        slow = threading.Thread(target=lambda: answers.append(client.get(
            "/api/search", params={"q": SLOW, "mode": "lexical"})))
        slow.start()
        release.wait_entered()  # the slow request holds its handle
        first = live.current().generation
        for n, body in enumerate(("هطلت أمطار غزيرة على جدة", "افتتح معرض الكتاب في الرياض")):
            Archive.update(root, add=[Document(id=f"w{n}", body=body)]).close()
            assert client.get("/api/stats").json()["documents"] == len(NEWS) + len(KURSK) + n + 1
        assert first.exists() and live.reopened == 2
        release.set()
        slow.join(30)
        response = answers[0]
        assert response.status_code == 200, response.text  # type: ignore[attr-defined]
        assert response.json()["total"] == 0  # type: ignore[attr-defined]
        Archive.update(root, delete=["w0"]).close()
        assert client.get("/api/stats").json()["documents"] == len(NEWS) + len(KURSK) + 1
    live.close()
    assert not first.exists()


# --------------------------------------------------------------- slow requests
def test_an_unrelated_request_is_answered_while_four_slow_ones_run(archive: Archive,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    with slow_searches(monkeypatch) as release, serving(create_app(archive)) as port:
        slow_path = "/api/search?" + urllib.parse.urlencode({"q": SLOW, "mode": "lexical"})
        results: list[int] = []
        threads = [threading.Thread(target=lambda: results.append(get(port, slow_path)[0])) for _ in range(4)]
        for thread in threads:
            thread.start()
        release.wait_entered(4)
        time.sleep(0.5)  # past the time after which the four step aside
        status, body = get(port, "/api/search?" + urllib.parse.urlencode({"q": "كورسك", "mode": "lexical"}),
                           timeout=10)
        assert status == 200 and body["hits"]
        assert not release.is_set() and all(thread.is_alive() for thread in threads)  # they still run
        release.set()
        for thread in threads:
            thread.join(30)
        assert results == [200] * 4


@pytest.mark.slow
def test_a_request_past_the_time_limit_is_504_with_the_reason(archive: Archive,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(archive, runner=Runner(time_limit=1.0, slow_after=0.2))
    with slow_searches(monkeypatch) as release, TestClient(app) as client:
        api = client.get("/api/search", params={"q": SLOW, "mode": "lexical"})
        assert api.status_code == 504 and api.json()["error"] == "Timeout"
        assert "limit of 1 s" in api.json()["message"] and "narrow the search" in api.json()["message"]
        page = client.get("/", params={"q": SLOW, "mode": "lexical"})
        assert page.status_code == 504 and "الحد المسموح به (1 ثانية)" in page.text
        release.set()
        assert client.get("/api/search", params={"q": "كورسك", "mode": "lexical"}).status_code == 200


def test_a_request_that_cannot_start_within_the_limit_is_503(archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    """With every turn held by a slow request that may not step aside, the next one is told the
    server is busy when the time limit passes, rather than waiting for ever."""
    app = create_app(archive, runner=Runner(workers=1, overtime=0, time_limit=1.0, slow_after=0.2))
    with slow_searches(monkeypatch) as release, TestClient(app) as client:
        first: list[object] = []
        holder = threading.Thread(target=lambda: first.append(client.get(
            "/api/search", params={"q": SLOW, "mode": "lexical"})))
        holder.start()
        release.wait_entered()
        waiting = client.get("/api/search", params={"q": "كورسك", "mode": "lexical"})
        assert waiting.status_code == 503 and waiting.json()["error"] == "Busy"
        assert "try again" in waiting.json()["message"]
        holder.join(30)
        assert first[0].status_code == 504  # type: ignore[attr-defined]
        release.set()


def test_control_characters_in_the_query_are_not_echoed_into_the_page(client: TestClient) -> None:
    """NUL, SOH and an escape sequence in ``q`` (``/?q=%00%01%1b[31m``) made the HTML invalid."""
    page = client.get("/?q=%00%01%1b[31m%D9%83%D9%88%D8%B1%D8%B3%D9%83%C2%9B&mode=lexical").text
    assert not any(c in page for c in "\x00\x01\x1b\x9b")
    assert "<title>[31mكورسك — أرشيف الأخبار</title>" in page and 'value="[31mكورسك"' in page

"""``archive serve``: every route, parameter and error through the ASGI test client, hostile
articles (XSS), read-only serving, concurrent requests over one Archive, and the command."""

from __future__ import annotations

import hashlib
import html
import json
import re
import socket
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markupsafe import Markup, escape
from starlette.testclient import TestClient
from typer.testing import CliRunner

from archive import Archive, Document
from archive.files.readers import read_documents
from archive.web import pages
from archive.index.columns import NO_VALUE, fold
from archive.web.app import CSP, MAX_QUERY_LENGTH, create_app

from .conftest import NEWS, ROOT, SEED_ID, SEEDS
from .webdata import DAM_MONTHS_2018, HOSTILE, KURSK, XSS_IMG, XSS_SCRIPT, dam_documents

MISSION = "قوات كورية في كورسك"


def web_documents() -> list[Document]:
    return [*read_documents(SEEDS), *NEWS, *KURSK]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    twin = Document(id="kursk-cnn-copy", title="نسخة", body=KURSK[2].body, source="CNN copy")
    with Archive.build([*web_documents(), *HOSTILE, twin], tmp_path_factory.mktemp("web") / "index",
                       encoder="hashing", procs=1) as built:
        yield built


@pytest.fixture(scope="module")
def client(archive: Archive) -> Iterator[TestClient]:
    with TestClient(create_app(archive)) as test_client:
        yield test_client


def _ids_in_page(text: str) -> list[str]:
    return [urllib.parse.unquote_plus(m) for m in re.findall(r'href="/article\?id=([^&"]+)', text)]


# ------------------------------------------------------------------ search page
def test_search_page_finds_the_kursk_reports_first_right_to_left(client: TestClient) -> None:
    page = client.get("/", params={"q": MISSION, "mode": "lexical"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="ar" dir="rtl">' in page.text
    ids = _ids_in_page(page.text)
    assert set(ids[:2]) == {SEED_ID, "kursk-aljazeera"}, ids  # the two reports of Korean troops in Kursk
    assert "<mark>كورسك</mark>" in page.text  # the matched passage, query words marked
    assert re.search(r"عدد المقالات التي تحوي كلمات البحث: <strong>\d+</strong>", page.text)


def test_search_page_shows_facets_as_checkboxes_with_counts(client: TestClient, archive: Archive) -> None:
    page = client.get("/", params={"q": MISSION, "mode": "lexical"}).text
    facets = archive.facets(MISSION)
    for value, count in facets.sources.items():
        if value != NO_VALUE:
            escaped = html.escape(fold(value))  # the checkbox carries the folded value, the label its spelling
            assert re.search(rf'name="source" value="{re.escape(escaped)}"\s*>\s*<bdi>[^<]*</bdi> '
                             rf'<span class="n">{count}</span>', page), value
    assert 'name="category" value="world"' in page
    # Choosing a source keeps the other sources listed with their counts (the filter without itself).
    chosen = client.get("/", params={"q": MISSION, "mode": "lexical", "source": "bbc"}).text
    assert 'value="bbc" checked' in chosen and 'value="cnn"' in chosen
    assert set(_ids_in_page(chosen)) <= {d.id for d in [*NEWS, *KURSK] if d.source == "BBC"}


def test_histogram_bars_link_to_their_month(client: TestClient, archive: Archive) -> None:
    page = client.get("/", params={"q": MISSION, "mode": "lexical"}).text
    months = archive.facets(MISSION).months
    svg = page[page.index("<svg"):page.index("</svg>")]
    bars = re.findall(r'<a href="([^"]+)" class="bar" aria-label="(\d{4}-\d{2}): (\d+)"', svg)
    series = pages.month_series(months)
    assert [(m, int(c)) for _, m, c in bars] == series  # every month from the first to the last, gaps at 0
    href = html.unescape(next(h for h, m, _ in bars if m == "2024-11"))
    narrowed = client.get("/" + href)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(href).query)
    assert query["since"] == ["2024-11-01"] and query["until"] == ["2024-11-30"] and query["q"] == [MISSION]
    assert _ids_in_page(narrowed.text) == ["kursk-aljazeera"]


def test_sort_and_dates_and_mode_reach_the_library(client: TestClient, archive: Archive) -> None:
    for sort in ("date", "-date", "relevance"):
        for mode in ("lexical", "hybrid", "semantic"):
            page = client.get("/", params={"q": MISSION, "mode": mode, "sort": sort, "since": "2024-01-01"}).text
            expected = [h.id for h in archive.search(MISSION, mode=mode, sort=sort, since="2024-01-01")]
            assert _ids_in_page(page)[: len(expected)] == expected, (mode, sort)
    newest = client.get("/", params={"q": MISSION, "sort": "-date", "mode": "lexical"}).text
    assert _ids_in_page(newest)[0] == "kursk-cnn"  # 2024-12-02, the newest report


def test_pages_of_results(client: TestClient, archive: Archive) -> None:
    first = client.get("/", params={"q": MISSION, "mode": "lexical", "k": 2}).text
    second = client.get("/", params={"q": MISSION, "mode": "lexical", "k": 2, "page": 2}).text
    everything = [h.id for h in archive.search(MISSION, mode="lexical", k=4)]
    assert _ids_in_page(first)[:2] == everything[:2] and _ids_in_page(second)[:2] == everything[2:4]
    assert 'href="?q=' in first and "page=2" in first and '<ol class="hits" start="3">' in second
    assert '<span aria-current="page">2</span>' in second


def test_start_page_and_a_query_without_searchable_words(client: TestClient) -> None:
    start = client.get("/")
    assert start.status_code == 200 and "<svg" in start.text and '<ol class="hits"' not in start.text
    stop_words = client.get("/", params={"q": "في من"})
    assert stop_words.status_code == 200
    assert "لا نتائج" in stop_words.text and "ليس في البحث كلمة يُبحث بها" in stop_words.text


def test_shareable_urls_keep_every_choice(client: TestClient) -> None:
    params = {"q": MISSION, "mode": "lexical", "sort": "-date", "source": ["bbc", "cnn"], "category": "world",
              "since": "2024-01-01", "until": "2024-12-31", "k": "2"}
    page = client.get("/", params=params).text
    for fragment in ('value="-date" selected', 'value="lexical" checked', 'value="bbc" checked',
                     'value="cnn" checked', 'value="world" checked', 'name="since" value="2024-01-01"',
                     'name="until" value="2024-12-31"', 'name="k" value="2"'):
        assert fragment in page, fragment
    assert 'method="get"' in page


# ------------------------------------------------------------------------ API
def test_api_search_mirrors_the_library(client: TestClient, archive: Archive) -> None:
    body = client.get("/api/search", params={"q": MISSION, "mode": "lexical", "k": 3}).json()
    hits = archive.search(MISSION, mode="lexical", k=3)
    assert [h["id"] for h in body["hits"]] == [h.id for h in hits]
    first = body["hits"][0]
    assert first["id"] == hits[0].id and first["rank"] == 1 and first["snippet"] == hits[0].snippet
    assert SEED_ID in [h["id"] for h in body["hits"][:2]]
    assert first["marks"] == [list(m) for m in hits[0].marks]
    assert any(first["snippet"][s:e] == "كورسك" for s, e in first["marks"])
    facets = archive.facets(MISSION)
    assert body["total"] == hits.total == facets.total and body["facets"]["sources"] == facets.sources
    assert body["facets"]["months"] == facets.months
    assert body["histogram"] == [{"month": m, "count": c} for m, c in pages.month_series(facets.months)]
    filtered = client.get("/api/search", params={"q": MISSION, "mode": "lexical", "source": ["BBC", "cnn"],
                                                 "category": "world", "until": "2024-11-01"}).json()
    assert {h["source"] for h in filtered["hits"]} <= {"BBC", "CNN"} and filtered["hits"]
    assert all(h["published"] <= "2024-11-02" for h in filtered["hits"])
    page2 = client.get("/api/search", params={"q": MISSION, "mode": "lexical", "k": 2, "page": 2}).json()
    assert [h["rank"] for h in page2["hits"]] == [3, 4]
    empty = client.get("/api/search", params={"q": "و"}).json()
    assert empty["hits"] == [] and "no searchable words" in empty["reason"]


def test_api_article_related_and_stats(client: TestClient, archive: Archive) -> None:
    article = client.get(f"/api/articles/{SEED_ID}", params={"q": "كورسك"}).json()
    doc = archive.get(SEED_ID)
    assert article["body"] == doc.body and article["title"] == doc.title and article["duplicates"] == []
    assert article["marks"] and all(doc.body[s:e] == "كورسك" for s, e in article["marks"])
    assert "marks" not in client.get(f"/api/articles/{SEED_ID}").json()
    copy = client.get("/api/articles/kursk-cnn").json()
    assert copy["duplicates"] == ["kursk-cnn-copy"]
    assert client.get("/api/articles/kursk-cnn-copy").json()["duplicate_of"] == "kursk-cnn"
    related = client.get(f"/api/related/{SEED_ID}", params={"k": 3}).json()
    assert related["mode"] == "semantic"
    assert [h["id"] for h in related["hits"]] == [h.id for h in archive.related(SEED_ID, k=3)]
    assert SEED_ID not in {h["id"] for h in related["hits"]}
    stats = client.get("/api/stats").json()
    assert stats["documents"] == len(archive) and stats["encoder"] == "hashing/1"
    assert stats["folded_duplicates"] == 1 and "path" not in stats
    spec = client.get("/api/openapi.json").json()
    assert set(spec["paths"]) == {"/api/search", "/api/articles/{doc_id}", "/api/related/{doc_id}", "/api/stats",
                                  "/api/story"}
    params = {p["name"] for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    assert params == {"q", "k", "page", "mode", "sort", "source", "category", "since", "until", "fold", "variants"}


def test_ids_with_slashes_and_reserved_characters(tmp_path: Path) -> None:
    doc = Document(id="ant/2024/11 #1?", title="خبر كورسك", body="خبر عن منطقة كورسك الروسية.")
    with Archive.build([doc, *NEWS], tmp_path / "index", encoder=None, procs=1) as archive:
        client = TestClient(create_app(archive))
        quoted = urllib.parse.quote(doc.id, safe="")
        assert client.get(f"/api/articles/{quoted}").json()["id"] == doc.id
        assert client.get(f"/api/related/{quoted}").json()["mode"] == "lexical"
        page = client.get("/", params={"q": "كورسك"}).text
        assert _ids_in_page(page) == [doc.id]
        assert client.get("/article", params={"id": doc.id}).status_code == 200


@pytest.mark.parametrize(("url", "params", "message", "arabic"), [
    ("/api/search", {"q": "x", "mode": "fuzzy"}, "unknown mode 'fuzzy'; choose one of", "طريقة بحث غير معروفة 'fuzzy'"),
    ("/api/search", {"q": "x", "sort": "title"}, "unknown sort 'title'; choose one of", "ترتيب غير معروف 'title'"),
    ("/api/search", {"q": "x", "since": "yesterday"}, "since: 'yesterday' is not a date",
     "من تاريخ (since): 'yesterday' ليس تاريخًا"),
    ("/api/search", {"q": "x", "since": "2024-05-01", "until": "2024-01-01"}, "since (2024-05-01) is after until",
     "تاريخ البداية (2024-05-01) بعد تاريخ النهاية (2024-01-01)"),
    ("/api/search", {"q": "x", "k": "0"}, "k: Input should be greater than or equal to 1",
     "عدد النتائج في الصفحة (k): يجب ألا يقل عن 1"),
    ("/api/search", {"q": "x", "k": "101"}, "k: Input should be less than or equal to 100",
     "عدد النتائج في الصفحة (k): يجب ألا يزيد على 100"),
    ("/api/search", {"q": "x", "k": "ten"}, "k: Input should be a valid integer",
     "عدد النتائج في الصفحة (k): يجب أن يكون عددًا صحيحًا"),
    ("/api/search", {"q": "x", "page": "0"}, "page: Input should be greater than or equal to 1",
     "الصفحة (page): يجب ألا يقل عن 1"),
    ("/api/search", {"q": "x", "k": "100", "page": "11"}, "reaches past the first 1,000 hits",
     "تتجاوز أول 1,000 نتيجة"),
    ("/api/search", {"q": "x" * (MAX_QUERY_LENGTH + 1)}, f"q: String should have at most {MAX_QUERY_LENGTH}",
     f"نص البحث (q): لا يتجاوز {MAX_QUERY_LENGTH} حرفًا"),
    ("/api/search", {"q": "x", "source": ["s"] * 51}, "source: at most 50 values", "المصدر (source): 50 قيمة على الأكثر"),
    ("/api/search", {"q": "x", "category": "c" * 201}, "category: a value is at most 200 characters",
     "التصنيف (category): القيمة 200 حرفًا على الأكثر"),
    ("/api/search", {"q": "[a TO b]", "mode": "lexical"}, "range queries ([a TO b]) are not supported",
     "البحث في نطاق ([a TO b]) غير مدعوم"),
    ("/api/related/x", {"k": "51"}, "k: Input should be less than or equal to 50",
     "عدد النتائج في الصفحة (k): يجب ألا يزيد على 50"),
])
def test_bad_input_is_400_with_the_libraries_message(client: TestClient, url: str, params: dict, message: str,
                                                     arabic: str) -> None:
    """The API names what is wrong in English; a page says it in Arabic (the library's English words
    are not shown), or in English when the browser prefers English."""
    response = client.get(url, params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "QueryError" and message in body["message"], body
    page_url = "/" if url == "/api/search" else "/article"
    page_params = params if url == "/api/search" else {"id": "x", "q": "x" * (MAX_QUERY_LENGTH + 1)}
    page = client.get(page_url, params=page_params)
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    if url == "/api/search":
        assert str(escape(arabic)) in page.text and str(escape(message)) not in page.text
        assert 'lang="en"' not in page.text.split('id="detail"')[1].split(">")[0]
        english = client.get("/", params=params, headers={"Accept-Language": "en-US,en;q=0.9"})
        assert english.status_code == 400 and str(escape(message)) in english.text and arabic not in english.text
    else:  # a page's own parameter, named the same way
        assert "نص البحث (q): لا يتجاوز" in page.text


def test_every_refusal_a_page_can_give_has_arabic_words() -> None:
    """Each detail the web layer or the library gives for a refused request has an Arabic rendering
    (one not in the table would be shown in English, marked as such)."""
    from archive.web import messages

    details = ["k: Input should be greater than or equal to 1; page: Input should be a valid integer",
               "id: Field required", "at most 8 quoted phrases in one query (each is matched over the whole "
               "archive); split the search",
               "semantic search needs vectors, and the archive was built without an encoder (lexical only). "
               "Fix: archive build --encoder e5-small",
               "the articles related to an article are at /api/related/ID (the whole path after /api/articles/ "
               "is an id)"]
    for detail in details:
        arabic = messages.arabic_detail(detail)
        assert arabic and re.search("[\u0621-\u064a]{3}", arabic) and "Input should" not in arabic, detail
    assert messages.arabic_detail("something the table does not know") is None
    shown, english = messages.bad_request("something new").detail_text(english=False)
    assert shown == "something new" and english


def test_semantic_on_a_lexical_archive_is_400_and_hybrid_is_lexical(tmp_path: Path) -> None:
    with Archive.build(NEWS, tmp_path / "index", encoder=None, procs=1) as archive:
        client = TestClient(create_app(archive))
        refused = client.get("/api/search", params={"q": "النفط", "mode": "semantic"})
        assert refused.status_code == 400 and "semantic search needs vectors" in refused.json()["message"]
        assert client.get("/api/search", params={"q": "النفط"}).json()["mode"] == "lexical"
        page = client.get("/", params={"q": "النفط"}).text
        assert 'value="semantic" disabled' in page.replace("\n", " ").replace("  ", " ") or "disabled" in page


def test_unknown_ids_and_routes_are_404(client: TestClient) -> None:
    for url in ("/api/articles/no-such-id", "/api/related/no-such-id"):
        response = client.get(url)
        assert response.status_code == 404 and response.json()["error"] == "DocumentNotFoundError"
        assert "no-such-id" in response.json()["message"]
    page = client.get("/article", params={"id": "no-such-id"})
    assert page.status_code == 404 and "no-such-id" in page.text and "غير موجود" in page.text
    assert client.get("/api/nothing").json()["error"] == "NotFound"
    assert client.get("/nothing").status_code == 404
    assert client.get("/article").status_code == 400  # id is required


def test_no_path_or_id_reads_outside_the_archive(client: TestClient) -> None:
    for url in ("/static/../../../../etc/passwd", "/static/..%2F..%2F..%2Fetc%2Fpasswd", "/static/site.css/../x",
                "/api/articles/..%2F..%2F..%2Fetc%2Fpasswd", "/article?id=../../../etc/passwd",
                "/api/articles/%2Fetc%2Fpasswd"):
        response = client.get(url)
        assert response.status_code in (400, 404), url
        assert "root:" not in response.text


def test_the_server_only_reads(client: TestClient, archive: Archive) -> None:
    def tree() -> dict[str, str]:
        return {str(p.relative_to(archive.path)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(archive.path.rglob("*")) if p.is_file()}

    before = tree()
    for url in ("/", f"/?q={MISSION}", f"/article?id={SEED_ID}", "/api/stats", f"/api/search?q={MISSION}",
                f"/api/related/{SEED_ID}"):
        assert client.get(url).status_code == 200
    for method in ("post", "put", "delete", "patch"):
        assert getattr(client, method)("/api/search").status_code == 405
        assert getattr(client, method)(f"/api/articles/{SEED_ID}").status_code == 405
    assert tree() == before


# ----------------------------------------------------------------------- XSS
class _Elements(HTMLParser):
    """Every element a browser would build from a page: tag and attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {name: value or "" for name, value in attrs}))

    handle_startendtag = handle_starttag


def _assert_inert(text: str) -> None:
    parser = _Elements()
    parser.feed(text)
    parser.close()
    tags = {tag for tag, _ in parser.elements}
    assert not tags & {"script", "img", "iframe", "object", "embed"}, tags
    for tag, attrs in parser.elements:
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        for name in ("href", "src", "action", "formaction"):
            assert not attrs.get(name, "").strip().lower().startswith(("javascript:", "data:")), (tag, attrs)
    assert len([t for t, _ in parser.elements if t == "html"]) == 1  # no markup broke out of its place


@pytest.mark.parametrize("url", [
    "/?q=خبيث&mode=lexical", "/?q=خبيث&mode=hybrid", "/?q=خبيث&mode=semantic", "/?q=خبيث&sort=date",
    "/article?id=evil-1&q=خبيث", "/article?id=" + urllib.parse.quote(HOSTILE[1].id) + "&q=خبيث",
    "/article?id=evil-1", "/?q=" + urllib.parse.quote(XSS_SCRIPT), "/?q=" + urllib.parse.quote(XSS_IMG),
    "/article?id=" + urllib.parse.quote(XSS_SCRIPT), "/?q=x&since=" + urllib.parse.quote(XSS_SCRIPT[:30]),
])
def test_hostile_articles_and_queries_are_escaped(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code in (200, 400, 404), url
    assert response.headers["content-security-policy"] == CSP
    _assert_inert(response.text)


def test_hostile_article_shows_its_text_as_text(client: TestClient) -> None:
    page = client.get("/article", params={"id": "evil-1", "q": "خبيث"}).text
    assert html.escape(XSS_SCRIPT, quote=False).replace("'", "&#39;") in page  # shown, as text
    assert "javascript:" not in page.lower()  # no link to the original: not http(s)
    results = client.get("/", params={"q": "خبيث", "mode": "lexical"}).text
    assert "&lt;script&gt;" in results and "&lt;img" in results.replace("&#34;", '"')
    evil2 = client.get("/article", params={"id": HOSTILE[1].id}).text
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in evil2 and "&#34; onmouseover=&#34;" in evil2
    api = client.get("/api/articles/evil-1").json()  # the API gives the data as it is: JSON, never HTML
    assert api["title"] == HOSTILE[0].title and api["url"] == HOSTILE[0].url


def test_marks_are_put_on_escaped_text() -> None:
    text = "a <b>كورسك</b> & <script>x</script>"
    start = text.index("كورسك")
    out = pages.marked_html(text, [(start, start + 5), (start + 2, start + 3), (0, 0)])
    assert str(out) == "a &lt;b&gt;<mark>كورسك</mark>&lt;/b&gt; &amp; &lt;script&gt;x&lt;/script&gt;"
    assert pages.marked_html("<x>", [(0, 3)]) == "<mark>&lt;x&gt;</mark>"


@pytest.mark.parametrize(("url", "safe"), [
    ("https://example.org/a?b=1", True), ("http://example.org", True), ("javascript:alert(1)", False),
    ("JAVASCRIPT:alert(1)", False), (" javascript:alert(1)", False), ("data:text/html,<script>", False),
    ("vbscript:x", False), ("//evil.example/x", False), ("/etc/passwd", False), ("https:///x", False),
    ("http://[::1", False), ("", False),
])
def test_only_http_links_to_the_original(url: str, safe: bool) -> None:
    assert (pages.safe_url(url) is not None) is safe


def test_security_headers_on_every_response(client: TestClient) -> None:
    for url in ("/", "/api/stats", "/static/site.css", "/nothing", "/api/search?k=0", "/api/openapi.json"):
        headers = client.get(url).headers
        assert headers["content-security-policy"] == CSP, url
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
    assert "script-src" not in CSP and "default-src 'none'" in CSP  # no script runs on these pages


# --------------------------------------------------------------- concurrency
@pytest.fixture(scope="module")
def live_url(archive: Archive) -> Iterator[str]:
    """A real uvicorn server over the module's archive, on a free loopback port, in this process."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(archive), log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.05)
        assert thread.is_alive(), "the server did not start"
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.mark.slow
def test_concurrent_requests_equal_serial_ones(live_url: str) -> None:
    urls = []
    for query in (MISSION, "أسعار النفط", '"منطقة كورسك"', "كوريا -روسيا", "الهلال OR النصر", "حرب أوكرانيا"):
        q = urllib.parse.quote(query)
        urls += [f"/api/search?q={q}&mode=lexical", f"/api/search?q={q}&mode=hybrid",
                 f"/api/search?q={q}&mode=semantic&sort=date", f"/api/search?q={q}&mode=lexical&source=bbc",
                 f"/?q={q}&mode=hybrid"]
    urls += [f"/api/related/{SEED_ID}", f"/api/articles/kursk-bbc?q={urllib.parse.quote('كورسك')}",
             f"/article?id={SEED_ID}&q={urllib.parse.quote(MISSION)}", "/api/stats"]

    def fetch(url: str) -> tuple[int, str]:
        with urllib.request.urlopen(live_url + url, timeout=60) as response:
            text = response.read().decode("utf-8")
            if url.startswith("/api/search"):  # all but the time it took
                body = json.loads(text)
                assert body.pop("took_ms") >= 0
                text = json.dumps(body, ensure_ascii=False)
            return response.status, text

    serial = {url: fetch(url) for url in urls}
    with ThreadPoolExecutor(16) as pool:
        for _ in range(4):
            for url, result in zip(urls * 2, pool.map(fetch, urls * 2)):
                assert result == serial[url], url
    assert all(status == 200 for status, _ in serial.values())
    assert SEED_ID in [hit["id"] for hit in json.loads(serial[urls[0]][1])["hits"][:2]]


# ------------------------------------------------------------------- command
def test_serve_binds_loopback_by_default_and_warns_for_another_host(monkeypatch: pytest.MonkeyPatch,
                                                                    archive: Archive) -> None:
    import uvicorn

    from archive import cli

    bound: list[tuple[str, int]] = []
    served: list[uvicorn.Server] = []

    def listen(host: str, port: int) -> socket.socket:  # records the address, binds a free loopback port
        bound.append((host, port))
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        return sock

    monkeypatch.setattr(cli, "_listen", listen)
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: served.append(self))
    runner = CliRunner()
    result = runner.invoke(cli.app, ["serve", "--index", str(archive.path)])
    assert result.exit_code == 0, result.output
    assert bound[-1] == ("127.0.0.1", 8000) and len(served) == 1
    assert "warning" not in result.output and "http://127.0.0.1:8000/" in result.output
    result = runner.invoke(cli.app, ["serve", "--index", str(archive.path), "--host", "0.0.0.0", "--port", "8123"])
    assert result.exit_code == 0 and bound[-1] == ("0.0.0.0", 8123)
    assert "warning: listening on 0.0.0.0" in result.output and "no login" in result.output


def test_serve_names_a_port_in_use(archive: Archive) -> None:
    from archive.cli import app

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", "--index", str(archive.path), "--port", str(port)])
    assert result.exit_code == 1
    assert result.output.startswith(f"error: cannot listen on 127.0.0.1 port {port}: ") and "Fix: --port" in result.output


def test_serve_names_a_missing_index(tmp_path: Path) -> None:
    from archive.cli import app

    result = CliRunner().invoke(app, ["serve", "--index", str(tmp_path / "nowhere")])
    assert result.exit_code == 1 and result.output.startswith("error: ")
    assert CliRunner().invoke(app, ["serve", "--port", "0"]).exit_code == 2


def test_other_commands_do_not_import_the_web_stack() -> None:
    """``archive --help`` and the other commands start no slower for ``serve``: nothing of the web stack loads."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from archive.cli import app\n"
        "assert CliRunner().invoke(app, ['--help']).exit_code == 0\n"
        "assert CliRunner().invoke(app, ['serve', '--help']).exit_code == 0\n"
        "heavy = ('fastapi', 'starlette', 'uvicorn', 'jinja2', 'archive.web')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m.startswith('archive.web')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_templates_and_stylesheet_ship_with_the_package() -> None:
    """The wheel must carry the web files (package-data): checked on the installed package's resources."""
    from importlib.resources import files

    web = files("archive.web")
    for name in ("templates/base.html", "templates/search.html", "templates/article.html",
                 "templates/error.html", "static/site.css"):
        assert web.joinpath(name).is_file(), name
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]
    assert {"web/templates/*.html", "web/static/*.css"} <= set(data["archive"])


def test_stylesheet_robots_and_favicon(client: TestClient) -> None:
    css = client.get("/static/site.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css") and "direction" not in css.text
    assert "font-family" in css.text and "Naskh" in css.text  # a readable Arabic font stack
    assert client.get("/robots.txt").text == "User-agent: *\nDisallow: /\n"
    assert client.get("/favicon.ico").status_code == 204


def test_semantic_pages_count_what_is_near_by_meaning(client: TestClient, archive: Archive) -> None:
    """A search by meaning counts the articles at or above the similarity floor: the pager and the
    facet counts follow that count; with nothing near, the page says so and lists nothing."""
    nothing = client.get("/", params={"q": "Korean soldiers", "mode": "semantic"}).text  # no Arabic word at all
    assert _ids_in_page(nothing) == [] and 'id="no-results"' in nothing and "لا مقال قريب منها بالمعنى" in nothing
    assert "near them by meaning" not in nothing  # the Arabic page says it in Arabic
    query = "جنود كوريون"
    hits = archive.search(query, mode="semantic", k=100)
    assert archive.facets(query, mode="semantic").total == hits.total == len(hits) > 1
    page = client.get("/", params={"q": query, "mode": "semantic", "k": 1}).text
    assert len(_ids_in_page(page)) == 1 and "page=2" in page
    for source, count in archive.facets(query, mode="semantic").sources.items():
        if source != NO_VALUE:
            assert re.search(rf'value="{re.escape(html.escape(fold(source)))}"\s*>\s*<bdi>[^<]*</bdi> '
                             rf'<span class="n">{count}</span>', page), source
    last = client.get("/", params={"q": query, "mode": "semantic", "k": 100}).text
    assert 'class="pager"' not in last  # fewer hits than k: one page
    assert 'name="source" value=""' not in page and f'value="{NO_VALUE}"' not in page  # no value: no checkbox


def test_requests_are_answered_on_a_few_worker_threads(client: TestClient) -> None:
    """Searches are CPU work: the app runs a few at a time (docs/performance.md: 40 threads left
    some requests waiting seconds behind the others under 16 clients)."""
    from archive.web.limits import WORKER_THREADS

    runner = client.app.state.runner  # type: ignore[attr-defined]
    assert runner.workers == WORKER_THREADS == 4 and runner.overtime_max < 4 * WORKER_THREADS


def test_article_links_back_to_the_search_it_was_opened_from(client: TestClient) -> None:
    search = client.get("/", params={"q": MISSION, "mode": "lexical", "source": ["bbc", "cnn"], "sort": "-date"}).text
    link = html.unescape(re.search(r'<h2 dir="auto"><a href="(/article\?id=kursk-cnn[^"]*)"', search).group(1))
    article = client.get(link).text
    back = html.unescape(re.search(r'<a href="([^"]*)">← العودة إلى النتائج</a>', article).group(1))
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(back).query) == {
        "q": [MISSION], "mode": ["lexical"], "sort": ["-date"], "source": ["bbc", "cnn"]}
    assert _ids_in_page(client.get(back).text) == ["kursk-cnn", "kursk-bbc", "war-1"]
    for hostile in ("javascript:alert(1)", "//evil.example/x", "?q=x\\@evil", " ?q=x"):
        page = client.get("/article", params={"id": "kursk-cnn", "back": hostile}).text
        _assert_inert(page)
        assert "العودة إلى النتائج" not in page and "evil.example" not in page and "javascript:" not in page


def test_pages_helpers() -> None:
    assert pages.back_link("?q=%D9%83&source=bbc") == "?q=%D9%83&source=bbc"
    assert pages.back_link("https://x") == pages.back_link("") == pages.back_link("?a#b") == ""
    assert pages.month_series({"2023-11": 2, "2024-02": 1}) == [("2023-11", 2), ("2023-12", 0), ("2024-01", 0),
                                                                ("2024-02", 1)]
    assert pages.month_bounds("2024-02") == ("2024-02-01", "2024-02-29")
    assert pages.query_string({"q": "a b", "source": ["x", "y"]}, page="2", source=None) == "?q=a+b&page=2"
    assert [p and p.number for p in pages.pager(95, 10, 5, 10, {}, last_page=100).pages] == [1, None, 4, 5, 6,
                                                                                              None, 10]
    assert pages.pager(5000, 10, 1, 10, {}, last_page=100).pages[-1].number == 100  # the library's depth


def test_a_damaged_index_is_500_without_the_libraries_message(archive: Archive,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The library's message names files on the server: it goes to the server's log, not to the visitor."""
    from archive.errors import IndexDamagedError

    def damaged(*args: object, **kwargs: object) -> None:
        raise IndexDamagedError(f"{archive.path}/docs.sqlite: damaged. Fix: archive build --full")

    client = TestClient(create_app(archive))
    monkeypatch.setattr(archive, "search", damaged)
    response = client.get("/api/search", params={"q": MISSION})
    assert response.status_code == 500
    assert response.json() == {"error": "ServerError",
                               "message": "the server could not answer this request; the reason is in the server's log"}
    page = client.get("/", params={"q": MISSION})
    assert page.status_code == 500 and "خطأ في الخادم" in page.text and "سجل الخادم" in page.text
    assert "docs.sqlite" not in page.text and str(archive.path) not in page.text


def test_a_partly_embedded_archive_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import archive.writing.operations as operations
    import archive.writing.building as building
    from archive.encoders.hashing import HashingEncoder

    monkeypatch.setattr(building, "EMBED_INLINE_MAX", 0)  # every passage waits: the words alone are committed
    monkeypatch.setattr(operations, "embed_pending", lambda *args, **kwargs: None)
    with Archive.build(NEWS, tmp_path / "index", encoder=HashingEncoder(), procs=1) as partial:
        client = TestClient(create_app(partial))
        body = client.get("/api/search", params={"q": "أسعار النفط"}).json()
        assert body["hits"] and "meaning search covers 0 of" in body["notice"]
        assert client.get("/api/search", params={"q": "أسعار النفط", "mode": "lexical"}).json()["notice"] is None
        page = client.get("/", params={"q": "أسعار النفط"}).text
        assert 'id="coverage-notice"' in page and "archive embed" in page and "البحث بالمعنى لم يكتمل بعد" in page
        assert "meaning search covers" not in page


def test_a_served_archive_follows_the_writes_committed_while_it_serves(tmp_path: Path) -> None:
    from archive.following import LiveArchive

    root = tmp_path / "index"
    Archive.build(NEWS, root, encoder=None, procs=1).close()
    live = LiveArchive(Archive.open(root), interval=0.0)
    client = TestClient(create_app(live))
    assert client.get("/api/search", params={"q": "كورسك", "mode": "lexical"}).json()["hits"] == []
    first = live.current()
    late = Document(id="late-1", title="قوات كورية في كورسك", body="وصلت قوات كورية إلى منطقة كورسك الروسية.",
                    source="Late News")
    Archive.update(root, add=[late]).close()
    body = client.get("/api/search", params={"q": "كورسك", "mode": "lexical"}).json()
    assert [hit["id"] for hit in body["hits"]] == ["late-1"] and live.reopened == 1
    assert client.get("/api/stats").json()["documents"] == len(NEWS) + 1
    page = client.get("/", params={"q": "كورسك"}).text
    assert "Late News" in page  # the new source is a checkbox too
    Archive.update(root, delete=["late-1"]).close()
    assert client.get("/api/search", params={"q": "كورسك", "mode": "lexical"}).json()["hits"] == []
    assert first._closed and not live.current()._closed  # noqa: SLF001 - the handle two swaps back is closed
    live.close()


def test_served_connections_send_without_waiting_for_acks() -> None:
    """Accepted connections have Nagle's algorithm off: with it on, each response waited ~40 ms for a
    delayed ACK (asyncio sets TCP_NODELAY only when the listening socket names its protocol)."""
    import asyncio
    import socket as socket_module

    from archive.cli import _listen

    sock = _listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    seen: list[int] = []

    async def main() -> None:
        async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(writer.get_extra_info("socket").getsockopt(socket_module.IPPROTO_TCP,
                                                                  socket_module.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(accepted, sock=sock)
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())
    assert seen and seen[0] != 0


# ------------------------------------------------------------- phone and scale
@pytest.fixture(scope="module")
def spread(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A story told in 2013, 2018 (sixty reports) and 2024, beside the hostile articles."""
    with Archive.build([*dam_documents(), *HOSTILE], tmp_path_factory.mktemp("spread") / "index",
                       encoder=None, procs=1) as built:
        with TestClient(create_app(built)) as test_client:
            yield test_client


def test_a_story_spread_over_years_is_drawn_by_month_with_edge_bars(spread: TestClient) -> None:
    page = spread.get("/", params={"q": "سد النهضة", "mode": "lexical"}).text
    svg = page[page.index("<svg"):page.index("</svg>")]
    bars = re.findall(r'<a href="([^"]+)" class="bar( edge)?" aria-label="([^"]+)"', svg)
    assert [label for _, _, label in bars] == ["قبل 2018-01: 1", *[f"2018-{m:02d}: {c}" for m, c in
                                                                   enumerate(DAM_MONTHS_2018, 1)], "بعد 2018-12: 1"]
    assert [edge for _, edge, _ in bars] == [" edge", *[""] * 12, " edge"]
    before = urllib.parse.parse_qs(urllib.parse.urlsplit(html.unescape(bars[0][0])).query)
    assert before == {"q": ["سد النهضة"], "mode": ["lexical"], "sort": ["relevance"], "until": ["2017-12-31"]}
    assert _ids_in_page(spread.get("/" + html.unescape(bars[0][0])).text) == ["dam-2013"]
    axis = page[page.index('<div class="axis"'):page.index("</div>", page.index('<div class="axis"'))]
    assert axis.count("<span") == 14 and '<bdi dir="ltr" class="a b c d e">قبل</bdi>' in axis
    assert "العمودان الرماديان: قبل <bdi dir=\"ltr\">2018-01</bdi> وبعد <bdi dir=\"ltr\">2018-12</bdi>" in page
    start = spread.get("/").text  # 2013, 2018, then 2024 (the dam's last filling, the hostile articles): by year
    assert 'aria-label="قبل 2018-01: 1"' in start and 'class="bar edge"' in start and "بعد" not in start
    assert 'aria-label="2024: 3"' in start and "العمود الرمادي: قبل <bdi dir=\"ltr\">2018-01</bdi>" in start


def test_the_pager_has_previous_next_and_ellipses(spread: TestClient) -> None:
    page = spread.get("/", params={"q": "سد النهضة", "mode": "lexical", "k": 3, "page": 5, "fold": 0}).text
    nav = page[page.index('<nav class="pager"'):page.index("</nav>")]
    shown = re.sub(r"<[^>]+>", " ", nav.split(">", 1)[1])
    assert " ".join(shown.split()) == "السابقة 1 … 4 5 6 … 21 التالية"
    assert 'rel="prev"' in nav and "page=4" in nav and 'rel="next"' in nav and "page=6" in nav
    first = spread.get("/", params={"q": "سد النهضة", "mode": "lexical", "k": 3, "fold": 0}).text
    assert '<span class="step off">السابقة</span>' in first and 'rel="next"' in first


def test_titles_in_the_results_are_marked_and_escaped(spread: TestClient) -> None:
    page = spread.get("/", params={"q": "سد النهضة", "mode": "lexical"}).text
    titles = re.findall(r'<h2 dir="auto"><a [^>]+><bdi>(.*?)</bdi></a></h2>', page)
    assert titles and all("<mark>سد</mark> <mark>النهضة</mark>" in title for title in titles), titles[:2]
    hostile = spread.get("/", params={"q": "خبيث", "mode": "lexical"}).text
    title = re.findall(r'<h2 dir="auto"><a [^>]+><bdi>(.*?)</bdi></a></h2>', hostile)
    assert "عنوان <mark>خبيث</mark> &lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in title, title
    _assert_inert(hostile)


def test_an_english_browser_gets_every_word_in_english(spread: TestClient) -> None:
    """With English ranked above Arabic, the pages are English, left to right, histogram included;
    an Arabic (or unspecified) browser gets no English word of the interface."""
    from archive.web.words import WORDS

    english = {"Accept-Language": "en-GB,en;q=0.9,ar;q=0.4"}
    params = {"q": "سد النهضة", "mode": "lexical", "k": 3, "page": 2}
    page = spread.get("/", params=params, headers=english)
    assert page.headers["vary"] == "Accept-Language"
    text = page.text
    assert '<html lang="en" dir="ltr">' in text and "Articles with these words: <strong>62</strong>" in text
    assert 'rel="next">Next</a>' in text and 'aria-label="before 2018-01: 1"' in text
    ui = re.sub(r"<ol class=\"hits\".*?</ol>", "", text, flags=re.S)  # without the articles' own words
    ui = ui.replace('value="سد النهضة"', "").replace("<title>سد النهضة", "<title>")
    ui = re.sub(r"<bdi>[^<]*</bdi>", "", ui).replace("قوات كورية في كورسك", "")  # source names, the example
    assert not re.search("[\u0621-\u064a]", ui), re.findall("[\u0621-\u064a ]+", ui)[:5]
    xs = [float(x) for x in re.findall(r'<rect x="([\d.]+)" y="0"', text)]
    assert xs == sorted(xs)  # earliest on the left
    article = spread.get("/article", params={"id": "dam-2013", "q": "سد"}, headers=english).text
    assert '<html lang="en" dir="ltr">' in article and "<dt>Source</dt>" in article and "Related articles" in article
    arabic = spread.get("/", params=params, headers={"Accept-Language": "ar,en;q=0.5"}).text
    for key in ("found_lexical", "next", "previous", "filters", "apply", "sources"):
        assert WORDS[key][0] in arabic and WORDS[key][1] not in arabic, key


def test_every_word_has_both_languages_with_the_same_values() -> None:
    import string

    from archive.web.words import WORDS, Words

    for key, (arabic, english) in WORDS.items():
        names = [{name for _, name, _, _ in string.Formatter().parse(text) if name} for text in (arabic, english)]
        assert names[0] == names[1] and arabic and english and arabic != english, key
        assert re.search("[\u0621-\u064a]", arabic), key
    assert Words()("articles_count", n=30_000) == "30,000 مقال"
    assert Words(english=True)("histogram_edges", first="<b>", last=Markup("<bdi>x</bdi>")) == \
        ". The grey bars: before &lt;b&gt; and after <bdi>x</bdi>"

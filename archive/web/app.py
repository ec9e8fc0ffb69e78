"""The ASGI app of ``archive serve``: HTML pages and a JSON API over one open :class:`~archive.Archive`.

Why FastAPI (over bare Starlette, which it is built on): the API's
parameters are declared once, as typed function parameters with their limits,
and the same declaration validates requests and produces the OpenAPI
description (``/api/openapi.json``) that the issue asks for; Starlette alone
would need the schema written by hand beside the code. Its extra cost
(pydantic) is paid only by ``archive serve``: the package imports none of it
elsewhere. Pages are Jinja2 templates with autoescaping on for every
template; uvicorn serves the app.

Every route is a plain ``def``: FastAPI runs it on its worker threads, so
requests are answered concurrently over the one ``Archive`` (its readers are
safe to share between threads: see ``tests/test_web.py``). The app only
reads: every route is GET (HEAD), and nothing it calls writes the index.

Errors: the library's typed errors keep their messages; a bad request
(:class:`~archive.errors.QueryError`, :class:`~archive.errors.UsageError`, a
parameter out of its limits) is 400, an unknown id 404, a damaged index 500;
the API answers them as ``{"error": TYPE, "message": TEXT}``, pages as an
HTML page with the same message.
"""

from __future__ import annotations

import json
import time
import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib.resources import files
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..archive import MAX_K, Archive, Hit, Hits
from ..index.columns import NO_VALUE, Facets, fold
from ..errors import ArchiveError, DocumentNotFoundError, QueryError, UsageError
from ..following import LiveArchive
from ..version import __version__
from . import pages

MAX_QUERY_LENGTH = 500
"""Characters in ``q`` (the library cuts at 2,000; no one types a tenth of that)."""
MAX_PAGE_K = 100
"""Hits per page."""
MAX_VALUES = 50
"""Values of one filter (``source``, ``category``) in one request."""
MAX_VALUE_LENGTH = 200
MAX_RELATED = 50
RELATED_ON_PAGE = 6
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")
"""No script at all, styles only from /static, forms only to this server, never framed."""
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
WORKER_THREADS = 4
"""Requests answered at once (the rest wait their turn, first come first served). Searches are
CPU work: more threads than about twice the cores only make them contend for the GIL and the
cores, and a few requests then wait seconds behind the others (docs/performance.md)."""
MODES = ("hybrid", "lexical", "semantic")
SORTS = ("relevance", "date", "-date")


@dataclass(frozen=True, slots=True)
class SearchParams:
    """One search as the URL gives it (checked by FastAPI for type and limits, by the library for the rest)."""

    q: str
    k: int
    page: int
    mode: str
    sort: str
    source: list[str]
    category: list[str]
    since: str
    until: str

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.k

    def filters(self, *, sources: bool = True, categories: bool = True) -> dict[str, Any]:
        """The library's filter arguments (without sources or categories when asked: their facet counts)."""
        return {"source": self.source if sources else None, "category": self.category if categories else None,
                "since": self.since or None, "until": self.until or None}

    def url_params(self) -> dict[str, str | list[str]]:
        """The parameters a page URL carries (defaults left out, so URLs stay short)."""
        params: dict[str, str | list[str]] = {"q": self.q, "mode": self.mode, "sort": self.sort,
                                              "source": self.source, "category": self.category,
                                              "since": self.since, "until": self.until}
        if self.k != 10:
            params["k"] = str(self.k)
        if self.page > 1:
            params["page"] = str(self.page)
        return {name: value for name, value in params.items() if value}


def search_params(
    q: Annotated[str, Query(max_length=MAX_QUERY_LENGTH,
                            description='Words, "phrases", AND/OR/NOT, +must, -exclude, field:value.')] = "",
    k: Annotated[int, Query(ge=1, le=MAX_PAGE_K, description="Hits per page.")] = 10,
    page: Annotated[int, Query(ge=1, description="Page of hits (1 = the best).")] = 1,
    mode: Annotated[str, Query(description="hybrid (words and meaning), lexical (words) or semantic (meaning).",
                               max_length=20)] = "hybrid",
    sort: Annotated[str, Query(description="relevance, date (oldest first) or -date (newest first).",
                               max_length=20)] = "relevance",
    source: Annotated[list[str], Query(description="Only these sources (any of them; repeatable).")] = [],  # noqa: B006 - FastAPI copies defaults
    category: Annotated[list[str], Query(description="Only these categories (any of them; repeatable).")] = [],  # noqa: B006
    since: Annotated[str, Query(description="Published on or after (YYYY-MM-DD).", max_length=40)] = "",
    until: Annotated[str, Query(description="Published on or before (YYYY-MM-DD).", max_length=40)] = "",
) -> SearchParams:
    """The search parameters of a request, within the server's limits (else a 400 naming the parameter)."""
    for name, values in (("source", source), ("category", category)):
        if len(values) > MAX_VALUES:
            raise QueryError(f"{name}: at most {MAX_VALUES} values in one search")
        if any(len(v) > MAX_VALUE_LENGTH for v in values):
            raise QueryError(f"{name}: a value is at most {MAX_VALUE_LENGTH} characters")
    if page * k > MAX_K:
        raise QueryError(f"page {page} of {k} hits reaches past the first {MAX_K:,} hits; narrow the search instead")
    return SearchParams(q, k, page, mode, sort, source, category, since, until)


Search = Annotated[SearchParams, Depends(search_params)]


def hit_json(hit: Hit, rank: int) -> dict[str, Any]:
    return {
        "rank": rank, "id": hit.id, "title": hit.title,
        "published": hit.published.isoformat() if hit.published else None,
        "source": hit.source, "category": hit.category, "author": hit.author, "url": hit.url,
        "score": round(hit.score, 6), "snippet": hit.snippet, "marks": [list(m) for m in hit.marks],
    }


def facets_json(facets: Facets) -> dict[str, Any]:
    return {"total": facets.total, "sources": facets.sources, "categories": facets.categories,
            "months": facets.months}


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every response (a plain ASGI middleware: Starlette's
    ``BaseHTTPMiddleware`` costs about a millisecond a request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _status(exc: ArchiveError) -> int:
    if isinstance(exc, DocumentNotFoundError):
        return 404
    if isinstance(exc, (QueryError, UsageError)):
        return 400
    return 500


def _validation_message(exc: RequestValidationError) -> str:
    """FastAPI's validation errors as one line naming each parameter."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "path"))
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


def create_app(source: Archive | LiveArchive) -> FastAPI:
    """The app over ``source`` (kept open by the caller for as long as the app serves).

    A :class:`~archive.following.LiveArchive` (what ``archive serve`` passes)
    is followed: a write committed while the app serves is answered from
    within a second; a plain :class:`Archive` is its one generation.
    """
    current: Callable[[], Archive] = source.current if isinstance(source, LiveArchive) else (lambda: source)
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
        yield

    app = FastAPI(
        lifespan=lifespan, title="news-archive", version=__version__,
        description="Search an archive of Arabic news by keywords and by meaning (read-only).",
        docs_url=None, redoc_url=None, openapi_url="/api/openapi.json",
    )
    env = Environment(loader=PackageLoader("archive.web", "templates"), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["marked"] = lambda hit: pages.marked_html(hit.snippet, hit.marks)
    env.globals["safe_url"] = pages.safe_url
    env.globals["query_string"] = pages.query_string
    stylesheet = files("archive.web").joinpath("static", "site.css").read_bytes()
    facts = functools.lru_cache(maxsize=2)(_Facts.of)  # per generation: stats read once, not per page

    def render(name: str, code: int = 200, **context: Any) -> HTMLResponse:
        known = facts(current())
        html = env.get_template(name).render(has_vectors=known.has_vectors, documents=known.documents, **context)
        return HTMLResponse(html, status_code=code)

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    def error(request: Request, status: int, kind: str, message: str) -> Response:
        if wants_json(request):
            return JSONResponse({"error": kind, "message": message}, status_code=status)
        return render("error.html", status, status=status, message=message)

    app.add_middleware(SecurityHeaders)

    @app.exception_handler(ArchiveError)
    async def archive_error(request: Request, exc: ArchiveError) -> Response:
        return error(request, _status(exc), type(exc).__name__, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return error(request, 400, "QueryError", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        kind = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")
        response = error(request, exc.status_code, kind, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    # ---------------------------------------------------------------- the API
    @app.get("/api/search", tags=["api"], summary="Search: hits with marked snippets, facet counts, histogram")
    def api_search(params: Search) -> JSONResponse:
        archive = current()
        started = time.perf_counter()
        hits = archive.search(params.q, k=params.k, mode=params.mode, sort=params.sort,  # type: ignore[arg-type]
                              offset=params.offset, **params.filters())
        facets = archive.facets(params.q, **params.filters(), mode=hits.mode)  # type: ignore[arg-type]
        took_ms = (time.perf_counter() - started) * 1000
        return JSONResponse({
            "query": params.q, "page": params.page, "k": params.k, **hits.summary(), "took_ms": round(took_ms, 2),
            "hits": [hit_json(hit, rank) for rank, hit in enumerate(hits, params.offset + 1)],
            "facets": facets_json(facets),
            "histogram": [{"month": month, "count": count} for month, count in pages.month_series(facets.months)],
        })

    @app.get("/api/articles/{doc_id:path}/related", tags=["api"], summary="The articles nearest to one article")
    def api_related(doc_id: str, k: Annotated[int, Query(ge=1, le=MAX_RELATED)] = 10) -> JSONResponse:
        hits = current().related(doc_id, k=k)
        return JSONResponse({"id": doc_id, "mode": hits.mode, "reason": hits.reason,
                             "hits": [hit_json(hit, rank) for rank, hit in enumerate(hits, 1)]})

    @app.get("/api/articles/{doc_id:path}", tags=["api"], summary="One article, with its folded duplicates")
    def api_article(
        doc_id: str,
        q: Annotated[str, Query(max_length=MAX_QUERY_LENGTH, description="Mark this query's words in the body.")] = "",
    ) -> JSONResponse:
        archive = current()
        doc = archive.get(doc_id)
        record: dict[str, Any] = {
            "id": doc.id, "title": doc.title, "published": doc.published.isoformat() if doc.published else None,
            "source": doc.source, "author": doc.author, "category": doc.category, "url": doc.url,
            "language": doc.language, "body": doc.body,
            "duplicate_of": archive.duplicate_of(doc.id), "duplicates": archive.duplicates_of(doc.id),
        }
        if q:
            record["marks"] = [list(m) for m in archive.highlight(doc.body, q).marks]
        return JSONResponse(record)

    @app.get("/api/stats", tags=["api"], summary="What the archive holds")
    def api_stats() -> JSONResponse:
        stats = current().stats()
        return JSONResponse({
            "documents": stats.documents, "folded_duplicates": stats.folded_duplicates,
            "passages": stats.passages, "encoder": stats.encoder, "sources": stats.sources,
            "categories": stats.categories,
            "first_published": stats.first_published.isoformat() if stats.first_published else None,
            "last_published": stats.last_published.isoformat() if stats.last_published else None,
            "built_at": stats.built_at, "updated_at": stats.updated_at, "size_bytes": stats.size_bytes,
        })

    # -------------------------------------------------------------- the pages
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def search_page(params: Search) -> HTMLResponse:
        archive = current()
        known = facts(archive)
        hits: Hits | None = None
        if params.q.strip():
            hits = archive.search(params.q, k=params.k, mode=params.mode, sort=params.sort,  # type: ignore[arg-type]
                                  offset=params.offset, **params.filters())
        counted = _facet_counts(archive, params, hits.mode if hits is not None else "lexical")
        url = params.url_params()
        total = hits.total if hits is not None else counted["all"].total
        return render(
            "search.html", params=params, url=url, hits=hits, facets=counted["all"],
            source_counts=_with_selected(counted["sources"].sources, params.source, known.source_names),
            category_counts=_with_selected(counted["categories"].categories, params.category, known.category_names),
            meaning_only=hits is not None and bool(hits) and hits.mode == "hybrid" and not hits.words,
            histogram=pages.histogram(counted["all"].months, url),
            pager=pages.pager(total, len(hits), params.page, params.k, url, last_page=MAX_K // params.k)
            if hits else [],
            total=total, first_rank=params.offset + 1, modes=MODES, sorts=SORTS,
        )

    @app.get("/article", response_class=HTMLResponse, include_in_schema=False)
    def article_page(
        id: Annotated[str, Query(max_length=1000)],
        q: Annotated[str, Query(max_length=MAX_QUERY_LENGTH)] = "",
        back: Annotated[str, Query(max_length=4000)] = "",
    ) -> HTMLResponse:
        archive = current()
        doc = archive.get(id)
        marks = archive.highlight(doc.body, q).marks if q else ()
        related = archive.related(doc.id, k=RELATED_ON_PAGE)
        back = pages.back_link(back) or (pages.query_string({"q": q}) if q else "")
        return render(
            "article.html", doc=doc, q=q, paragraphs=pages.paragraphs_html(doc.body, marks),
            title_html=pages.marked_html(doc.title, archive.highlight(doc.title, q).marks if q else ()),
            duplicate_of=archive.duplicate_of(doc.id), duplicates=archive.duplicates_of(doc.id),
            related=related, back=back, original=pages.safe_url(doc.url),
        )

    @app.get("/static/site.css", include_in_schema=False)
    def css() -> Response:
        return Response(stylesheet, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)  # no icon, and no 404 in the browser's console

    @app.get("/robots.txt", include_in_schema=False)
    def robots() -> Response:
        return Response("User-agent: *\nDisallow: /\n", media_type="text/plain")

    app.state.archive = source
    return app


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the pages show of an archive as a whole (read once per generation)."""

    has_vectors: bool
    documents: int
    source_names: dict[str, str]
    category_names: dict[str, str]

    @classmethod
    def of(cls, archive: Archive) -> _Facts:
        info = archive.stats()
        return cls(info.encoder is not None, info.documents, {fold(n): n for n in info.sources},
                   {fold(n): n for n in info.categories})


def _facet_counts(archive: Archive, params: SearchParams, mode: str) -> dict[str, Facets]:
    """Counts for the page, over what the search in ``mode`` found: the whole filter (total,
    histogram), and for each checkbox list the filter without its own field, so that other values
    stay visible with what choosing them would give. Identical calls are made once."""
    calls = {"all": params.filters(), "sources": params.filters(sources=False),
             "categories": params.filters(categories=False)}
    done: dict[str, Facets] = {}
    out: dict[str, Facets] = {}
    for name, filters in calls.items():
        key = json.dumps(filters, sort_keys=True)
        if key not in done:
            done[key] = archive.facets(params.q, **filters, mode=mode)  # type: ignore[arg-type]
        out[name] = done[key]
    return out


def _with_selected(
    counts: dict[str, int], selected: list[str], names: dict[str, str]
) -> list[tuple[str, str, int | None, bool]]:
    """``(value, label, count, checked)`` of a checkbox list: every counted value, and the selected
    ones even at 0. The library counts values as the articles spell them; a checkbox carries the
    folded value (as filters compare them, so URLs stay the same whatever the case), and ``names``
    gives each folded value its spelling. When the search found nothing, every value of the
    archive is listed, without a count. Articles without a value (:data:`NO_VALUE`) cannot be
    chosen (a filter needs a value), so they get no checkbox."""
    chosen = {fold(value) for value in selected}
    if not counts:
        return [(value, name, None, value in chosen) for value, name in sorted(names.items())
                if value and name != NO_VALUE]
    rows: list[tuple[str, str, int | None, bool]] = [
        (fold(name), name, count, fold(name) in chosen) for name, count in counts.items() if name != NO_VALUE]
    counted = {fold(name) for name in counts}
    rows += [(value, names.get(value, value), 0, True) for value in sorted(chosen - counted) if value]
    return rows

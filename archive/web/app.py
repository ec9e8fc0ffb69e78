"""The ASGI app of ``archive serve``: HTML pages and a JSON API over one open :class:`~archive.Archive`.

Why FastAPI (over bare Starlette, which it is built on): the API's
parameters are declared once, as typed function parameters with their limits,
and the same declaration validates requests and produces the OpenAPI
description (``/api/openapi.json``) that the issue asks for; Starlette alone
would need the schema written by hand beside the code. Its extra cost
(pydantic) is paid only by ``archive serve``: the package imports none of it
elsewhere. Pages are Jinja2 templates with autoescaping on for every
template, and every value they print loses its bidi overrides and isolates
(:func:`archive.web.messages.without_controls`); uvicorn serves the app.

Each request's library work runs on a worker thread through
:class:`archive.web.limits.Runner` (a few at a time, a slow one steps aside,
a time limit), over one handle of the archive from its first read to its last
(:meth:`archive.following.LiveArchive.reading`). The app only reads: every
route is GET (and HEAD), and nothing it calls writes the index.

Errors (:mod:`archive.web.messages`): a bad request is 400, an unknown id or
address 404, a request past the time limit 504 (503 if it never started), any
other failure 500; the API answers ``{"error": KIND, "message": TEXT}``, pages
an Arabic page (English when the browser prefers it). No answer carries a
server path or an exception's text: failures are logged for whoever runs the
server.
"""

from __future__ import annotations

import time
import functools
import threading
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from importlib.resources import files
from typing import Annotated, Any, TypeVar

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader
from markupsafe import Markup, escape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from ..archive import MAX_K, Archive, ArchiveStats, Hits
from ..index.columns import NO_VALUE, fold
from ..search.options import MODES, SORTS
from ..search.records import facets_record, hit_record
from ..errors import ArchiveError, DocumentNotFoundError, QueryError, UsageError
from ..following import LiveArchive
from ..version import __version__
from . import histogram as histograms
from . import messages, pages
from .guards import LOG, HeadAsGet, HostCheck, LastAnswer, SecurityHeaders
from .limits import Busy, Runner, TooSlow
from .words import Words

from .params import (
    CSP,
    MAX_PAGE_K,
    MAX_QUERY_LENGTH,
    MAX_RELATED,
    MAX_VALUE_LENGTH,
    MAX_VALUES,
    RELATED_ON_PAGE,
    SECURITY_HEADERS,
    Search,
    SearchParams,
    StoryParams,
    StoryRequest,
    search_params,
    story_params,
)

__all__ = ["CSP", "MAX_PAGE_K", "MAX_QUERY_LENGTH", "MAX_RELATED", "MAX_VALUES", "MAX_VALUE_LENGTH",
           "RELATED_ON_PAGE", "SECURITY_HEADERS", "SearchParams", "StoryParams", "create_app", "search_params",
           "story_params"]


def _validation_message(exc: RequestValidationError) -> str:
    """FastAPI's validation errors as one line naming each parameter."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "path"))
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


def _printable(value: Any) -> Any:
    """What a template prints, without bidi overrides or isolates (escaped markup stays markup)."""
    if isinstance(value, Markup):
        return Markup(messages.without_controls(str(value)))
    if isinstance(value, str):
        return messages.without_controls(value)
    return value


T = TypeVar("T")


def create_app(
    source: Archive | LiveArchive, *, allowed_hosts: Collection[str] | None = None, runner: Runner | None = None
) -> FastAPI:
    """The app over ``source`` (kept open by the caller for as long as the app serves).

    A :class:`~archive.following.LiveArchive` (what ``archive serve`` passes)
    is followed: a write committed while the app serves is answered from
    within a second; a plain :class:`Archive` is its one generation.
    ``allowed_hosts``: the ``Host`` values answered (``archive serve`` on
    loopback passes :func:`archive.web.guards.loopback_hosts`); ``None``
    answers any. ``runner``: threads and time limit (default :class:`Runner`).
    """
    runner = runner or Runner()
    reading: Callable[[], Any] = (source.reading if isinstance(source, LiveArchive)
                                  else functools.partial(_as_is, source))
    root = source.path

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=_warm, args=(reading,), name="warm-encoder", daemon=True).start()
        yield
        runner.close()

    app = FastAPI(
        lifespan=lifespan, title="news-archive", version=__version__,
        description="Search an archive of Arabic news by keywords and by meaning (read-only).",
        docs_url=None, redoc_url=None, openapi_url="/api/openapi.json",
    )
    env = Environment(loader=PackageLoader("archive.web", "templates"), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True, finalize=_printable)
    env.filters["marked"] = lambda hit: pages.marked_html(hit.snippet, hit.marks)
    env.globals["safe_url"] = pages.safe_url
    env.globals["query_string"] = pages.query_string
    stylesheet = files("archive.web").joinpath("static", "site.css").read_bytes()
    # A generation never changes: its stats (0.35 s on 30k articles: every file's size, every
    # source and category counted) are read once per handle, not per page or /api/stats.
    stats_of = functools.lru_cache(maxsize=2)(lambda archive: archive.stats())
    facts = functools.lru_cache(maxsize=2)(lambda archive: _Facts.of(stats_of(archive)))

    def render(archive: Archive, name: str, t: Words, **context: Any) -> HTMLResponse:
        known = facts(archive)
        html = env.get_template(name).render(has_vectors=known.has_vectors, documents=known.documents, t=t,
                                             **context)
        return HTMLResponse(html, headers={"Vary": "Accept-Language"})

    def answer(scope: Scope, message: messages.Message) -> Response:
        """The response of ``message``: JSON under /api/, else a page (Arabic unless English is preferred)."""
        if scope.get("path", "").startswith("/api/"):
            return JSONResponse({"error": message.kind, "message": message.api_message()}, status_code=message.status)
        english = messages.prefers_english(Request(scope).headers.get("accept-language", ""))
        html = env.get_template("error.html").render(message=message, english=english, t=Words(english),
                                                     documents=None)
        return HTMLResponse(html, status_code=message.status, headers={"Vary": "Accept-Language"})

    async def run(work: Callable[[Archive], T]) -> T:
        """``work`` on a worker thread over one handle of the archive (see :class:`Runner`)."""
        def on_one_generation() -> T:
            with reading() as archive:
                return work(archive)

        return await runner.run(on_one_generation)

    app.add_middleware(LastAnswer, answer=answer)
    if allowed_hosts is not None:
        app.add_middleware(HostCheck, allowed=allowed_hosts, answer=answer)
    app.add_middleware(HeadAsGet)
    app.add_middleware(SecurityHeaders, headers=SECURITY_HEADERS)

    @app.exception_handler(ArchiveError)
    async def archive_error(request: Request, exc: ArchiveError) -> Response:
        if isinstance(exc, (QueryError, UsageError)):
            return answer(request.scope, messages.bad_request(messages.without_paths(str(exc), root)))
        LOG.error("error answering %s: %s: %s", request.url.path, type(exc).__name__, exc)
        return answer(request.scope, messages.server_error())

    @app.exception_handler(_NotFound)
    async def not_found(request: Request, exc: _NotFound) -> Response:
        return answer(request.scope, exc.message)

    @app.exception_handler(TooSlow)
    async def too_slow(request: Request, exc: TooSlow) -> Response:
        LOG.warning("abandoned after %g s: %s?%s", runner.time_limit, request.url.path, request.url.query[:300])
        return answer(request.scope, messages.too_slow(runner.time_limit))

    @app.exception_handler(Busy)
    async def busy(request: Request, exc: Busy) -> Response:
        return answer(request.scope, messages.busy(runner.time_limit))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return answer(request.scope, messages.bad_request(messages.without_paths(_validation_message(exc), root)))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            response = answer(request.scope, messages.method_not_allowed())
            response.headers["Allow"] = "GET, HEAD"
            return response
        if exc.status_code == 404:
            return answer(request.scope, messages.no_route())
        return answer(request.scope, messages.Message(exc.status_code, "HTTPError", "request refused", "رُفض الطلب"))

    # ---------------------------------------------------------------- the API
    @app.get("/api/search", tags=["api"], summary="Search: hits with marked snippets, facet counts, histogram")
    async def api_search(params: Search) -> JSONResponse:
        def work(archive: Archive) -> JSONResponse:
            started = time.perf_counter()
            hits = archive.search(params.q, k=params.k, mode=params.mode, sort=params.sort,  # type: ignore[arg-type]
                                  offset=params.offset, fold=params.fold, facets=True, variants=params.variants,
                                  **params.filters())
            facets = hits.facets
            assert facets is not None
            took_ms = (time.perf_counter() - started) * 1000
            return JSONResponse({
                "query": params.q, "page": params.page, "k": params.k, **_public(hits.summary()),
                "took_ms": round(took_ms, 2),
                "hits": [hit_record(hit, rank) for rank, hit in enumerate(hits, params.offset + 1)],
                "facets": facets_record(facets),
                "histogram": [{"month": month, "count": count} for month, count in pages.month_series(facets.months)],
            })

        return await run(work)

    @app.get("/api/related/{doc_id:path}", tags=["api"], summary="The articles nearest to one article")
    async def api_related(doc_id: str, k: Annotated[int, Query(ge=1, le=MAX_RELATED)] = 10) -> JSONResponse:
        def work(archive: Archive) -> JSONResponse:
            with _known(doc_id):
                hits = archive.related(doc_id, k=k)
            return JSONResponse({"id": doc_id, "mode": hits.mode, "reason": hits.reason,
                                 "hits": [hit_record(hit, rank) for rank, hit in enumerate(hits, 1)]})

        return await run(work)

    @app.get("/api/story", tags=["api"],
             summary="A story's timeline: the articles about an article (id) or a query (q), grouped into events")
    async def api_story(params: StoryRequest) -> JSONResponse:
        def work(archive: Archive) -> JSONResponse:
            with _known(params.id):
                story = archive.story(**params.arguments())
            return JSONResponse(_public(story.as_dict()))

        return await run(work)

    @app.get("/api/articles/{doc_id:path}", tags=["api"],
             summary="One article (the whole rest of the path is its id, slashes included)")
    async def api_article(
        doc_id: str,
        q: Annotated[str, Query(max_length=MAX_QUERY_LENGTH, description="Mark this query's words in the body.")] = "",
    ) -> JSONResponse:
        def work(archive: Archive) -> JSONResponse:
            with _known(doc_id):
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

        return await run(work)

    @app.get("/api/stats", tags=["api"], summary="What the archive holds")
    async def api_stats() -> JSONResponse:
        def work(archive: Archive) -> JSONResponse:
            stats = stats_of(archive)
            return JSONResponse({
                "documents": stats.documents, "folded_duplicates": stats.folded_duplicates,
                "passages": stats.passages,
                "encoder": messages.without_local_models(stats.encoder) if stats.encoder else None,
                "sources": stats.sources,
                "categories": stats.categories,
                "first_published": stats.first_published.isoformat() if stats.first_published else None,
                "last_published": stats.last_published.isoformat() if stats.last_published else None,
                "built_at": stats.built_at, "updated_at": stats.updated_at, "size_bytes": stats.size_bytes,
            })

        return await run(work)

    # -------------------------------------------------------------- the pages
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def search_page(params: Search, request: Request) -> HTMLResponse:
        t = _words(request)

        def work(archive: Archive) -> HTMLResponse:
            known = facts(archive)
            asked = bool(params.q.strip())
            searched = archive.search(params.q, k=params.k, mode=params.mode if asked else "lexical",  # type: ignore[arg-type]
                                      sort=params.sort, offset=params.offset, fold=params.fold, facets=True,  # type: ignore[arg-type]
                                      variants=params.variants, **params.filters())
            hits = searched if asked else None  # no query yet: the counts of what the filters allow
            assert searched.facets is not None
            counted = {"all": searched.facets, "sources": searched.open_facets["source"],
                       "categories": searched.open_facets["category"]}
            url = params.url_params()
            drawn = histograms.histogram(counted["all"].months, url, edges=(t("before"), t("after")),
                                         rtl=not t.english)
            total = hits.total if hits is not None else counted["all"].total
            return render(
                archive, "search.html", t, params=params, url=url, hits=hits, facets=counted["all"],
                source_counts=_with_selected(counted["sources"].sources, params.source, known.source_names),
                category_counts=_with_selected(counted["categories"].categories, params.category,
                                               known.category_names),
                meaning_only=hits is not None and bool(hits) and hits.mode == "hybrid" and not hits.words,
                **_messages(archive, hits, params, t),
                histogram=drawn, edge_first=_ltr(drawn.first), edge_last=_ltr(drawn.last),
                titles=_titles(hits),
                pager=pages.pager(total, len(hits), params.page, params.k, url, last_page=MAX_K // params.k)
                if hits else pages.Pager(),
                total=total, first_rank=params.offset + 1, modes=MODES, sorts=SORTS,
            )

        return await run(work)

    @app.get("/article", response_class=HTMLResponse, include_in_schema=False)
    async def article_page(
        request: Request,
        id: Annotated[str, Query(max_length=1000)],
        q: Annotated[str, Query(max_length=MAX_QUERY_LENGTH)] = "",
        back: Annotated[str, Query(max_length=4000)] = "",
    ) -> HTMLResponse:
        t = _words(request)

        def work(archive: Archive) -> HTMLResponse:
            with _known(id):
                doc = archive.get(id)
            # title and body marked together: the query is parsed once a page
            title_marks, marks = (pages.split_marks([doc.title, doc.body], archive.highlight(f"{doc.title}\n{doc.body}",
                                                                                              q).marks)
                                  if q else ([], []))
            related = archive.related(doc.id, k=RELATED_ON_PAGE)
            link = pages.back_link(back) or (pages.query_string({"q": q}) if q else "")
            return render(
                archive, "article.html", t, doc=doc, q=q, paragraphs=pages.paragraphs_html(doc.body, marks),
                title_html=pages.marked_html(doc.title, title_marks),
                duplicate_of=archive.duplicate_of(doc.id), duplicates=archive.duplicates_of(doc.id),
                related=related, related_reason=None if t.english else messages.arabic_related_reason(related.reason),
                back=link, original=pages.safe_url(doc.url),
            )

        return await run(work)

    @app.get("/story", response_class=HTMLResponse, include_in_schema=False)
    async def story_page(params: StoryRequest, request: Request) -> HTMLResponse:
        t = _words(request)

        def work(archive: Archive) -> HTMLResponse:
            with _known(params.id):
                story = archive.story(**params.arguments())
            seed = archive.get(story.seed) if story.seed is not None else None
            reason = None
            if story.reason and not t.english:
                reason = messages.arabic_reason(story.reason, story.mode, total=0, offset=0,
                                                filtered=any((params.source, params.category, params.since,
                                                              params.until)))
            return render(archive, "story.html", t, story=story, seed=seed, params=params, reason=reason,
                          notices=_story_notices(archive, story, t))

        return await run(work)

    @app.get("/static/site.css", include_in_schema=False)
    async def css() -> Response:
        return Response(stylesheet, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)  # no icon, and no 404 in the browser's console

    @app.get("/robots.txt", include_in_schema=False)
    async def robots() -> Response:
        return Response("User-agent: *\nDisallow: /\n", media_type="text/plain")

    app.state.archive = source
    app.state.runner = runner
    return app


def _warm(reading: Callable[[], Any]) -> None:
    """Load the encoder and its engine while the server starts; a failure waits for the first
    search by meaning, which reports it as usual."""
    try:
        with reading() as archive:
            archive.warm()
    except Exception:  # noqa: BLE001, S110 - reported by the search that needs the encoder
        pass


@contextmanager
def _as_is(archive: Archive) -> Iterator[Archive]:
    yield archive


class _NotFound(Exception):
    def __init__(self, message: messages.Message) -> None:
        self.message = message


@contextmanager
def _known(doc_id: str) -> Iterator[None]:
    """Turns the library's "no document" (which names the index's path) into the web's own 404."""
    try:
        yield
    except DocumentNotFoundError:
        raise _NotFound(messages.not_found(doc_id)) from None


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the pages show of an archive as a whole (read once per generation)."""

    has_vectors: bool
    documents: int
    source_names: dict[str, str]
    category_names: dict[str, str]

    @classmethod
    def of(cls, info: ArchiveStats) -> _Facts:
        return cls(info.encoder is not None, info.documents, {fold(n): n for n in info.sources},
                   {fold(n): n for n in info.categories})


def _words(request: Request) -> Words:
    """The words of a page in the language the browser prefers (Arabic unless it ranks English higher)."""
    return Words(messages.prefers_english(request.headers.get("accept-language", "")))


def _ltr(text: str) -> Markup:
    """``text`` (a date) as an isolated left-to-right run that never wraps (site.css)."""
    return Markup('<bdi dir="ltr">{}</bdi>').format(text)


def _messages(archive: Archive, hits: Hits | None, params: SearchParams, t: Words) -> dict[str, Any]:
    """The search's reason and notices as the page says them: in Arabic from what the search found and
    the archive's manifest (``reason`` None: unknown, shown in English), or the library's own English."""
    if hits is None:
        return {"reason": None, "notices": []}
    if t.english:
        return {"reason": hits.reason,
                "notices": [messages.without_local_models(hits.notice)] if hits.notice else []}
    reason = None
    if hits.reason and not hits:
        filtered = any(value for value in params.filters().values())
        reason = messages.arabic_reason(hits.reason, hits.mode, total=hits.total or 0, offset=params.offset,
                                        filtered=filtered)
    manifest = archive.manifest
    embedded = None
    if not manifest.embedding_done:
        embedded = (manifest.passages, manifest.planned_passages, manifest.embedded_leads, manifest.leads)
    floor_missing = None
    if hits.mode != "lexical" and hits.floor is None and manifest.encoder is not None:
        floor_missing = messages.without_local_models(manifest.encoder_spec or manifest.encoder)
    return {"reason": reason,
            "notices": messages.arabic_notices(mode=hits.mode, embedded=embedded, floor_missing=floor_missing)}


def _story_notices(archive: Archive, story: Any, t: Words) -> list[str]:
    """What a story page should say besides its events: meaning search over a partly embedded archive."""
    if t.english:
        return [messages.without_local_models(story.notice)] if story.notice else []
    manifest = archive.manifest
    if story.mode == "lexical" or manifest.embedding_done:
        return []
    embedded = (manifest.passages, manifest.planned_passages, manifest.embedded_leads, manifest.leads)
    return messages.arabic_notices(mode=story.mode, embedded=embedded, floor_missing=None)


def _titles(hits: Hits | None) -> list[Markup]:
    """Each hit's title with the query's words marked as in its snippet (its id when it has no title),
    from the words the search looked for: the query is not parsed again."""
    if not hits:
        return []
    titles = [hit.title.replace("\n", " ") for hit in hits]
    marks = pages.split_marks(titles, hits.mark("\n".join(titles)).marks)
    return [pages.marked_html(title, spans) if title else Markup(escape(hit.id))
            for hit, title, spans in zip(hits, titles, marks)]


def _public(summary: dict[str, Any]) -> dict[str, Any]:
    """A search's summary as the API gives it: a local model's directory cut from the notice."""
    notice = summary.get("notice")
    return {**summary, "notice": messages.without_local_models(notice) if isinstance(notice, str) else notice}


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

"""What a request of ``archive serve`` asks for: the search and story parameters, declared once with their
limits (FastAPI checks type and bounds, and describes them in the OpenAPI document), and the server's limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query

from ..archive import MAX_K
from ..errors import QueryError
from ..search.story import DEFAULT_LIMIT as DEFAULT_STORY, MAX_LIMIT as MAX_STORY
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
    fold: bool = True
    """One hit per story (its other copies named under it); ``fold=0`` in the URL shows every copy."""
    variants: bool = True
    """Words also find their spelling variants (:mod:`archive.index.variants`); ``variants=0``: as written."""

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
        if not self.fold:
            params["fold"] = "0"
        if not self.variants:
            params["variants"] = "0"
        return {name: value for name, value in params.items() if value}


def _check_values(source: list[str], category: list[str]) -> None:
    """Refuse more filter values, or longer ones, than the server takes (a 400 naming the parameter)."""
    for name, values in (("source", source), ("category", category)):
        if len(values) > MAX_VALUES:
            raise QueryError(f"{name}: at most {MAX_VALUES} values in one search")
        if any(len(v) > MAX_VALUE_LENGTH for v in values):
            raise QueryError(f"{name}: a value is at most {MAX_VALUE_LENGTH} characters")


async def search_params(
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
    since: Annotated[str, Query(description="Published on or after (YYYY-MM-DD, YYYY-MM or YYYY: from its first day).", max_length=40)] = "",
    until: Annotated[str, Query(description="Published on or before (YYYY-MM-DD, YYYY-MM or YYYY: through its last day).", max_length=40)] = "",
    fold: Annotated[int, Query(ge=0, le=1, description="1: one hit per story, its other copies listed as its "
                                                       "versions (total counts stories); 0: every copy.")] = 1,
    variants: Annotated[int, Query(ge=0, le=1, description="1: words also find their spelling variants "
                                                           "(ترمب finds ترامب); 0: every word as written.")] = 1,
) -> SearchParams:
    """The search parameters of a request, within the server's limits (else a 400 naming the parameter)."""
    _check_values(source, category)
    if page * k > MAX_K:
        raise QueryError(f"page {page} of {k} hits reaches past the first {MAX_K:,} hits; narrow the search instead")
    return SearchParams(q, k, page, mode, sort, source, category, since, until, bool(fold), bool(variants))


Search = Annotated[SearchParams, Depends(search_params)]


@dataclass(frozen=True, slots=True)
class StoryParams:
    """A story as the URL asks for it: an article (``id``) or a query (``q``), the bound and the filters."""

    id: str
    q: str
    limit: int
    source: list[str]
    category: list[str]
    since: str
    until: str

    def arguments(self) -> dict[str, Any]:
        """The library's arguments of :meth:`archive.Archive.story` (an empty ``id`` or ``q`` is not given)."""
        return {"doc_id": self.id or None, "query": self.q or None, "limit": self.limit,
                "source": self.source or None, "category": self.category or None,
                "since": self.since or None, "until": self.until or None}

    def search_url(self) -> str:
        """The search page of the same query and filters (a query's story links back to it)."""
        return pages.query_string({"q": self.q, "source": self.source, "category": self.category,
                                   "since": self.since, "until": self.until})


async def story_params(
    id: Annotated[str, Query(max_length=1000, description="The article whose story is told (or give q).")] = "",  # noqa: A002
    q: Annotated[str, Query(max_length=MAX_QUERY_LENGTH, description="The query whose news are told (or give id).")] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_STORY, description="Articles considered besides the article itself.")]
    = DEFAULT_STORY,
    source: Annotated[list[str], Query(description="Only these sources (any of them; repeatable).")] = [],  # noqa: B006
    category: Annotated[list[str], Query(description="Only these categories (any of them; repeatable).")] = [],  # noqa: B006
    since: Annotated[str, Query(description="Published on or after (YYYY-MM-DD, YYYY-MM or YYYY).", max_length=40)] = "",
    until: Annotated[str, Query(description="Published on or before (YYYY-MM-DD, YYYY-MM or YYYY).", max_length=40)] = "",
) -> StoryParams:
    """The story parameters of a request, within the server's limits (else a 400 naming the parameter)."""
    _check_values(source, category)
    return StoryParams(id, q, limit, source, category, since, until)


StoryRequest = Annotated[StoryParams, Depends(story_params)]

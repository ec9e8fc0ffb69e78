"""The one JSON form of a hit and of facet counts, for every front end.

The command line's ``--json``, the web API and anything else that hands
results to a program write a hit with :func:`hit_record` and counts with
:func:`facets_record`, so that the same search reads the same everywhere
(values as the articles spell them, dates in ISO 8601, scores rounded).
"""

from __future__ import annotations

from typing import Any

from ..index.columns import Facets
from .folding import Version
from .results import Hit


def version_record(version: Version) -> dict[str, Any]:
    """One other copy of a hit's story."""
    return {"id": version.id, "source": version.source, "title": version.title,
            "published": version.published.isoformat() if version.published else None}


def hit_record(hit: Hit, rank: int, body: str | None = None) -> dict[str, Any]:
    """One hit, ranked from 1 (``body``: the article's whole text, added when given)."""
    record: dict[str, Any] = {
        "rank": rank, "id": hit.id, "score": round(hit.score, 6), "title": hit.title,
        "published": hit.published.isoformat() if hit.published else None,
        "source": hit.source, "category": hit.category, "author": hit.author, "url": hit.url,
        "snippet": hit.snippet, "marks": [list(m) for m in hit.marks],
        "versions": [version_record(v) for v in hit.versions],
    }
    if body is not None:
        record["body"] = body
    return record


def facets_record(facets: Facets) -> dict[str, Any]:
    """Counts of what a search found: how many, by source, by category and by month (``YYYY-MM``)."""
    return {"total": facets.total, "sources": facets.sources, "categories": facets.categories,
            "months": facets.months}

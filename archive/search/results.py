"""What a search hands back: hits, each with the passage that best shows why it matched."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ..document import Document
from .snippets import Snippet, make_snippet


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result. ``snippet`` is plain text; ``marks`` are spans of matched words in it."""

    id: str
    title: str
    published: datetime | None
    source: str
    url: str
    category: str
    score: float
    snippet: str
    marks: tuple[tuple[int, int], ...] = ()
    author: str = ""

    def marked_snippet(self, open_mark: str = "«", close_mark: str = "»") -> str:
        """The snippet with matched words wrapped in marks."""
        return Snippet(self.snippet, self.marks).marked(open_mark, close_mark)


class Hits(list[Hit]):
    """The hits of a search, best first; ``reason`` says why the list is empty when it is known."""

    def __init__(
        self, hits: Iterable[Hit] = (), *, reason: str | None = None, mode: str = "lexical", total: int | None = None,
        notice: str | None = None,
    ) -> None:
        super().__init__(hits)
        self.reason = reason
        self.mode = mode
        self.total = total
        """How many articles match the query's words inside the filters (``None`` in semantic mode)."""
        self.notice = notice
        """Something the reader of these hits should know (meaning search over a partly embedded archive)."""


def make_hit(doc: Document, score: float, snippet: Snippet) -> Hit:
    """The hit of ``doc`` with its score and snippet."""
    return Hit(
        id=doc.id,
        title=doc.title,
        published=doc.published,
        source=doc.source,
        url=doc.url,
        category=doc.category,
        score=score,
        snippet=snippet.text,
        marks=snippet.marks,
        author=doc.author,
    )


def best_snippet(doc: Document, passage: tuple[int, int] | None, terms: frozenset[str]) -> Snippet:
    """The passage the dense side matched, unless a window of the text shows more query words."""
    window = make_snippet(doc.body, terms)
    if passage is None:
        return window
    best = make_snippet(doc.body[passage[0] : passage[1]], terms)
    if len({best.text[s:e] for s, e in best.marks}) >= len({window.text[s:e] for s, e in window.marks}):
        return best
    return window

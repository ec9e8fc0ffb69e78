"""What a search hands back: hits, each with the passage that best shows why it matched."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..document import Document
from ..index.columns import Facets
from .folding import Version
from .snippets import Snippet, make_snippet, mark_text


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
    versions: tuple[Version, ...] = ()
    """The other copies of this story (same wire story, another headline or small edits), oldest
    first: ``(id, source, published)`` each; folded into this hit unless the search asked for every copy."""

    def marked_snippet(self, open_mark: str = "«", close_mark: str = "»") -> str:
        """The snippet with matched words wrapped in marks."""
        return Snippet(self.snippet, self.marks).marked(open_mark, close_mark)


class Hits(list[Hit]):
    """The hits of a search, best first (or in date order), and what they were drawn from."""

    def __init__(
        self, hits: Iterable[Hit] = (), *, reason: str | None = None, mode: str = "lexical", total: int | None = None,
        notice: str | None = None, words: int | None = None, meaning: int | None = None, floor: float | None = None,
        articles: int | None = None, folded: bool = False, terms: frozenset[str] = frozenset(),
        variants: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        super().__init__(hits)
        self.variants: dict[str, tuple[str, ...]] = {t: tuple(v) for t, v in (variants or {}).items()}
        """The spelling variants the search also matched, per query term (index terms, normalized and
        stemmed: :mod:`archive.index.variants`); empty when none was used (quoted words, ``variants=False``,
        semantic mode, or an archive without variant classes)."""
        self.reason = reason
        """Why the list is empty, or what it holds when it is not matches of the words
        (``"no article contains these words; nearest by meaning:"``); ``None`` for plain matches."""
        self.mode = mode
        self.total = total
        """How many results the search found inside the filters, every page together: in lexical mode
        the articles holding the query's words, in semantic mode those at or above the similarity floor
        (:mod:`archive.search.floor`), in hybrid mode either (``None`` only for related articles).
        When ``folded``, copies of one story count once (a story is one result: pages are cut from
        these); ``articles`` counts every article."""
        self.articles = total if articles is None else articles
        """How many articles the search found, every copy counted (``total`` when nothing was folded)."""
        self.folded = folded
        """True when the search folded copies of a story into one hit (asked to, and the archive has groups
        of copies: :mod:`archive.search.folding`); ``total`` then counts stories."""
        self.words = words
        """How many of them hold the query's words (``None`` in semantic mode)."""
        self.meaning = meaning
        """How many of them are near by meaning, at or above the floor (``None`` in lexical mode)."""
        self.floor = floor
        """The similarity floor the meaning side used (``None``: lexical mode, or an encoder without one)."""
        self.notice = notice
        """Something the reader of these hits should know (meaning search over a partly embedded archive,
        or with an encoder that has no calibrated floor)."""
        self.terms = terms
        """The analyzed words the search looked for (what its snippets mark; empty for related articles)."""
        self.facets: Facets | None = None
        """Counts of every article the search found (``articles`` of them) by source, category and
        month, when the search was asked for them (``facets=True``); else ``None``."""
        self.open_facets: dict[str, Facets] = {}
        """With ``facets``: for ``"source"`` and ``"category"``, the counts with that field's own filter
        lifted (what choosing another value would give; ``facets`` itself when it was not filtered)."""

    def mark(self, text: str) -> Snippet:
        """``text`` whole with the words this search looked for marked, as its snippets mark them
        (a page marks its titles so, without parsing the query again)."""
        return mark_text(text, self.terms)

    def headline(self) -> str:
        """What the search found, in one line (the command line's table title): the reason first
        when the hits are not matches of the words."""
        total = self.articles if self.articles is not None else len(self)
        found = f"{total:,} article{'' if total == 1 else 's'}"
        if self.mode == "lexical":
            line = f"{found} contain{'s' if total == 1 else ''} these words"
        elif self.mode == "semantic":
            at_least = f" (similarity at least {self.floor:g})" if self.floor is not None else ""
            line = f"{found} near by meaning{at_least}"
        elif self.words is None or self.meaning is None:
            line = f"{found} found"
        else:
            line = f"{found} found: {self.words:,} with these words, {self.meaning:,} near by meaning"
        if self.folded and self.total is not None and self.total != total:
            line += f" ({self.total:,} {'story' if self.total == 1 else 'stories'}: copies folded)"
        return f"{self.reason}\n{line}" if self.reason else line

    def variants_line(self) -> str | None:
        """The variants the search also matched, as the command line says them (``also: ترمب``)."""
        used = [v for others in self.variants.values() for v in others]
        return f"also: {', '.join(used)}" if used else None

    def page_line(self, offset: int = 0) -> str:
        """Which of the found articles these hits are (the table's caption)."""
        total = self.total if self.total is not None else offset + len(self)
        return f"{offset + 1:,}–{offset + len(self):,} of {total:,}"

    def summary(self) -> dict[str, object]:
        """The counts, reason and notice as plain values (the command line's and the API's summary)."""
        return {"mode": self.mode, "total": self.total, "articles": self.articles, "folded": self.folded,
                "words": self.words, "meaning": self.meaning, "floor": self.floor, "reason": self.reason,
                "notice": self.notice, "variants": {t: list(v) for t, v in self.variants.items()}}


def make_hit(doc: Document, score: float, snippet: Snippet, versions: tuple[Version, ...] = ()) -> Hit:
    """The hit of ``doc`` with its score, snippet and the other copies of its story."""
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
        versions=versions,
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

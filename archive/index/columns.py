"""Filter columns: published date, source, category and authors of every article, by ordinal.

A news archive is searched with dates and sources all the time. Whoosh
answers a filter by enumerating the matching documents and a stored-field
read per match to learn its id, which made filtered searches the slowest
thing in the archive. Here each filterable field is a numpy array over the
generation's article ordinals (the numbering the term index and the vectors
share), so a filter is a boolean mask made in about a millisecond, and facet
counts (by source, category, month) and date sorting are array operations.

On disk (a directory): ``columns.json`` (format, the distinct values of each
text column) and ``published.npy`` (int64 seconds since the epoch, UTC;
:data:`NO_DATE` for none), ``offset.npy`` (int32 seconds east of UTC of each
article's own date, 0 for none), ``source.npy`` and ``category.npy`` (int32 codes
into the value lists), and the authors, several per article, as rows
(``author.indptr.npy``, ``author.codes.npy``); no pickle. Text values are
compared as the user's filter is: case-folded and stripped; author names
normalized too (:func:`author_keys`), so أحمد finds احمد.

Days are the articles' own. A bound written as a day, month or year
(``since 2018-05-04``) and the facet months count an article on the calendar
day its own date shows (``2018-05-04T01:42+04:00`` is on the 4th, as every
listing prints it, although it was the 3rd in UTC); a bound with a time is a
moment. Columns of format 1 (before the offsets) count UTC days, as they were
built, and say so (:attr:`Columns.own_days`) until a full build.

A deleted article keeps its row (its ordinal; see the live mask of
:mod:`archive.index.terms`): the columns take the term index's live mask, and
their filter masks and facets leave dead rows out. New articles are appended
(:meth:`Columns.appended`); only a compaction renumbers (:meth:`Columns.updated`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

from .. import npy
from ..document import Document
from ..errors import IndexFormatError
from .links import link_files

COLUMNS_FORMAT = 2
READS_FORMATS = (1, 2)
"""Format 1 has no offsets: its days are UTC days."""
TEXT_COLUMNS = ("source", "category")
"""One value per article."""
AUTHOR = "author"
"""Several values per article (comma-separated names)."""
NO_DATE = np.iinfo(np.int64).min
"""The ``published`` value of an article without a date: before every real date, matched by no range."""


def fold(value: str) -> str:
    """How a filter value and a stored value are compared (case-folded, stripped)."""
    return value.strip().casefold()


def author_keys(authors: str) -> list[str]:
    """The filter keys of an author field: each comma-separated name, normalized and folded."""
    from ..text.normalize import normalize

    return [key for key in (" ".join(normalize(name).casefold().split()) for name in authors.split(",")) if key]


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrictions every search mode applies: sources and categories (any of each), a date range.

    Several values of one field match articles with any of them; different
    fields must all match.
    """

    sources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    since: datetime | date | None = None
    """A moment (a ``datetime``), or a ``date``: from that day on, as each article's own date counts days."""
    until: datetime | date | None = None
    """A moment, or a ``date``: through that day, as each article's own date counts days."""
    authors: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.sources or self.categories or self.authors or self.since is not None
                    or self.until is not None)


NO_VALUE = "(none)"
"""The key under which counts (facets, stats) report the articles with no source or no category:
one spelling for the library, the command line and the web API (a JSON key cannot be null)."""


@dataclass(frozen=True, slots=True)
class Facets:
    """Counts over a set of matching articles: how many, by source, category and month (``YYYY-MM``)."""

    total: int
    sources: dict[str, int] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)
    months: dict[str, int] = field(default_factory=dict)


class ColumnsBuilder:
    """Collects the column values of articles in ordinal order, and writes them."""

    def __init__(self) -> None:
        self.published: list[int] = []
        self.offsets: list[int] = []
        self.values: dict[str, list[str]] = {name: [] for name in TEXT_COLUMNS}
        self.authors: list[list[str]] = []

    def add(self, doc: Document) -> None:
        self.published.append(int(doc.published.timestamp()) if doc.published is not None else NO_DATE)
        self.offsets.append(utc_offset(doc.published))
        for name in TEXT_COLUMNS:
            self.values[name].append(getattr(doc, name))
        self.authors.append(author_keys(doc.author))

    def write(self, directory: Path) -> None:
        """Write the columns into ``directory`` (which must not exist)."""
        _write(directory, np.asarray(self.published, dtype=np.int64), self.values, self.authors,
               _Days(np.asarray(self.offsets, dtype=np.int32), True))


def utc_offset(moment: datetime | None) -> int:
    """Seconds east of UTC of ``moment``'s own zone (0 without a date or a zone)."""
    offset = moment.utcoffset() if moment is not None else None
    return int(offset.total_seconds()) if offset is not None else 0


@dataclass(frozen=True, slots=True)
class _Days:
    """Each row's UTC offset, and whether every row's is known (False: rows carried from format 1)."""

    offsets: np.ndarray
    own: bool


def _write(
    directory: Path, published: np.ndarray, values: dict[str, Sequence[str]], authors: Sequence[Sequence[str]],
    days: _Days,
) -> None:
    names, codes, author_rows, author_codes = _encode(values, authors)
    _save(directory, published, codes, names, author_rows, author_codes, days)


def _encode(
    values: dict[str, Sequence[str]], authors: Sequence[Sequence[str]],
) -> tuple[dict[str, list[str]], dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """``(value lists, text codes, author rows, author codes)`` of the rows' text columns and authors."""
    names: dict[str, list[str]] = {}
    text_codes: dict[str, np.ndarray] = {}
    for name in TEXT_COLUMNS:
        folded = np.asarray([fold(v) for v in values[name]], dtype=object)
        distinct, codes = np.unique(folded, return_inverse=True) if len(folded) else (folded, folded)
        names[name] = [str(v) for v in distinct]
        text_codes[name] = np.asarray(codes).astype(np.int32).reshape(-1)
    vocabulary: dict[str, int] = {}
    codes = [vocabulary.setdefault(key, len(vocabulary)) for keys in authors for key in keys]
    indptr = np.zeros(len(authors) + 1, dtype=np.int64)
    np.cumsum([len(keys) for keys in authors], out=indptr[1:])
    names[AUTHOR] = list(vocabulary)
    return names, text_codes, indptr, np.asarray(codes, dtype=np.int32)


def _save(
    directory: Path, published: np.ndarray, codes: dict[str, np.ndarray], names: dict[str, list[str]],
    author_rows: np.ndarray, author_codes: np.ndarray, days: _Days,
) -> None:
    directory.mkdir(parents=True, exist_ok=False)
    np.save(directory / "published.npy", published.astype(np.int64, copy=False), allow_pickle=False)
    np.save(directory / "offset.npy", days.offsets.astype(np.int32, copy=False), allow_pickle=False)
    for name in TEXT_COLUMNS:
        np.save(directory / f"{name}.npy", codes[name].astype(np.int32, copy=False), allow_pickle=False)
    np.save(directory / f"{AUTHOR}.indptr.npy", author_rows.astype(np.int64, copy=False), allow_pickle=False)
    np.save(directory / f"{AUTHOR}.codes.npy", author_codes.astype(np.int32, copy=False), allow_pickle=False)
    meta = {"format": COLUMNS_FORMAT, "rows": int(len(published)), "values": names, "own_days": days.own}
    with open(directory / "columns.json", "w", encoding="utf-8") as fh:
        json.dump(meta, fh, ensure_ascii=False)


class Columns:
    """Read-only filter columns of one generation (see the module docstring)."""

    def __init__(self, directory: Path, live: np.ndarray | None = None) -> None:
        """Open the columns in ``directory``; ``live`` is the term index's live mask (``None``: all live)."""
        fix = "Fix: archive build --full"
        try:
            meta = json.loads((directory / "columns.json").read_text(encoding="utf-8"))
            if meta.get("format") not in READS_FORMATS:
                raise IndexFormatError(f"{directory}: columns format {meta.get('format')} "
                                       f"(this archive reads {', '.join(map(str, READS_FORMATS))}). {fix}")
            self.published: np.ndarray = npy.load(directory / "published.npy")
            if meta["format"] == 1:
                self._offsets = np.zeros(len(self.published), dtype=np.int32)
                self.own_days = False
            else:
                self._offsets = npy.load(directory / "offset.npy")
                self.own_days = meta.get("own_days") is True
            """True when days are counted as each article's own date shows them (False: UTC days, for
            rows written before the offsets were kept; ``archive build --full`` counts them again)."""
            self._codes = {n: npy.load(directory / f"{n}.npy") for n in TEXT_COLUMNS}
            self._values: dict[str, list[str]] = {n: list(meta["values"][n]) for n in (*TEXT_COLUMNS, AUTHOR)}
            self._author_rows = npy.load(directory / f"{AUTHOR}.indptr.npy")
            self._author_codes = npy.load(directory / f"{AUTHOR}.codes.npy")
        except IndexFormatError:
            raise
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise IndexFormatError(f"{directory}: filter columns unreadable ({exc}). {fix}") from None
        rows = meta.get("rows")
        if any(len(a) != rows for a in (self.published, self._offsets, *self._codes.values())) or \
                len(self._author_rows) != rows + 1:
            raise IndexFormatError(f"{directory}: filter columns of different lengths. {fix}")
        if self._author_rows[-1] != len(self._author_codes) or (
            len(self._author_codes) and self._author_codes.max() >= len(self._values[AUTHOR])
        ):
            raise IndexFormatError(f"{directory}: author rows do not match their codes. {fix}")
        for name, codes in self._codes.items():
            if len(codes) and (codes.min() < 0 or codes.max() >= len(self._values[name])):
                raise IndexFormatError(f"{directory}: {name} codes outside the value list. {fix}")
        self._index = {n: {v: i for i, v in enumerate(values)} for n, values in self._values.items()}
        self._directory = directory
        if live is not None and len(live) != rows:
            raise IndexFormatError(f"{directory}: {rows} rows for a live mask of {len(live)}. {fix}")
        self.live = live
        """The live mask of these rows (``None``: every row live); :meth:`mask` and :meth:`facets` follow it."""
        self._local_seconds: np.ndarray | None = None

    @classmethod
    def of(cls, documents: Iterable[Document]) -> Columns:
        """Columns of ``documents`` in memory (rows in their order, all live), to filter articles that
        have no row on disk (the folded duplicates) exactly as the archive's rows are filtered."""
        builder = ColumnsBuilder()
        for doc in documents:
            builder.add(doc)
        self = cls.__new__(cls)
        self._values, self._codes, self._author_rows, self._author_codes = _encode(builder.values, builder.authors)
        self.published = np.asarray(builder.published, dtype=np.int64)
        self._offsets = np.asarray(builder.offsets, dtype=np.int32)
        self.own_days = True
        self._index = {n: {v: i for i, v in enumerate(values)} for n, values in self._values.items()}
        self._directory = Path()  # nothing on disk: never appended to
        self.live = None
        self._local_seconds = None
        return self

    def __len__(self) -> int:
        """Rows: one per ordinal, deleted articles' included."""
        return len(self.published)

    def codes(self, name: str) -> np.ndarray:
        """One code per row of the text column ``name`` (an index into :meth:`values`)."""
        return self._codes[name]

    def values(self, name: str) -> list[str]:
        """The distinct (folded) values of a text column."""
        return list(self._values[name])

    def mask(self, filters: Filters) -> np.ndarray | None:
        """The live articles that pass ``filters`` as a boolean array, or ``None`` when nothing is filtered."""
        if not filters:
            return None
        keep = np.ones(len(self), dtype=bool) if self.live is None else self.live.copy()
        for name, wanted in (("source", filters.sources), ("category", filters.categories),
                             (AUTHOR, filters.authors)):
            if wanted:
                keep &= self.any_of(name, wanted)
        if filters.since is not None:
            if isinstance(filters.since, datetime):
                keep &= self.published >= int(filters.since.timestamp())
            else:
                keep &= self._local() >= _day_start(filters.since)
        if filters.until is not None:
            if isinstance(filters.until, datetime):
                keep &= self.published <= int(filters.until.timestamp())
            else:
                keep &= self._local() < _day_start(filters.until) + DAY
            keep &= self.published != NO_DATE
        return keep

    def _local(self) -> np.ndarray:
        """Each row's own wall-clock time as seconds since 1970-01-01 00:00 of that clock (:data:`NO_DATE` kept)."""
        if self._local_seconds is None:  # rows from before the offsets count UTC days, new rows too, until --full
            offsets = self._offsets.astype(np.int64) if self.own_days else 0
            self._local_seconds = np.where(self.published == NO_DATE, NO_DATE, self.published + offsets)
        return self._local_seconds

    def any_of(self, name: str, wanted: Iterable[str]) -> np.ndarray:
        """The articles whose ``name`` column holds any of ``wanted`` (compared folded)."""
        index = self._index[name]
        if name == AUTHOR:
            keys = {key for w in wanted for key in author_keys(w)}
            codes = [index[v] for v in keys if v in index]
            hit = np.isin(self._author_codes, codes)
            owner = np.repeat(np.arange(len(self)), np.diff(self._author_rows))
            return np.bincount(owner[hit], minlength=len(self)) > 0
        codes = [index[v] for v in {fold(w) for w in wanted} if v in index]
        if not codes:
            return np.zeros(len(self), dtype=bool)
        if len(codes) == 1:
            return self._codes[name] == codes[0]
        return np.isin(self._codes[name], codes)

    def facets(self, mask: np.ndarray) -> Facets:
        """Counts over the live articles of ``mask``: by source, category and month, largest first."""
        if self.live is not None:
            mask = mask & self.live
        out: dict[str, dict[str, int]] = {}
        for name in TEXT_COLUMNS:
            counts = np.bincount(self._codes[name][mask], minlength=len(self._values[name]))
            order = np.lexsort((np.arange(len(counts)), -counts))
            out[name] = {self._values[name][i]: int(counts[i]) for i in order if counts[i]}
        dated = self._local()[mask]
        dated = dated[dated != NO_DATE]
        months: dict[str, int] = {}
        if len(dated):
            month, counts = np.unique(dated.astype("datetime64[s]").astype("datetime64[M]"), return_counts=True)
            months = {str(m): int(c) for m, c in zip(month, counts)}
        return Facets(int(mask.sum()), out["source"], out["category"], months)

    def by_date(self, ordinals: np.ndarray, *, newest_first: bool) -> np.ndarray:
        """``ordinals`` ordered by publication date (undated last; ties in ordinal order)."""
        return ordinals[np.lexsort((ordinals, date_key(self.published[ordinals], newest_first=newest_first)))]

    def appended(self, directory: Path, add: Sequence[Document]) -> None:
        """Write into ``directory`` (new) these columns with ``add`` as new rows after the last one.

        No row moves (deleted articles keep theirs, as in the term index): with
        nothing to add the files are hard-linked; else the old codes are mapped
        to the merged value lists with numpy, as a fresh write would code them.
        """
        if not add:
            link_files(self._directory, directory)
            return
        builder = ColumnsBuilder()
        for doc in add:
            builder.add(doc)
        names: dict[str, list[str]] = {}
        codes: dict[str, np.ndarray] = {}
        for name in TEXT_COLUMNS:
            new = [fold(v) for v in builder.values[name]]
            names[name] = sorted(set(self._values[name]).union(new))  # np.unique's order, as _write has it
            index = {v: i for i, v in enumerate(names[name])}
            remap = np.asarray([index[v] for v in self._values[name]], dtype=np.int32)
            codes[name] = np.concatenate([remap[self._codes[name]], np.asarray([index[v] for v in new], dtype=np.int32)])
        vocabulary = dict(self._index[AUTHOR])
        added = [vocabulary.setdefault(key, len(vocabulary)) for keys in builder.authors for key in keys]
        names[AUTHOR] = list(vocabulary)
        sizes = np.asarray([len(keys) for keys in builder.authors], dtype=np.int64)
        rows = np.concatenate([self._author_rows, int(self._author_rows[-1]) + np.cumsum(sizes)])
        days = _Days(np.concatenate([self._offsets, np.asarray(builder.offsets, dtype=np.int32)]),
                     self.own_days or not len(self))
        _save(directory, np.concatenate([self.published, np.asarray(builder.published, dtype=np.int64)]), codes,
              names, rows, np.concatenate([self._author_codes, np.asarray(added, dtype=np.int32)]), days)

    def updated(self, directory: Path, keep: np.ndarray, add: Iterable[Document]) -> None:
        """Write into ``directory`` (new) these columns for the ``keep`` rows, then ``add`` appended.

        The same renumbering as the term index's and the vectors' when they
        compact: kept rows in order, new articles at the end.
        """
        builder = ColumnsBuilder()
        for doc in add:
            builder.add(doc)
        values = {
            name: [self._values[name][c] for c in self._codes[name][keep].tolist()] + builder.values[name]
            for name in TEXT_COLUMNS
        }
        names = self._values[AUTHOR]
        rows, codes = self._author_rows, self._author_codes
        authors = [[names[c] for c in codes[rows[i] : rows[i + 1]]] for i in np.flatnonzero(keep)]
        published = np.concatenate([self.published[keep], np.asarray(builder.published, dtype=np.int64)])
        days = _Days(np.concatenate([self._offsets[keep], np.asarray(builder.offsets, dtype=np.int32)]),
                     self.own_days or not keep.any())
        _write(directory, published, values, authors + builder.authors, days)


DAY = 86_400


def date_key(published: np.ndarray, *, newest_first: bool) -> np.ndarray:
    """The key :meth:`Columns.by_date` orders ``published`` values by: oldest (or newest) first, undated last."""
    return np.where(published == NO_DATE, np.iinfo(np.int64).max, -published if newest_first else published)


def _day_start(day: date) -> int:
    """Seconds from 1970-01-01 to the start of ``day`` on the same clock (:meth:`Columns._local`'s)."""
    return (day.toordinal() - date(1970, 1, 1).toordinal()) * DAY


def moment(seconds: int) -> datetime | None:
    """The UTC datetime of a ``published`` value (``None`` for :data:`NO_DATE`)."""
    return None if seconds == NO_DATE else datetime.fromtimestamp(seconds, tz=UTC)

"""The document store: every article of an index generation, in SQLite.

Whoosh ranks and FAISS finds neighbours; this store answers "give me
document X" (``archive show``, hit titles and dates, snippets) and "what is
here" (stats, content hashes for incremental builds). SQLite because it is in
the standard library, reads one row by primary key in microseconds, and never
executes code from the file (no pickle).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from ..document import Document
from ..errors import IndexDamagedError, IndexFormatError
from .diskfull import is_disk_full

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE documents (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    published TEXT,
    source TEXT NOT NULL,
    url TEXT NOT NULL,
    category TEXT NOT NULL,
    language TEXT NOT NULL,
    origin TEXT NOT NULL,
    author TEXT NOT NULL DEFAULT '',
    canonical TEXT,
    body_key TEXT NOT NULL,
    file TEXT NOT NULL DEFAULT ''
);
CREATE INDEX documents_canonical ON documents (canonical);
"""
_TOMBSTONES = "CREATE TABLE IF NOT EXISTS tombstones (id TEXT PRIMARY KEY, deleted_at TEXT NOT NULL)"
STORE_FORMAT = 2
"""The store's own format version (SQLite's ``user_version``): 2 adds ``tombstones``, the ids
``archive delete`` removed and when (a build does not bring them back); 0 is the store before it
(read as holding no tombstone, and given the table when copied for a change)."""
_COLUMNS = "id, hash, title, body, published, source, url, category, language, origin, author, file"
_CANONICAL = "canonical IS NULL"
_INSERT = f"INSERT INTO documents ({_COLUMNS}, canonical, body_key) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"


def _row(doc: Document) -> tuple[object, ...]:
    return (
        doc.id,
        doc.content_hash,
        doc.title,
        doc.body,
        doc.published.isoformat() if doc.published else None,
        doc.source,
        doc.url,
        doc.category,
        doc.language,
        doc.origin,
        doc.author,
        doc.file,
    )


def _with_tombstones(db: sqlite3.Connection) -> None:
    """Give a store being written the tombstones table and mark it :data:`STORE_FORMAT`."""
    db.execute(_TOMBSTONES)
    db.execute(f"PRAGMA user_version={STORE_FORMAT}")


def _document(row: tuple) -> Document:
    doc_id, _hash, title, body, published, source, url, category, language, origin, author, file = row
    return Document.stored(  # as written, unchecked: an id an earlier version let in stays readable
        id=doc_id,
        title=title,
        body=body,
        published=datetime.fromisoformat(published) if published else None,
        source=source,
        url=url,
        category=category,
        language=language,
        origin=origin,
        author=author,
        file=file,
    )


def _unjournaled(db: sqlite3.Connection) -> None:
    """No journal and no syncs while writing: the file is private to a generation that is
    not yet committed (a crash discards it whole); :meth:`DocumentStore.commit` syncs it."""
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")


@contextmanager
def _damage_named(path: Path | str) -> Iterator[None]:
    """Turn SQLite's "malformed", "not a database" or "no such table" into :class:`IndexDamagedError`.

    Misuse (a closed store: ``ProgrammingError``) and a full disk (the copy being written, not
    this store: :mod:`archive.index.diskfull`) are not damage and pass through.
    """
    try:
        yield
    except sqlite3.ProgrammingError:
        raise
    except sqlite3.DatabaseError as exc:
        if is_disk_full(exc):
            raise
        raise IndexDamagedError(
            f"{path}: damaged document store ({exc}). "
            "Fix: archive build --full (it rewrites the index from your sources, which it never changes)"
        ) from None


def _guarded(method: Callable[..., T]) -> Callable[..., T]:
    """Run a read method of :class:`DocumentStore` under :func:`_damage_named` (generators too)."""
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generator(self: DocumentStore, *args: Any, **kwargs: Any) -> Any:
            with _damage_named(self._path):
                yield from method(self, *args, **kwargs)

        return generator  # type: ignore[return-value]

    @functools.wraps(method)
    def wrapper(self: DocumentStore, *args: Any, **kwargs: Any) -> T:
        with _damage_named(self._path):
            return method(self, *args, **kwargs)

    return wrapper


class DocumentStore:
    """Documents of one index generation, keyed by id.

    Every read turns SQLite's errors on a damaged file into :class:`IndexDamagedError`
    naming the file.
    """

    def __init__(self, connection: sqlite3.Connection, path: Path | str = "docs.sqlite") -> None:
        self._db = connection
        self._columns = _COLUMNS
        self._path = path

    def _readable_columns(self) -> str:
        """The select list for documents, ``''`` standing in for columns an older store lacks.

        A build that replaces an index of an older format carries over the
        articles no source re-read, so it must read the old store too.
        """
        have = {row[1] for row in self._db.execute("PRAGMA table_info(documents)")}
        return ", ".join(c if c in have else "'' AS " + c for c in _COLUMNS.split(", "))

    @classmethod
    def create(cls, path: Path) -> DocumentStore:
        """A new, empty store at ``path`` (which must not exist)."""
        if path.exists():
            raise FileExistsError(path)
        db = sqlite3.connect(path, check_same_thread=False)
        _unjournaled(db)
        db.executescript(_SCHEMA)
        _with_tombstones(db)
        return cls(db, path)

    @classmethod
    def open(cls, path: Path) -> DocumentStore:
        """Open an existing store read-only; :class:`IndexDamagedError` if it is missing or not a store."""
        if not Path(path).is_file():
            raise IndexDamagedError(
                f"{path}: the document store is missing. "
                "Fix: archive build --full (it rewrites the index from your sources, which it never changes)"
            )
        with _damage_named(path):
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            try:
                found = db.execute("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='documents'").fetchone()
                if not found[0]:
                    raise sqlite3.DatabaseError("no documents table: the file is empty or not this archive's store")
                version = int(db.execute("PRAGMA user_version").fetchone()[0])
            except BaseException:
                db.close()
                raise
        if version > STORE_FORMAT:
            db.close()
            raise IndexFormatError(
                f"{path}: document store format {version}, newer than this archive reads ({STORE_FORMAT}). "
                "Fix: upgrade news-archive, or archive build --full"
            )
        store = cls(db, path)
        with _damage_named(path):
            store._columns = store._readable_columns()
        return store

    @classmethod
    def copy(cls, source: Path, path: Path) -> DocumentStore:
        """A writable copy at ``path`` (new) of the store at ``source``, for an incremental change.

        SQLite's backup API copies a consistent snapshot page by page, without
        parsing rows: ~0.1 s per 100 MB.
        """
        if path.exists():
            raise FileExistsError(path)
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        db = sqlite3.connect(path, check_same_thread=False)
        try:
            with _damage_named(source):
                src.backup(db)
        except BaseException:
            db.close()
            raise
        finally:
            src.close()
        _unjournaled(db)
        _with_tombstones(db)
        return cls(db, path)

    def add_many(self, documents: Iterable[Document], aliases: dict[str, str] | None = None) -> None:
        """Insert documents (ids must be new); ``aliases`` maps a folded duplicate's id to its canonical id."""
        aliases = aliases or {}
        self._db.executemany(_INSERT, ((*_row(d), aliases.get(d.id), d.body_key) for d in documents))

    def delete_many(self, ids: Iterable[str]) -> None:
        """Remove the rows of ``ids`` (absent ids are ignored)."""
        self._db.executemany("DELETE FROM documents WHERE id=?", ((i,) for i in ids))

    def set_canonical(self, canonical: dict[str, str | None]) -> None:
        """Set the canonical id of each document in ``canonical`` (``None``: it is indexed itself)."""
        self._db.executemany("UPDATE documents SET canonical=? WHERE id=?", ((c, i) for i, c in canonical.items()))

    def add_tombstones(self, deleted: dict[str, str]) -> None:
        """Remember ``{id: when}`` as deleted by the user (a build skips these ids)."""
        self._db.executemany("INSERT OR REPLACE INTO tombstones (id, deleted_at) VALUES (?, ?)", deleted.items())

    def remove_tombstones(self, ids: Iterable[str]) -> None:
        """Forget the deletion of ``ids`` (restored or added again)."""
        self._db.executemany("DELETE FROM tombstones WHERE id=?", ((i,) for i in ids))

    @_guarded
    def tombstones(self) -> dict[str, str]:
        """``{id: when deleted}`` of every article the user deleted (``{}`` for a store before format 2)."""
        if not self._db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='tombstones'").fetchone():
            return {}
        return dict(self._db.execute("SELECT id, deleted_at FROM tombstones ORDER BY deleted_at, id"))

    @_guarded
    def entries(self) -> list[tuple[str, str, str, str | None]]:
        """``(id, content hash, body key, canonical id)`` of every document in insertion order (no bodies read)."""
        return self._db.execute("SELECT id, hash, body_key, canonical FROM documents ORDER BY rowid").fetchall()

    def commit(self) -> None:
        self._db.commit()
        self._db.execute("PRAGMA synchronous=FULL")

    @_guarded
    def get(self, doc_id: str) -> Document | None:
        row = self._db.execute(f"SELECT {self._columns} FROM documents WHERE id=?", (doc_id,)).fetchone()
        return _document(row) if row else None

    @_guarded
    def get_many(self, ids: Iterable[str]) -> dict[str, Document]:
        """Documents for the ids that exist, keyed by id."""
        ids = list(dict.fromkeys(ids))
        found: dict[str, Document] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT {self._columns} FROM documents WHERE id IN ({marks})"
            for row in self._db.execute(sql, chunk):
                found[row[0]] = _document(row)
        return found

    def files(self) -> dict[str, str]:
        """``{id: source file}`` of every document ("" where unknown), folded duplicates included."""
        file = "file" if "'' AS file" not in self._columns else "''"
        return dict(self._db.execute(f"SELECT id, {file} FROM documents"))

    @_guarded
    def check(self) -> tuple[set[str], int]:
        """SQLite's own page check, then ``(ids of indexed documents, number of folded duplicates)``
        (``archive check``); :class:`IndexDamagedError` if SQLite finds damage."""
        verdict = [row[0] for row in self._db.execute("PRAGMA quick_check")]
        if verdict != ["ok"]:
            raise sqlite3.DatabaseError("; ".join(map(str, verdict[:3])))
        both = [i for i in self.tombstones() if self._db.execute("SELECT 1 FROM documents WHERE id=?", (i,)).fetchone()]
        if both:
            raise sqlite3.DatabaseError(f"{len(both)} ids both stored and marked deleted, e.g. {both[0]!r}")
        indexed = {row[0] for row in self._db.execute(f"SELECT id FROM documents WHERE {_CANONICAL}")}
        aliases = int(self._db.execute(f"SELECT COUNT(*) FROM documents WHERE NOT {_CANONICAL}").fetchone()[0])
        return indexed, aliases

    @_guarded
    def hashes(self) -> dict[str, str]:
        """``{id: content_hash}`` of every document, folded duplicates included."""
        return dict(self._db.execute("SELECT id, hash FROM documents"))

    @_guarded
    def canonical_of(self, doc_id: str) -> str | None:
        """The id of the indexed document ``doc_id`` is a duplicate of, or ``None``."""
        row = self._db.execute("SELECT canonical FROM documents WHERE id=?", (doc_id,)).fetchone()
        return row[0] if row else None

    @_guarded
    def aliases_of(self, doc_id: str) -> list[str]:
        """Ids of the folded duplicates of ``doc_id``."""
        return [r[0] for r in self._db.execute("SELECT id FROM documents WHERE canonical=? ORDER BY id", (doc_id,))]

    @_guarded
    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])

    @_guarded
    def __iter__(self) -> Iterator[Document]:
        """Every document, folded duplicates included, in insertion order."""
        return self.documents(duplicates=True)

    def documents(self, *, duplicates: bool = False) -> Iterator[Document]:
        """The indexed documents in insertion order, read as they are consumed; with
        ``duplicates``, the folded duplicates too."""
        where = "" if duplicates else f" WHERE {_CANONICAL}"
        # A cursor of its own: searches on this connection while the caller iterates do not disturb it.
        cursor = self._db.cursor()
        try:
            for row in cursor.execute(f"SELECT {self._columns} FROM documents{where} ORDER BY rowid"):
                yield _document(row)
        finally:
            with contextlib.suppress(sqlite3.ProgrammingError):  # the store was closed first
                cursor.close()

    def folded(self) -> Iterator[Document]:
        """The folded duplicates in insertion order, without their title and body (``""``): what a
        filter reads of them (date, source, category, author), not what an export writes."""
        columns = ", ".join(f"'' AS {c}" if c in ("title", "body") else c for c in self._columns.split(", "))
        cursor = self._db.cursor()
        try:
            for row in cursor.execute(f"SELECT {columns} FROM documents WHERE NOT {_CANONICAL} ORDER BY rowid"):
                yield _document(row)
        finally:
            with contextlib.suppress(sqlite3.ProgrammingError):
                cursor.close()

    @_guarded
    def counts(self, column: str) -> dict[str, int]:
        """How many articles per value of ``source`` or ``category``, folded duplicates included (each
        copy is its outlet's article, though searches show it under the one it was folded into)."""
        if column not in ("source", "category"):
            raise ValueError(column)
        sql = f"SELECT {column}, COUNT(*) FROM documents GROUP BY {column} ORDER BY 2 DESC, 1"
        return {k: int(v) for k, v in self._db.execute(sql)}

    @_guarded
    def date_range(self) -> tuple[datetime | None, datetime | None]:
        """Earliest and latest publication dates, folded duplicates included as :meth:`counts` has them
        (ISO text with offsets does not sort as time: the dates are compared as datetimes)."""
        sql = "SELECT published FROM documents WHERE published IS NOT NULL"
        rows = [r[0] for r in self._db.execute(sql)]
        if not rows:
            return None, None
        dates = [datetime.fromisoformat(r) for r in rows]
        return min(dates), max(dates)

    def close(self) -> None:
        self._db.close()

"""The numbers of the last results printed, so that ``archive show 3`` opens the third of them.

A search (or a list of related articles) printed as a table numbers its
results; this module remembers which id each number stood for, per archive,
and turns a number given instead of an id back into that id.

Where: one small JSON file per index directory in the per-user cache
(:func:`archive.encoders.usercache.cache_root`, i.e. ``$NEWS_ARCHIVE_CACHE``,
else ``$XDG_CACHE_HOME/news-archive``, else ``~/.cache/news-archive``), under
``last-results/``, named by a hash of the index's absolute path. Not in the
index directory: an archive may be read-only, shared by several users, or
served while it is searched, and a search must never write into it. Per
user and per archive: two users, or two archives, never see each other's
numbers; two terminals of one user on one archive share the last listing.

Safety: the file is written whole into a temporary file and renamed into
place (a concurrent reader sees the old listing or the new one), readable
by its owner only (queries can be private); a cache that cannot be written
only means the numbers are not remembered (the search itself never fails for
it). A file that is too large, unreadable or not of the expected shape is
taken as no listing.

An id always wins: a number is taken as a result's number only when no article
has that id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .encoders.usercache import cache_root, read_json, write_json
from .errors import DocumentNotFoundError

FOLDER = "last-results"
MAX_BYTES = 1 << 20
"""A listing file larger than this is not read (a listing holds at most 1,000 ids)."""


@dataclass(frozen=True, slots=True)
class Listing:
    """The results last printed for one archive: ``ids[0]`` had the number ``first``."""

    index: str
    """The index directory (absolute path) the results came from."""
    what: str
    """What was listed, in words (the query, or the article whose related articles these are)."""
    first: int
    ids: tuple[str, ...]

    def id_of(self, number: int) -> str | None:
        """The id numbered ``number`` in this listing, or ``None`` when it showed no such number."""
        position = number - self.first
        return self.ids[position] if 0 <= position < len(self.ids) else None

    def numbers(self) -> str:
        """The numbers this listing showed (``"1–10"``)."""
        return f"{self.first}–{self.first + len(self.ids) - 1}"


def listing_path(index: Path) -> Path:
    """The file remembering the last results printed for the archive at ``index``."""
    key = hashlib.sha256(str(index.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return cache_root() / FOLDER / f"{key}.json"


def remember(index: Path, what: str, ids: Sequence[str], first: int = 1) -> bool:
    """Remember ``ids`` as the results numbered from ``first`` for ``index``; False when the cache
    cannot be written (the numbers are then not remembered, and nothing else changes)."""
    record = {"index": str(index.resolve()), "what": what, "first": first, "ids": list(ids)}
    try:
        path = listing_path(index)
    except OSError:
        return False
    return write_json(path, record)


def recall(index: Path) -> Listing | None:
    """The last results printed for ``index``, or ``None`` when none is remembered (or readable)."""
    try:
        path = listing_path(index)
    except OSError:
        return None
    record = read_json(path, MAX_BYTES)
    if not isinstance(record, dict):
        return None
    index_path, what, first, ids = (record.get(k) for k in ("index", "what", "first", "ids"))
    if (not isinstance(index_path, str) or index_path != str(index.resolve()) or not isinstance(what, str)
            or isinstance(first, bool) or not isinstance(first, int) or not isinstance(ids, list)
            or not all(isinstance(i, str) for i in ids)):
        return None
    return Listing(index_path, what, first, tuple(ids))


def resolve(given: str, index: Path, known: Callable[[str], bool]) -> str:
    """The article id ``given`` stands for: itself when an article has that id (``known``), else,
    when it is a number, the id that number had in the last results printed for ``index``.

    :class:`DocumentNotFoundError` says which, when neither holds.
    """
    if known(given) or not (given.isascii() and given.isdigit()):
        return given
    listing = recall(index)
    if listing is None:
        raise DocumentNotFoundError(
            f"no document with id {given!r} in {index}, and no earlier results of this archive to take "
            f"number {int(given)} from. Fix: archive search QUERY numbers its results"
        )
    found = listing.id_of(int(given))
    if found is None:
        raise DocumentNotFoundError(
            f"no document with id {given!r} in {index}, and the last results ({listing.what}) were "
            f"numbered {listing.numbers()}"
        )
    return found

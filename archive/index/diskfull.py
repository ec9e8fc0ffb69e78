"""A full disk named as a full disk, with what was kept.

A write that runs out of space fails in many places: SQLite says "database or
disk is full", an ``open``/``write`` raises ``ENOSPC`` (or ``EDQUOT`` over a
quota), and numpy's ``tofile`` reports only a short write ("N requested and M
written", with no errno). Every write builds a new generation beside the live
one and discards it on failure (:mod:`archive.index.layout`), so the archive
as it was is still whole: the error must say so, and never read as damage to
the live index (whose fix, a full rebuild, would need even more space).
"""

from __future__ import annotations

import errno
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import DiskFullError

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL = 13
"""SQLite's result code SQLITE_FULL (``sqlite3.SQLITE_FULL`` from Python 3.11 on)."""
_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")


def is_disk_full(exc: BaseException) -> bool:
    """True when ``exc`` (or an exception it was raised from) says the disk or quota is full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and (
            current.errno in _FULL_ERRNOS or (current.errno is None and _SHORT_WRITE.search(str(current)))
        ):
            return True
        if isinstance(current, sqlite3.Error) and (
            getattr(current, "sqlite_errorcode", None) == _SQLITE_FULL or "database or disk is full" in str(current)
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


@contextmanager
def disk_full_named(root: Path, live: Callable[[], Path | None]) -> Iterator[None]:
    """Turn a full disk met by a write to ``root`` into :class:`DiskFullError`.

    ``live()`` is the generation live once the failed write was discarded
    (``None`` when there is none: a first build): the message says it is
    kept and usable, or that no archive was made, and how much space is free.
    """
    try:
        yield
    except (OSError, sqlite3.Error) as exc:
        if not is_disk_full(exc):
            raise
        raise DiskFullError(_message(root, live())) from None


def _message(root: Path, live: Path | None) -> str:
    try:
        space = shutil.disk_usage(root).free
        free = f"{space / 1e6:,.1f} MB free now" if space >= 1e6 else f"{space / 1e3:,.0f} kB free now"
    except OSError:
        free = "free space unknown"
    kept = (
        f"the unfinished write was discarded; the last committed generation, {live.name}, is kept and usable"
        if live is not None else "the write was discarded; no archive was made there"
    )
    return f"{root}: the disk is full ({free}); {kept}. Fix: free disk space (or use --index on a larger disk), then run the command again"

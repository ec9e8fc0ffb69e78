"""An open archive that follows the index's commits, for long-running readers such as ``archive serve``.

An :class:`~archive.Archive` is a handle on one committed generation: it never
changes under its reader, which is what a search wants, but a server that
runs for days while ``archive add`` commits every morning would keep answering
from the generation it opened. :class:`LiveArchive` checks the index's commit
pointer (one small file read) at most once per ``interval`` seconds and, when
a write committed a new generation, opens it and hands it out from then on.

A request reads through :meth:`LiveArchive.reading`: it holds one handle from
its first read to its last (its search, facets and counts all come from one
generation), and a replaced handle is closed only when no request holds it
any more. Each open handle pins its generation on disk
(:func:`archive.index.layout.pin_generation`), so however many commits land
meanwhile, no writer removes the files a request is reading.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .index import layout
from .archive import Archive
from .errors import ArchiveError

CHECK_INTERVAL = 1.0
"""Seconds between two looks at the commit pointer."""


class LiveArchive:
    """The :class:`Archive` on the live generation of ``path``, reopened when a write commits."""

    def __init__(self, archive: Archive, *, interval: float = CHECK_INTERVAL) -> None:
        self._archive = archive
        self._retired: list[Archive] = []
        """Replaced handles still open: held by a request, or replaced by the latest swap."""
        self._readers: dict[int, int] = {}
        """Requests reading each handle (by ``id``)."""
        self._interval = interval
        self._checked = time.monotonic()
        self._lock = threading.Lock()
        self.reopened = 0
        """How many times a newer generation was opened."""

    @property
    def path(self) -> Path:
        return self._archive.path

    def current(self) -> Archive:
        """The handle on the newest committed generation (checked at most once per interval).

        For one read done at once; a request that reads several times reads
        through :meth:`reading`, which keeps its handle open until it is done.
        """
        if time.monotonic() - self._checked < self._interval:
            return self._archive
        with self._lock:
            if time.monotonic() - self._checked < self._interval:
                return self._archive
            self._checked = time.monotonic()
            try:
                live = layout.current_generation(self.path)
                if live != self._archive.generation:
                    fresh = Archive.open(self.path, encoder=self._archive.loaded_encoder)
                    self._close_unread()  # handles replaced before this swap, unless a request holds one
                    self._retired.append(self._archive)
                    self._archive = fresh
                    self.reopened += 1
            except ArchiveError:
                pass  # a write in progress or a damaged new state: keep answering from the open one
            return self._archive

    @contextmanager
    def reading(self) -> Iterator[Archive]:
        """The current handle, kept open (and its generation on disk) until the ``with`` block ends."""
        archive = self.current()
        with self._lock:
            if archive._closed:  # noqa: SLF001 - replaced twice and closed between the two lines above
                archive = self._archive
            self._readers[id(archive)] = self._readers.get(id(archive), 0) + 1
        try:
            yield archive
        finally:
            with self._lock:
                left = self._readers[id(archive)] - 1
                if left:
                    self._readers[id(archive)] = left
                else:
                    del self._readers[id(archive)]
                    if archive in self._retired[:-1]:  # replaced before the latest swap: its last reader is done
                        self._retired.remove(archive)
                        archive.close()

    def _close_unread(self) -> None:
        """Close the replaced handles no request reads (called under the lock, before a swap)."""
        for archive in list(self._retired):
            if id(archive) not in self._readers:
                self._retired.remove(archive)
                archive.close()

    def close(self) -> None:
        """Close the open handles."""
        with self._lock:
            for archive in (*self._retired, self._archive):
                archive.close()
            self._retired = []

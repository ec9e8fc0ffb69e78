"""An open archive that follows the index's commits, for long-running readers such as ``archive serve``.

An :class:`~archive.Archive` is a handle on one committed generation: it never
changes under its reader, which is what a search wants, but a server that
runs for days while ``archive add`` commits every morning would keep answering
from the generation it opened. :class:`LiveArchive` checks the index's commit
pointer (one small file read) at most once per ``interval`` seconds and, when
a write committed a new generation, opens it and hands it out from then on.
The handle it replaces is closed one swap later, so a request still running
on it finishes (a generation is kept on disk until the commit after next).
"""

from __future__ import annotations

import threading
import time
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
        self._retired: Archive | None = None
        self._interval = interval
        self._checked = time.monotonic()
        self._lock = threading.Lock()
        self.reopened = 0
        """How many times a newer generation was opened."""

    @property
    def path(self) -> Path:
        return self._archive.path

    def current(self) -> Archive:
        """The handle on the newest committed generation (checked at most once per interval)."""
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
                    if self._retired is not None:
                        self._retired.close()
                    self._retired, self._archive = self._archive, fresh
                    self.reopened += 1
            except ArchiveError:
                pass  # a write in progress or a damaged new state: keep answering from the open one
            return self._archive

    def close(self) -> None:
        """Close the open handles."""
        with self._lock:
            for archive in (self._retired, self._archive):
                if archive is not None:
                    archive.close()
            self._retired = None

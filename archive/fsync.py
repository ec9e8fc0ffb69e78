"""Flushing to disk before a rename publishes what was written.

A new index generation, a rewritten vector index and a per-user cache entry
are each written under a temporary name and renamed into place; the rename
is only safe once the files and the directories that hold them are on disk
(else a crash can publish a name whose contents never arrived).
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Flush the directory entry list of ``path`` (names created or renamed in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    """Flush every file under ``path``, and the directories, to disk: before a rename publishes them."""
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))

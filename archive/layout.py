"""The index directory: generations, the commit pointer and the writer lock.

An index directory holds complete *generations* (``gen-*/``) and a pointer
file ``CURRENT`` naming the live one. A build writes a new generation beside
the live one and commits it by replacing ``CURRENT`` atomically
(``os.replace`` of an fsynced temporary file), so a reader sees the old
generation or the new one, never a half-written index, and a build killed at
any moment leaves the previous generation live. Superseded generations are
removed after the commit. Caches that outlive generations (embeddings) sit
beside them.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from .errors import IndexLockedError, IndexNotFoundError

POINTER = "CURRENT"
LOCK = ".lock"
GEN_PREFIX = "gen-"


def current_generation(root: Path) -> Path:
    """The live generation directory of the index at ``root``."""
    pointer = root / POINTER
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        if not root.exists():
            raise IndexNotFoundError(f"{root}: no such directory. Fix: archive build --index {root}") from None
        raise IndexNotFoundError(
            f"{root}: not an archive index (no {POINTER} file). Fix: archive build --index {root}"
        ) from None
    except OSError as exc:
        raise IndexNotFoundError(f"{pointer}: cannot read ({exc.strerror})") from None
    if not name.startswith(GEN_PREFIX) or "/" in name or not (root / name).is_dir():
        raise IndexNotFoundError(f"{pointer}: points to {name!r}, which is not a generation. Fix: archive build --full")
    return root / name


def new_generation(root: Path) -> Path:
    """A fresh, empty generation directory under ``root`` (not yet live)."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = root / f"{GEN_PREFIX}{stamp}-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    return path


def _fsync_dir(path: Path) -> None:
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
        _fsync_dir(Path(dirpath))


def commit_generation(root: Path, generation: Path) -> None:
    """Make ``generation`` live (atomically), then delete what no reader needs any more.

    The generation that was live until now is kept as the backup; every other
    generation directory is garbage: superseded earlier, or left half-written
    by a killed build (no committed manifest). Retention follows the commit
    pointer, never file times: a killed build's leftovers are newer than the
    good previous generation, and must never be mistaken for it.
    """
    fsync_tree(generation)
    previous = _live_name(root)
    tmp = root / f".{POINTER}.{uuid.uuid4().hex[:8]}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(generation.name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, root / POINTER)
    _fsync_dir(root)
    remove_stale_generations(root, keep={generation.name, *([previous] if previous else [])})


def _live_name(root: Path) -> str | None:
    """The name of the live generation, or ``None`` when ``root`` has no usable pointer."""
    try:
        return current_generation(root).name
    except IndexNotFoundError:
        return None


def remove_stale_generations(root: Path, keep: set[str]) -> None:
    """Delete the generations of ``root`` not named in ``keep``, and stale pointer temporaries.

    The caller holds the writer lock, so no generation is being written. The
    previous generation is kept so that a reader that opened it just before a
    commit can finish its searches; on POSIX, files it already has open stay
    readable even after removal. Only entries this module names (``gen-*``
    directories, ``.CURRENT.*`` files) are ever removed.
    """
    for child in root.iterdir():
        if child.name.startswith(GEN_PREFIX) and child.name not in keep and child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        elif child.name.startswith(f".{POINTER}.") and child.is_file():
            child.unlink(missing_ok=True)


def discard_generation(generation: Path) -> None:
    """Remove a generation that was never committed (a failed build)."""
    shutil.rmtree(generation, ignore_errors=True)


@contextmanager
def writing(root: Path) -> Iterator[None]:
    """Hold the writer lock of ``root`` for a write that may be its first.

    If the write fails before anything was ever committed there, what the
    attempt made is removed: the lock file and the folders it created (a
    cache that the attempt filled is kept, and so is its folder), so a
    mistyped ``--index`` or a failed first build leaves nothing behind.
    """
    created = [p for p in (root, *root.parents) if not p.exists()]
    try:
        with writer_lock(root):
            yield
    except BaseException:
        if not (root / POINTER).exists():
            _remove_leftovers(root, created)
        raise


def _remove_leftovers(root: Path, created: list[Path]) -> None:
    """Remove the lock file of a never-committed index, then the empty folders a write created."""
    try:
        entries = {c.name for c in root.iterdir()}
    except OSError:
        return
    if entries <= {LOCK}:
        (root / LOCK).unlink(missing_ok=True)
    for folder in created:  # deepest first
        try:
            folder.rmdir()
        except OSError:
            return


@contextmanager
def writer_lock(root: Path) -> Iterator[None]:
    """Hold the index's writer lock, or raise :class:`IndexLockedError` at once.

    ``flock`` locks vanish with the process, so a killed writer never leaves
    the index locked.
    """
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise IndexLockedError(
                    f"{root}: the index is being written by another process; wait for it to finish"
                ) from None
            raise
        yield
    finally:
        os.close(fd)

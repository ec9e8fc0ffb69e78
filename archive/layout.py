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

from .errors import (
    IndexDamagedError,
    IndexLockedError,
    IndexNotFoundError,
    IndexReadOnlyError,
)

POINTER = "CURRENT"
LOCK = ".lock"
GEN_PREFIX = "gen-"


def current_generation(root: Path) -> Path:
    """The live generation directory of the index at ``root``.

    Raises :class:`IndexNotFoundError` when there is no index there and
    :class:`IndexDamagedError` when the pointer is unreadable or names no
    generation, each with the fix.
    """
    pointer = root / POINTER
    _check_root(root)
    if pointer.is_dir():
        raise IndexDamagedError(
            f"{pointer}: is a directory, not the pointer file. Fix: archive build --full "
            f"(it moves the directory aside as {POINTER}.aside-*; nothing in it is deleted)"
        )
    try:
        name = pointer.read_bytes().decode("utf-8").strip()
    except FileNotFoundError:
        raise IndexNotFoundError(
            f"{root}: not an archive index (no {POINTER} file). Fix: archive build --index {root}"
        ) from None
    except UnicodeDecodeError:
        raise IndexDamagedError(f"{pointer}: damaged (not text). Fix: archive build --full") from None
    except OSError as exc:
        raise IndexDamagedError(f"{pointer}: cannot read ({exc.strerror}). Fix: archive build --full") from None
    if not name.startswith(GEN_PREFIX) or "/" in name or not (root / name).is_dir():
        shown = repr(name) if len(name) <= 80 else f"{name[:80]!r}..."
        raise IndexDamagedError(
            f"{pointer}: points to {shown}, which is not a generation. Fix: archive build --full"
        )
    return root / name


def _check_root(root: Path) -> None:
    """Fail with the fix when ``root`` is missing or is not a directory."""
    if not root.exists():
        raise IndexNotFoundError(f"{root}: no such directory. Fix: archive build --index {root}")
    if not root.is_dir():
        raise IndexNotFoundError(
            f"{root}: is a file, not an index directory. Fix: pass --index a directory (archive build --index DIR)"
        )


def new_generation(root: Path) -> Path:
    """A fresh, empty generation directory under ``root`` (not yet live)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = root / f"{GEN_PREFIX}{stamp}-{uuid.uuid4().hex[:8]}"
    with _writable(root):
        root.mkdir(parents=True, exist_ok=True)
        path.mkdir()
    return path


_READ_ONLY = (errno.EACCES, errno.EPERM, errno.EROFS)


@contextmanager
def _writable(root: Path) -> Iterator[None]:
    """Turn "permission denied" or "read-only file system" under ``root`` into :class:`IndexReadOnlyError`."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in _READ_ONLY:
            raise
        where = exc.filename or root
        raise IndexReadOnlyError(
            f"{where}: cannot write ({exc.strerror}): the index at {root} is read-only. Searching it works; "
            f"to change it, make it writable (chmod -R u+w {root}) or build a copy (archive build --index NEW_DIR)"
        ) from None


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


def commit_generation(root: Path, generation: Path) -> list[str]:
    """Make ``generation`` live (atomically), then delete superseded generations.

    A directory where the pointer file belongs (which no archive command
    makes) is moved aside, never deleted (an empty one is removed); the
    pointer's own temporary files left by an interrupted commit are removed.
    Returns notes on what was moved or removed, for the caller to report.
    """
    notes = _clear_pointer_path(root)
    fsync_tree(generation)
    tmp = root / f"{_POINTER_TMP}{uuid.uuid4().hex[:8]}"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(generation.name + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, root / POINTER)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(root)
    remove_stale_generations(root)
    return notes


_POINTER_TMP = f".{POINTER}."


def _clear_pointer_path(root: Path) -> list[str]:
    """Make room for the pointer file: remove the commit's own leftover temporary files and move
    a directory named like the pointer aside (an empty one is removed: it holds nothing)."""
    notes = []
    for leftover in root.glob(f"{_POINTER_TMP}*"):
        suffix = leftover.name[len(_POINTER_TMP):]
        if leftover.is_file() and len(suffix) == 8 and all(c in "0123456789abcdef" for c in suffix):
            leftover.unlink(missing_ok=True)  # written by an interrupted commit: ours to remove
    pointer = root / POINTER
    if pointer.is_dir() and not pointer.is_symlink():
        try:
            pointer.rmdir()
            notes.append(f"{pointer}: was an empty directory; removed it to write the pointer file")
        except OSError:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            aside = root / f"{POINTER}.aside-{stamp}-{uuid.uuid4().hex[:4]}"
            os.rename(pointer, aside)
            notes.append(f"{pointer}: was a directory holding files; moved it aside to {aside} (nothing deleted)")
    return notes


def remove_stale_generations(root: Path, keep_previous: int = 1) -> None:
    """Delete superseded generations, keeping the live one and the ``keep_previous`` newest others.

    The previous generation is kept so that a reader that opened it just
    before a commit can finish its searches; on POSIX, files it already has
    open stay readable even after removal.
    """
    try:
        live = current_generation(root).name
    except IndexNotFoundError:
        live = None
    old = sorted(
        (c for c in root.iterdir() if c.name.startswith(GEN_PREFIX) and c.name != live and c.is_dir()),
        key=lambda c: c.stat().st_mtime,
        reverse=True,
    )
    for child in old[keep_previous:]:
        shutil.rmtree(child, ignore_errors=True)


def discard_generation(generation: Path) -> None:
    """Remove a generation that was never committed (a failed build)."""
    shutil.rmtree(generation, ignore_errors=True)


@contextmanager
def writer_lock(root: Path) -> Iterator[None]:
    """Hold the index's writer lock, or raise :class:`IndexLockedError` at once.

    ``flock`` locks vanish with the process, so a killed writer never leaves
    the index locked.
    """
    if root.exists() and not root.is_dir():
        _check_root(root)
    try:
        with _writable(root):
            root.mkdir(parents=True, exist_ok=True)
            fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except (FileExistsError, NotADirectoryError) as exc:  # a file where a parent directory should be
        raise IndexNotFoundError(
            f"{root}: cannot create the index directory ({exc.strerror}). Fix: pass --index a directory path"
        ) from None
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

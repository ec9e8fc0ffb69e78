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
import json
import os
import re
import shutil
import stat
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ..fsync import fsync_dir, fsync_tree
from .diskfull import disk_full_named
from .integrity import FileTable, file_table
from .lock_record import describe, open_lock_file, read_record, write_record
from .manifest import MANIFEST_NAME, Manifest
from ..errors import (
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
            f"{pointer}: is a directory, not the pointer file. {_repair_fix(root)} "
            f"(it moves the directory aside as {POINTER}.aside-*; nothing in it is deleted)"
        )
    try:
        name = pointer.read_bytes().decode("utf-8").strip()
    except FileNotFoundError:
        if newest_complete(root) is not None:
            raise IndexDamagedError(f"{pointer}: missing, beside complete generations. {_repair_fix(root)}") from None
        raise IndexNotFoundError(
            f"{root}: not an archive index (no {POINTER} file). Fix: archive build --index {root}"
        ) from None
    except UnicodeDecodeError:
        raise IndexDamagedError(f"{pointer}: damaged (not text). {_repair_fix(root)}") from None
    except OSError as exc:
        raise IndexDamagedError(f"{pointer}: cannot read ({exc.strerror}). {_repair_fix(root)}") from None
    if not name.startswith(GEN_PREFIX) or "/" in name or not (root / name).is_dir():
        shown = repr(name) if len(name) <= 80 else f"{name[:80]!r}..."
        raise IndexDamagedError(
            f"{pointer}: points to {shown}, which is not a generation. {_repair_fix(root)}"
        )
    return root / name


def newest_complete(root: Path) -> Path | None:
    """The newest generation of ``root`` whose manifest reads as a JSON object (a build writes it last,
    so such a generation is complete), or ``None``: what a damaged pointer is repaired to."""
    found = complete_generations(root)
    return found[0] if found else None


def complete_generations(root: Path) -> list[Path]:
    """The generations of ``root`` whose manifest reads as a JSON object, newest first.

    Newest by the second in its name, then by when its manifest was written: two commits in one
    second differ only in the name's random part, which says nothing about their order."""
    found: list[tuple[str, int, Path]] = []
    try:
        children = [c for c in root.iterdir() if _GENERATION_NAME.fullmatch(c.name) and not c.is_symlink()]
    except OSError:
        return []
    for child in children:
        manifest = child / MANIFEST_NAME
        try:
            if isinstance(json.loads(manifest.read_bytes()), dict):
                found.append((child.name[: len(GEN_PREFIX) + 15], manifest.stat().st_mtime_ns, child))
        except (OSError, ValueError):
            continue
    return [item[2] for item in sorted(found, key=lambda item: item[:2], reverse=True)]


def readable_generation(root: Path) -> Path:
    """The live generation of ``root``, or, when its pointer is damaged or missing, the generation a
    write repairs it to (:func:`newest_complete`): what a write reads its remembered choices from
    (sources, encoder, deletes) before it takes the lock. Raises as :func:`current_generation`
    when there is none."""
    try:
        return current_generation(root)
    except (IndexDamagedError, IndexNotFoundError):
        found = newest_complete(root) if root.is_dir() else None
        if found is None:
            raise
        return found


def is_index_directory(path: Path) -> bool:
    """True when ``path`` looks like an archive index directory: a ``CURRENT`` pointer beside
    generation directories. What writes files of its own (an export) must not write there."""
    try:
        return os.path.lexists(path / POINTER) and any(
            _GENERATION_NAME.fullmatch(child.name) and child.is_dir() for child in path.iterdir())
    except OSError:
        return False


def _repair_fix(root: Path) -> str:
    """The fix for a damaged pointer: a write points it back to the newest complete generation."""
    found = newest_complete(root)
    if found is None:
        return "Fix: archive build --full (no complete generation is left to point it to)"
    return (f"Fix: archive build --index {root} (it points {POINTER} back to {found.name}, the newest complete "
            "generation, and brings it up to date with its sources; nothing is deleted)")


def repair_pointer(root: Path) -> str | None:
    """Point a damaged or missing ``CURRENT`` at the newest complete generation; say so, or ``None``.

    Called by every write under the writer lock. Without it a write saw no
    archive and its commit removed every generation but its own: a garbled
    pointer file cost the archive and its deletes. A pointer that is fine,
    or an index with no complete generation, is left as it is.
    """
    pointer = root / POINTER
    try:
        current_generation(root)
        return None
    except (IndexDamagedError, IndexNotFoundError):
        pass
    found = newest_complete(root)
    if found is None:
        return None
    if pointer.is_dir():
        state = "; ".join(_clear_pointer_path(root))  # moved aside (or removed when empty), nothing deleted
    else:
        try:
            was = pointer.read_bytes()[:80].decode("utf-8", "replace").strip()
            state = f"named {was!r}, which is not a generation" if was else "was empty"
        except FileNotFoundError:
            state = "was missing"
        except OSError as exc:
            state = f"could not be read ({exc.strerror})"
        state = f"{pointer}: {state}"
    _write_pointer(root, found.name)
    return (f"{state}; pointed {POINTER} back to {found.name}, the newest complete generation "
            f"(archive check --index {root} verifies it)")


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


def commit_generation(root: Path, generation: Path) -> list[str]:
    """Make ``generation`` live (atomically), then delete what no reader needs any more.

    The generation that was live until now is kept as the backup; every other
    generation directory is garbage: superseded earlier, or left half-written
    by a killed build (no committed manifest). Retention follows the commit
    pointer, never file times: a killed build's leftovers are newer than the
    good previous generation, and must never be mistaken for it. A directory where the pointer file belongs (which no archive command
    makes) is moved aside, never deleted (an empty one is removed); the
    pointer's own temporary files left by an interrupted commit are removed.
    Returns notes on what was moved or removed, for the caller to report.
    """
    notes = _clear_pointer_path(root)
    fsync_tree(generation)
    previous = _live_name(root)
    _write_pointer(root, generation.name)
    if previous:
        keep = {generation.name, previous}
    else:  # no usable pointer before this commit: keep every complete generation, it may be the user's archive
        keep = {generation.name, *(c.name for c in root.iterdir() if _GENERATION_NAME.fullmatch(c.name)
                                   and (c / MANIFEST_NAME).is_file())}
        if len(keep) > 1:
            notes.append(f"{root}: kept {len(keep) - 1} earlier complete generation(s) beside the new one, since "
                         f"no {POINTER} named one live; remove them yourself once you no longer need them")
    remove_stale_generations(root, keep=keep)
    return notes


def _write_pointer(root: Path, name: str) -> None:
    """Replace ``CURRENT`` with one naming ``name``, atomically (an fsynced temporary file renamed)."""
    tmp = root / f"{_POINTER_TMP}{uuid.uuid4().hex[:8]}"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(name + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, root / POINTER)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(root)


_POINTER_TMP = f".{POINTER}."
_ASIDE = f"{POINTER}.aside-"


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
            aside = root / f"{_ASIDE}{stamp}-{uuid.uuid4().hex[:4]}"
            os.rename(pointer, aside)
            notes.append(f"{pointer}: was a directory holding files; moved it aside to {aside} (nothing deleted)")
    return notes


def leftovers(root: Path) -> list[str]:
    """Notes on what lies beside the generations of ``root`` (``archive check`` lists them): not damage,
    but worth knowing: what an interrupted commit, removal or build left, a pointer directory moved aside."""
    notes = []
    for child in sorted(root.iterdir()) if root.is_dir() else []:
        name = child.name
        if name.startswith(_ASIDE):
            notes.append(f"{child}: a directory once found where {POINTER} belongs, moved aside "
                         "by a build; the archive does not use it (look inside, then remove it yourself)")
        elif name.startswith(_POINTER_TMP):
            notes.append(f"{child}: left by an interrupted commit; the next build removes it")
        elif name.startswith(TRASH_PREFIX):
            notes.append(f"{child}: a superseded generation whose removal was interrupted; "
                         "the next commit removes it")
        elif name.startswith(GEN_PREFIX) and child.is_dir() and not (child / MANIFEST_NAME).is_file():
            notes.append(f"{child}: a generation never committed (a build was interrupted); "
                         "the archive does not use it")
    return notes


def _live_name(root: Path) -> str | None:
    """The name of the live generation, or ``None`` when ``root`` has no usable pointer."""
    try:
        return current_generation(root).name
    except (IndexNotFoundError, IndexDamagedError):  # no pointer, or a damaged one: nothing to keep
        return None


def _live_generation_path(root: Path) -> Path | None:
    name = _live_name(root)
    return root / name if name else None


def remove_stale_generations(root: Path, keep: set[str]) -> None:
    """Delete the generations of ``root`` not named in ``keep`` and not pinned by a reader.

    The caller holds the writer lock, so no generation is being written. The
    previous generation is kept so that a reader that opened it just before a
    commit can finish its searches; a generation an open reader pins
    (:func:`pin_generation`) is kept too, and removed by the first commit after
    that reader closes it: a reader that had not yet opened every file of its
    generation (a server answering ``/api/stats`` while ``add`` commits every
    second) would otherwise find them gone. Only directories named as this
    module names generations are ever removed: a user's ``gen-photos`` is not one.
    """
    for child in root.iterdir():
        if child.is_symlink() or not child.is_dir():
            continue
        if _GENERATION_NAME.fullmatch(child.name) and child.name not in keep:
            _remove_unpinned(child, root / f"{TRASH_PREFIX}{child.name}")
        elif _TRASH_NAME.fullmatch(child.name):  # a removal interrupted earlier
            shutil.rmtree(child, ignore_errors=True)


_GENERATION_NAME = re.compile(GEN_PREFIX + r"\d{8}T\d{6}-[0-9a-f]{8}")
TRASH_PREFIX = ".removing-"
_TRASH_NAME = re.compile(re.escape(TRASH_PREFIX) + _GENERATION_NAME.pattern)
_NO_FLOCK = (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL, errno.EBADF)
"""Where ``flock`` is not supported (some network file systems), generations are not pinned."""


def pin_generation(generation: Path) -> int | None:
    """Pin ``generation`` for a reader: a shared ``flock`` on its directory, held until the returned
    descriptor is closed (:func:`unpin_generation`); writers do not remove a pinned generation.

    ``None`` where the file system has no ``flock`` (the reader is then unpinned, as before pins
    existed). Raises :class:`IndexDamagedError` when the generation is gone or being removed
    (two commits since its name was read): the caller reads the pointer again.
    """
    try:
        fd = os.open(generation, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise IndexDamagedError(f"{generation}: generation gone ({exc.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        here = os.stat(generation)  # the writer renames a generation aside before removing it
        if (here.st_ino, here.st_dev) != (os.fstat(fd).st_ino, os.fstat(fd).st_dev):
            raise FileNotFoundError(errno.ENOENT, "replaced")
    except OSError as exc:
        os.close(fd)
        if exc.errno in _NO_FLOCK:
            return None
        raise IndexDamagedError(f"{generation}: generation being removed ({exc.strerror})") from None
    return fd


def pin_live_generation(root: Path, tries: int = 5) -> tuple[Path, int | None]:
    """The live generation of ``root`` and its pin (:func:`pin_generation`), read again when two
    commits removed the generation between reading the pointer and pinning it."""
    for attempt in range(tries):
        generation = current_generation(root)
        try:
            return generation, pin_generation(generation)
        except IndexDamagedError:
            if attempt == tries - 1:
                raise
    raise AssertionError("unreachable")


def unpin_generation(fd: int | None) -> None:
    """Release a pin taken by :func:`pin_generation` (closing its descriptor drops the lock)."""
    if fd is not None:
        os.close(fd)


def _remove_unpinned(generation: Path, trash: Path) -> None:
    """Remove ``generation`` unless a reader pins it: under an exclusive ``flock`` (refused at once
    while any reader holds its shared one), rename it aside (a reader that read its name a moment
    ago finds it gone and reads the pointer again), then delete it."""
    try:
        fd = os.open(generation, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in _NO_FLOCK:
                return  # pinned by a reader: a later commit removes it
        os.rename(generation, trash)
    except OSError:
        return
    finally:
        os.close(fd)
    shutil.rmtree(trash, ignore_errors=True)


def discard_generation(generation: Path) -> None:
    """Remove a generation that was never committed (a failed build)."""
    shutil.rmtree(generation, ignore_errors=True)


@dataclass(slots=True)
class Transaction:
    """A generation being written by :func:`transaction`: its directory, and the manifest to commit it with."""

    path: Path
    """The new generation's directory (not live until the transaction commits)."""
    manifest: Manifest | None = None
    """Written into the generation, with its file table, when the ``with`` block ends without error."""
    notes: list[str] = field(default_factory=list)
    """What the commit moved or removed (:func:`commit_generation`), for the caller's report."""


@contextmanager
def transaction(
    root: Path, manifest: Manifest | None = None, *, base: Path | None = None, base_files: FileTable | None = None
) -> Iterator[Transaction]:
    """Write a new generation of ``root`` inside the ``with`` block, and commit it when the block ends.

    The one commit tail of every writer (a full build, an increment, an
    embedding checkpoint): the file table of what the block wrote (files
    hard-linked from ``base``, whose ``base_files`` the caller verified, take
    their entries from there: :func:`archive.index.integrity.file_table`), then
    the manifest (fsynced: it marks the generation complete), then the commit
    pointer. An error anywhere, the commit included, discards the new generation
    and leaves the live one as it was. The caller holds the writer lock and sets
    ``Transaction.manifest`` before the block ends when it did not pass one.
    """
    tx = Transaction(new_generation(root), manifest)
    try:
        yield tx
        if tx.manifest is None:
            raise ValueError(f"{tx.path}: a generation committed without a manifest")
        tx.manifest.files = file_table(tx.path, base, base_files)
        tx.manifest.write(tx.path)
        tx.notes.extend(commit_generation(root, tx.path))
    except BaseException:
        discard_generation(tx.path)
        raise


@contextmanager
def writing(root: Path, on_warning: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the writer lock of ``root`` for a write that may be its first.

    If the write fails before anything was ever committed there, what the
    attempt made is removed: the lock file and the folders it created (a
    cache that the attempt filled is kept, and so is its folder), so a
    mistyped ``--index`` or a failed first build leaves nothing behind.
    """
    created = [p for p in (root, *root.parents) if not p.exists()]
    try:
        with writer_lock(root, on_warning):
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
def writer_lock(root: Path, on_warning: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the index's writer lock, or raise :class:`IndexLockedError` at once.

    The lock is a POSIX record lock (``fcntl.lockf``, ``F_SETLK``) on
    ``root/.lock``, not a ``flock``: a record lock belongs to the process that
    took it, is never inherited by a forked child, and the kernel releases it
    when that process ends, however it ends. A ``flock`` belongs to the open
    file, which every forked child shares: an indexing worker that outlived
    a killed build kept the archive locked until it was killed by hand
    (``O_CLOEXEC``, which Python sets on every descriptor anyway, does not help:
    it closes descriptors on ``exec``, not on ``fork``). Record locks also work
    on NFS, where Linux emulates ``flock`` with them anyway. Their two catches
    are handled here: two writers in one process do not exclude each other
    (a set of the index directories this process holds does), and closing any
    descriptor of the file drops the lock (so nothing else opens ``.lock``).

    While held, ``.lock`` names its holder (pid, host, since when, command);
    the record is cleared on release, so a record found when taking the lock
    means the previous writer was killed (or the machine stopped) while
    holding it: the lock is taken over and ``on_warning`` (default:
    :func:`warnings.warn`) is told who it was. Nothing is lost by the
    takeover: a write is committed atomically (:func:`commit_generation`) or
    not at all. A busy lock's error names its holder.
    """
    if root.exists() and not root.is_dir():
        _check_root(root)
    try:
        with _writable(root):
            root.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:  # a file where a parent directory should be
        raise IndexNotFoundError(
            f"{root}: cannot create the index directory ({exc.strerror}). Fix: pass --index a directory path"
        ) from None
    info = root.stat()
    key = (info.st_dev, info.st_ino)
    with _HELD_GUARD:
        if key in _HELD:  # checked before opening: closing a second descriptor would drop our lock
            raise IndexLockedError(
                f"{root}: the index is being written by another process "
                "(or another thread of this one); wait for it to finish"
            )
        _HELD.add(key)
    try:
        with _writable(root):
            fd = open_lock_file(root / LOCK)
        try:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EACCES):
                    holder = describe(read_record(fd))
                    raise IndexLockedError(
                        f"{root}: the index is being written by another process ({holder}); wait for it to finish"
                    ) from None
                raise
            previous = read_record(fd)
            if previous is not None:
                message = (
                    f"{root}: the previous writer ({describe(previous)}) ended without releasing the lock "
                    "(killed, or the machine stopped); its lock is taken over, and the archive is as its "
                    "last completed write left it"
                )
                if on_warning is not None:
                    on_warning(message)
                else:
                    warnings.warn(message, StaleLockWarning, stacklevel=3)
            write_record(fd)
            try:
                with disk_full_named(root, lambda: _live_generation_path(root)):
                    repaired = repair_pointer(root)
                    if repaired is not None:
                        if on_warning is not None:
                            on_warning(repaired)
                        else:
                            warnings.warn(repaired, PointerRepairedWarning, stacklevel=3)
                    yield
            finally:
                os.ftruncate(fd, 0)  # a clean release leaves no record; the close below drops the lock
        finally:
            os.close(fd)
    finally:
        with _HELD_GUARD:
            _HELD.discard(key)


class StaleLockWarning(UserWarning):
    """A writer lock left by a killed writer was taken over."""


class PointerRepairedWarning(UserWarning):
    """A damaged or missing ``CURRENT`` was pointed back to the newest complete generation."""


_HELD: set[tuple[int, int]] = set()
"""(device, inode) of the index directories whose writer lock this process holds."""
_HELD_GUARD = threading.Lock()

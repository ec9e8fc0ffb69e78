"""Finding article files on disk and reading their bytes, naming every path it passes over.

One job: turn the paths a user gave into the regular files to read. Folders
are walked recursively and symbolic links are followed (a folder of links to
other folders is a common way to gather an archive; ``Path.rglob`` does not
follow them and silently left such articles out). Every path that is not read
is named, with its reason:

* through ``on_error`` (content that exists but cannot be read): a broken
  link, a named pipe, socket or device (never opened: reading a pipe waits
  for a writer forever), a folder that cannot be listed;
* through ``on_warning`` (nothing is lost, or the skip is a convention): a
  link back to a folder already walked (a loop) or a second way to the same
  folder or file (read once, where first met), hidden entries (names starting
  with ``.``: ``.git``, editor backups) and ``README.md`` files (a folder's
  description, not an article).

Loops are detected by the ``(st_dev, st_ino)`` of each folder walked, which
also catches bind mounts and hard-linked folders, not only symlinks.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from ..errors import SourceError
from .limits import ReadLimits, too_big_file

OnError = Callable[[SourceError], None]
OnWarning = Callable[[str], None]

SKIPPED_NAMES = frozenset({"README.md"})
"""File names never read as articles (a folder's description)."""

_log = logging.getLogger(__name__)


def _raise(error: SourceError) -> None:
    raise error


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def _stat_error(path: Path, exc: OSError) -> SourceError:
    if exc.errno == errno.ELOOP:
        return SourceError(str(path), "skipped: symbolic link loop (the link leads back to itself)")
    if isinstance(exc, FileNotFoundError) and os.path.islink(path):
        return SourceError(str(path), f"skipped: broken symbolic link (its target {os.readlink(path)!r} does not exist)")
    return SourceError(str(path), f"cannot read ({exc.strerror})")


class _Walk:
    """One listing: what was seen, by device and inode, across every path given."""

    def __init__(self, fail: OnError, warn: OnWarning) -> None:
        self.fail = fail
        self.warn = warn
        self.dirs: dict[tuple[int, int], Path] = {}
        self.files: dict[tuple[int, int], Path] = {}
        self.quiet_repeats = False
        """Set while a path given inside another given folder is read: what was read already is skipped
        silently (the user named both; nothing is wrong)."""

    def add_file(self, path: Path, found: list[Path]) -> None:
        try:
            info = os.stat(path)
        except OSError as exc:
            self.fail(_stat_error(path, exc))
            return
        if not stat.S_ISREG(info.st_mode):
            self.fail(SourceError(str(path), f"skipped: {file_kind(info.st_mode)}, not a regular file (never opened)"))
            return
        key = (info.st_dev, info.st_ino)
        if key in self.files:
            if not self.quiet_repeats:
                self.warn(f"{path}: skipped, the same file as {self.files[key]} (read once)")
            return
        self.files[key] = path
        found.append(path)

    def claim_dir(self, path: Path, info: os.stat_result) -> bool:
        """True when ``path`` is a folder not walked yet (it is then marked walked)."""
        key = (info.st_dev, info.st_ino)
        seen = self.dirs.get(key)
        if seen is None:
            self.dirs[key] = path
            return True
        if self.quiet_repeats:
            return False
        if path.is_relative_to(seen):
            self.warn(f"{path}: skipped, symbolic link loop (it leads back to {seen}, already read)")
        else:
            self.warn(f"{path}: skipped, the same folder as {seen} (read once)")
        return False

    def walk(self, root: Path, info: os.stat_result, found: list[Path]) -> None:
        if not self.claim_dir(root, info):
            return

        def unlistable(exc: OSError) -> None:
            self.fail(SourceError(str(exc.filename), f"cannot list folder ({exc.strerror})"))

        for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=unlistable):
            here = Path(dirpath)
            keep: list[str] = []
            # Real folders claim their inode before links to them, so a link is what gets named.
            for name in sorted(dirnames, key=lambda n: (os.path.islink(here / n), n)):
                child = here / name
                if name.startswith("."):
                    self.warn(f"{child}: skipped, hidden folder")
                    continue
                try:
                    child_info = os.stat(child)
                except OSError as exc:
                    self.fail(_stat_error(child, exc))
                    continue
                if self.claim_dir(child, child_info):
                    keep.append(name)
            dirnames[:] = sorted(keep)
            for name in sorted(filenames):
                child = here / name
                if name.startswith("."):
                    self.warn(f"{child}: skipped, hidden file")
                elif name in SKIPPED_NAMES:
                    self.warn(f"{child}: skipped, a README describes its folder and is not read as an article")
                else:
                    self.add_file(child, found)


def list_source_files(
    paths: str | Path | Iterable[str | Path],
    *,
    on_error: OnError | None = None,
    on_warning: OnWarning | None = None,
) -> list[Path]:
    """Every regular file under ``paths``, folders walked recursively (links followed), each once.

    A path given that does not exist or is neither a file nor a folder
    raises :class:`SourceError`; paths met while walking that are not read
    go to ``on_error`` / ``on_warning`` (see the module docstring). Without
    ``on_error`` the first such problem raises. Files are sorted within each
    path given.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = list(paths)
    nested = _nested(paths)
    walk = _Walk(on_error or _raise, on_warning or _log.warning)
    files: list[Path] = []
    for n, raw in sorted(enumerate(paths), key=lambda item: item[0] in nested):  # the outer ones first
        walk.quiet_repeats = n in nested
        path = Path(raw)
        try:
            info = os.stat(path)
        except FileNotFoundError:
            if os.path.islink(path):
                raise _stat_error(path, FileNotFoundError(errno.ENOENT, "")) from None
            raise SourceError(str(path), "no such file or directory") from None
        except OSError as exc:
            raise _stat_error(path, exc) from None
        found: list[Path] = []
        if stat.S_ISDIR(info.st_mode):
            walk.walk(path, info, found)
        elif stat.S_ISREG(info.st_mode):
            walk.add_file(path, found)
        else:
            raise SourceError(str(path), f"{file_kind(info.st_mode)}, not a file or folder of articles (never opened)")
        files.extend(sorted(found))
    return files


def _nested(paths: list[str | Path]) -> set[int]:
    """Positions of ``paths`` that lie inside another of them that is a folder (an archive remembers a
    folder and, from ``add``, a folder or file inside it). They are read after the outer ones, and what
    the outer walk already read is skipped without a word (it warned of a loop or a file met twice on
    every build); what the walk passed over (a hidden folder, a README) is still read, as asked."""
    folders = [os.path.abspath(p).rstrip(os.sep) + os.sep for p in paths if os.path.isdir(p)]
    return {n for n, p in enumerate(paths)
            if any(os.path.abspath(p).startswith(folder) for folder in folders)}


def open_regular(path: str | Path) -> BinaryIO:
    """The regular file ``path`` opened for binary reading; :class:`SourceError` for anything else.

    Opened non-blocking and checked with ``fstat`` on the open descriptor, so
    a path that is (or became) a named pipe or device is refused at once
    instead of blocking the build while it waits for a writer.
    """
    path = Path(path)
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise SourceError(str(path), f"{file_kind(info.st_mode)}, not a regular file (never opened)")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise _stat_error(path, exc) from None
    fh = os.fdopen(fd, "rb")
    mode = os.fstat(fh.fileno()).st_mode
    if not stat.S_ISREG(mode):
        fh.close()
        raise SourceError(str(path), f"{file_kind(mode)}, not a regular file (never read)")
    return fh


def read_bytes(path: str | Path, limits: ReadLimits | None = None) -> bytes:
    """The bytes of the regular file ``path`` (see :func:`open_regular`), at most ``limits.max_file_size``.

    A file over the limit is refused (:class:`SourceError`) without being read:
    the size is checked on the open descriptor, and the read stops one byte
    past the limit should the file grow meanwhile.
    """
    limits = limits or ReadLimits()
    with open_regular(path) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > limits.max_file_size:
            raise too_big_file(str(path), size, limits)
        try:
            data = fh.read(limits.max_file_size + 1)
        except OSError as exc:
            raise SourceError(str(path), f"cannot read ({exc.strerror})") from None
        if len(data) > limits.max_file_size:
            raise too_big_file(str(path), len(data), limits)
        return data

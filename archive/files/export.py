"""Whole articles out of an archive, as JSON Lines or CSV (``archive export``).

The records use the field names the readers take in (``id``, ``title``,
``body``, ``published``, ``source``, ...), so an export can be built into an
archive again. Rows are written one by one as the documents arrive.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import errno
import io
import json
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TextIO

from ..document import Document
from ..errors import QueryError, UsageError
from .cells import guard_formula

FORMATS = ("jsonl", "csv")
BOM = "\ufeff"
"""The UTF-8 byte order mark (EF BB BF once encoded) that ``bom=True`` puts before a CSV."""
_INTERNAL = {"origin", "file"}  # where the article was read from: paths on the machine that built the archive
_FIRST = ("id", "title", "published", "source", "category", "url")
_PUBLIC = [f.name for f in dataclasses.fields(Document) if f.name not in _INTERNAL]
FIELDS = (*_FIRST, *(n for n in _PUBLIC if n not in _FIRST and n != "body"), "body")
"""Exported fields, in order: every public field of :class:`~archive.document.Document`, the body last."""


def record(doc: Document) -> dict[str, object]:
    """The exported fields of ``doc``; dates as ISO 8601 text."""
    values: dict[str, object] = {}
    for name in FIELDS:
        value = getattr(doc, name)
        values[name] = value.isoformat() if isinstance(value, datetime) else value
    return values


_OPEN_TEXT = "with open(path, 'w', encoding='utf-8', newline='') as out: archive.export(out)"


def check_stream(out: object) -> None:
    """Raise :class:`UsageError` unless ``out`` is a text stream open for writing, before anything is read:
    a binary, closed or read-only stream failed only at the first row, with a raw TypeError, ValueError
    or io.UnsupportedOperation (and an export from a file left it half written)."""
    if not callable(getattr(out, "write", None)):
        raise UsageError(f"export writes to an open text stream, not {type(out).__name__}: {_OPEN_TEXT}")
    if getattr(out, "closed", False) is True:
        raise UsageError(f"export writes to an open text stream, and this {type(out).__name__} is closed: "
                         f"{_OPEN_TEXT}")
    mode = getattr(out, "mode", "")
    mode = mode if isinstance(mode, str) else ""  # a GzipFile's is a number
    shown = f" (mode {mode!r})" if mode else ""
    text = isinstance(out, (io.TextIOBase, codecs.StreamWriter, codecs.StreamReaderWriter))  # codecs.open: mode "wb"
    if isinstance(out, (io.RawIOBase, io.BufferedIOBase)) or ("b" in mode and not text):
        raise UsageError(f"export writes text, and this {type(out).__name__} is a binary stream{shown}: "
                         f"open it as text, {_OPEN_TEXT}")
    writable = getattr(out, "writable", None)
    try:
        read_only = callable(writable) and not writable()
    except (ValueError, OSError):  # a stream that cannot tell: its first write says what is wrong
        read_only = False
    if read_only:
        raise UsageError(f"export writes to an open text stream, and this one is open for reading only{shown}: "
                         f"{_OPEN_TEXT}")


def write_documents(
    documents: Iterable[Document], out: TextIO, format: str = "jsonl", *, bom: bool = False,  # noqa: A002
) -> int:
    """Write ``documents`` to ``out`` in ``format`` (``jsonl`` or ``csv``, with a header row); return how many.

    ``bom`` writes a byte order mark first (CSV only: Excel opens a CSV as UTF-8 only
    when it starts with one, and takes Arabic for mojibake otherwise; a JSON reader
    would take it for garbage)."""
    if format not in FORMATS:
        raise QueryError(f"unknown export format {format!r}; choose one of: {', '.join(FORMATS)}")
    if bom and format != "csv":
        raise QueryError("a byte order mark is for CSV (spreadsheets); JSON Lines are UTF-8 without one")
    count = 0
    if format == "csv":
        if bom:
            out.write(BOM)
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
        for doc in documents:
            writer.writerow({k: "" if v is None else guard_formula(str(v)) for k, v in record(doc).items()})
            count += 1
    else:
        for doc in documents:
            out.write(json.dumps(record(doc), ensure_ascii=False) + "\n")
            count += 1
    return count


def _standard_stream(path: Path) -> int | None:
    """The descriptor of this process's standard output or error that ``path`` names (``/dev/stdout``,
    ``/dev/stderr``, or the very file, pipe or terminal they are), or ``None``. Written to through that
    descriptor, not opened anew: a file the shell opened for appending (``>>``) or wrote a line to
    first is written after what it holds, where opening ``/dev/stdout`` again would empty it."""
    try:
        named = os.stat(path)
    except OSError:
        return None
    for fd in (1, 2):
        try:
            stream = os.fstat(fd)
        except OSError:
            continue
        if (named.st_dev, named.st_ino) == (stream.st_dev, stream.st_ino):
            for handle in (sys.stdout, sys.stderr):  # what Python holds for it goes first
                if handle is not None and _fileno(handle) == fd:
                    handle.flush()
            return fd
    return None


def _fileno(handle: TextIO) -> int | None:
    """``handle``'s descriptor, or ``None`` when it has none (a test's captured stream)."""
    try:
        return handle.fileno()
    except (OSError, ValueError, AttributeError):
        return None


def _stream(path: Path) -> bool:
    """True when ``path`` is written to directly: it is, through any links, neither a regular file nor
    missing (a pipe, a device). Asked of the path as given, before any ``resolve``: ``/dev/stdout``
    into a pipe links to ``/proc/self/fd/1``, whose own link names no path (``pipe:[N]``), while
    ``stat`` follows it to the pipe. Raises :class:`IsADirectoryError` for a directory."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):  # a new file (or a folder missing: the write names it)
        return False
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
    return not stat.S_ISREG(mode)


def write_file(path: Path, write: Callable[[TextIO], int]) -> int:
    """Run ``write`` on a new file beside ``path``, then put it in ``path``'s place; return its count.

    The file at ``path`` is replaced only once the whole export is written:
    an export that fails (a bad query, a full disk, Ctrl-C) leaves it as it
    was, and so does one that finds nothing (an empty export is not worth a
    user's file; the count says 0). A new file gets the mode the user's umask
    gives; a replaced one keeps its own. A symbolic link is written through.
    This process's own standard output or error (``/dev/stdout``, into a pipe,
    a file or a terminal) is written to through its descriptor; what is not a
    regular file (a pipe, a device) is written to directly, as is a file in a
    folder where no file can be made beside it.
    """
    own = _standard_stream(path)
    if own is not None:
        with open(os.dup(own), "w", encoding="utf-8", newline="") as out:
            return write(out)
    if _stream(path):
        with open(path, "w", encoding="utf-8", newline="") as out:
            return write(out)
    target = path.resolve() if path.is_symlink() else path
    try:
        handle, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except PermissionError:
        if not target.exists():
            raise
        with open(target, "w", encoding="utf-8", newline="") as out:  # the file is writable, its folder is not
            return write(out)
    try:
        with open(handle, "w", encoding="utf-8", newline="") as out:
            count = write(out)
        if count == 0 and target.exists():
            os.unlink(tmp)
            return count
        try:
            mode = target.stat().st_mode & 0o7777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count

"""The writer lock file's record of its holder: who holds ``.lock`` (pid, host, since, command).

Written when the lock is taken and cleared on release, so a record found when
taking the lock names a writer that was killed while holding it
(:func:`archive.index.layout.writer_lock`); a busy lock's error names its holder.
The file is opened only if it is a plain file with one link: the record is
written into it, so a ``.lock`` that is really some other file is never opened for writing.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
import sys
from datetime import UTC, datetime
from pathlib import Path

from ..errors import IndexLockedError

_RECORD_MAX = 4096


def open_lock_file(path: Path) -> int:
    """Open (creating) the lock file; refuse a symlink, a hard link or a non-file there.

    The holder record is written into it and cleared on release, so a ``.lock``
    that is really some other file must never be opened for writing.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise IndexLockedError(f"{path}: is a symbolic link, not a lock file. Fix: remove it") from None
        if exc.errno == errno.EISDIR:
            raise IndexLockedError(f"{path}: is a directory, not a lock file. Fix: remove it") from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(fd)
        raise IndexLockedError(f"{path}: is not a plain lock file (another file is linked there). Fix: remove it")
    return fd


def write_record(fd: int) -> None:
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "command": _command(),
    }
    data = json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def _command() -> str:
    """``archive build`` and the like: what this process was started as (program and subcommand)."""
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("python")
    name = program.parent.name if program.name == "__main__.py" else program.name
    return " ".join([name, *sys.argv[1:2]])[:200]


def read_record(fd: int) -> dict[str, object] | None:
    """The holder record in the lock file (``{}`` when unreadable), ``None`` when there is none."""
    data = os.pread(fd, _RECORD_MAX, 0)
    if not data.strip():
        return None
    try:
        record = json.loads(data.decode("utf-8"))
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def describe(record: dict[str, object] | None) -> str:
    """The holder as one printable phrase, from the record's fields of the expected types only."""
    if not record:
        return "holder unknown"
    parts = []
    if isinstance(record.get("pid"), int):
        parts.append(f"pid {record['pid']}")
    for name in ("host", "since", "command"):
        value = record.get(name)
        if isinstance(value, str) and value:
            text = "".join(ch if ch.isprintable() else "?" for ch in value[:200])
            parts.append(f"{name} {text}" if name != "since" else f"since {text}")
    return ", ".join(parts) or "holder unknown"

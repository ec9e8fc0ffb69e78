"""Embedding rates measured on this machine, per encoder and engine, for the dry run's estimate.

Why: an archive records the rate its own last embedding measured, but a new
archive (or one embedded elsewhere) has none, and a fixed default per engine can
be off by half or more from one CPU to the next. Every embedding that measures a
rate (:data:`archive.writing.choices.MIN_MEASURED` passages or more) also leaves
it here, so a dry run on this machine estimates with what this machine did.

Kept in the per-user cache (:func:`archive.encoders.usercache.cache_root`) as
``rates.json``: a JSON object from ``"ENCODER|ENGINE"`` to passages per second,
at most :data:`MAX_ENTRIES` of them, written whole and renamed into place
(:func:`~archive.encoders.usercache.write_json`), so a crash or a concurrent writer
never leaves half a file; a file that cannot be read or written, or holds anything
but that object, is ignored: it only ever costs an estimate its precision, never a
build.
"""

from __future__ import annotations

from pathlib import Path

from ..encoders.usercache import cache_root, read_json, write_json

FILE_NAME = "rates.json"
MAX_ENTRIES = 64
"""Encoder-engine pairs kept (the newest); a machine uses a handful."""
MAX_BYTES = 64 * 1024
"""A larger file is not this module's: it is ignored."""


def _path() -> Path:
    return cache_root() / FILE_NAME


def _read() -> dict[str, float]:
    data = read_json(_path(), MAX_BYTES)
    if not isinstance(data, dict):
        return {}
    return {k: float(v) for k, v in data.items()
            if isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1e9}


def measured_here(encoder: str, engine: str | None) -> float | None:
    """The rate an embedding with ``encoder`` on ``engine`` last measured on this machine, if any."""
    if engine is None:
        return None
    return _read().get(f"{encoder}|{engine}")


def remember(encoder: str, engine: str, rate: float) -> None:
    """Keep ``rate`` (passages/s) for ``encoder`` on ``engine``; silently nothing where the cache
    cannot be written."""
    if not rate > 0:
        return
    rates = _read()
    key = f"{encoder}|{engine}"
    rates.pop(key, None)
    rates[key] = round(float(rate), 2)  # newest last: the oldest go first past MAX_ENTRIES
    write_json(_path(), dict(list(rates.items())[-MAX_ENTRIES:]))

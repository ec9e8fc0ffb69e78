"""File sizes and checksums of an index generation: damage is named, never carried over.

Every file of a generation except ``manifest.json`` is listed in its manifest
with its size and a checksum (:func:`file_table`). Opening an index compares
sizes only (one ``stat`` per file, so a truncated or deleted file is named
before any reader trips over it, and opening stays fast); an update verifies
the checksum of every file of the live generation before anything of it is
carried into the next one (hard links, the store copy, kept postings and
vectors), and ``archive check`` verifies everything.

The checksum is SHA-256 from :mod:`hashlib` (standard library, no new
dependency): OpenSSL runs it on the CPU's SHA instructions, faster than
BLAKE2b here and within a small factor of CRC-32 (figures in
``docs/performance.md``), it is cryptographic (no damage pattern slips past
it, unlike a 32-bit CRC), and it is what ``sha256sum`` prints, so a file can
be checked by hand against its manifest years from now.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import IndexDamagedError

CHECKSUM = "sha256"
"""Name of the checksum recorded per file (a :mod:`hashlib` algorithm; hex digest as ``sha256sum``)."""
EXCLUDED = frozenset({"manifest.json"})
"""Files of a generation not listed (the manifest cannot list itself)."""
FileTable = dict[str, dict[str, int | str]]
"""``{relative path: {"size": bytes, CHECKSUM: hex}}``: a manifest's list of its generation's files."""
FIX = "Fix: archive build --full (it rewrites the index from your sources, which it never changes)"


@dataclass(frozen=True, slots=True)
class FileProblem:
    """One file of a generation that does not match its manifest entry."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def checksum(path: Path) -> str:
    """The hex checksum of the file at ``path``."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, CHECKSUM).hexdigest()


def _listed(generation: Path) -> list[str]:
    """Relative POSIX paths of every file under ``generation`` (sorted), manifest excluded."""
    names = []
    for dirpath, _, filenames in os.walk(generation):
        for name in filenames:
            relative = Path(dirpath, name).relative_to(generation).as_posix()
            if relative not in EXCLUDED:
                names.append(relative)
    return sorted(names)


def file_table(
    generation: Path, base: Path | None = None, base_files: dict[str, dict[str, int | str]] | None = None
) -> dict[str, dict[str, int | str]]:
    """``{relative path: {"size": bytes, CHECKSUM: hex}}`` of every file of ``generation``.

    A file that is a hard link to the same path in ``base`` (a generation whose
    ``base_files`` were just verified) takes its entry from there instead of
    being read again.
    """
    table: dict[str, dict[str, int | str]] = {}
    for relative in _listed(generation):
        path = generation / relative
        stat = path.stat()
        known = (base_files or {}).get(relative)
        if known is not None and base is not None and _same_file(stat, base / relative):
            table[relative] = dict(known)
            continue
        table[relative] = {"size": stat.st_size, CHECKSUM: checksum(path)}
    return table


def _same_file(stat: os.stat_result, other: Path) -> bool:
    try:
        theirs = other.stat()
    except OSError:
        return False
    return (stat.st_dev, stat.st_ino) == (theirs.st_dev, theirs.st_ino)


def size_problems(generation: Path, files: dict[str, dict[str, int | str]]) -> list[FileProblem]:
    """Files listed in ``files`` that are missing or not of their recorded size (one ``stat`` each)."""
    problems = []
    for relative, entry in files.items():
        path = generation / relative
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            problems.append(FileProblem(path, "missing"))
            continue
        except OSError as exc:
            problems.append(FileProblem(path, f"cannot read ({exc.strerror})"))
            continue
        if size != entry["size"]:
            problems.append(FileProblem(path, f"{size} bytes where the manifest records {entry['size']} (truncated or overwritten)"))
    return problems


def checksum_problems(generation: Path, files: dict[str, dict[str, int | str]]) -> list[FileProblem]:
    """Every file listed in ``files`` that is missing, of another size, or of another checksum."""
    problems = size_problems(generation, files)
    damaged = {p.path for p in problems}
    for relative, entry in files.items():
        path = generation / relative
        if path in damaged:
            continue
        try:
            found = checksum(path)
        except OSError as exc:
            problems.append(FileProblem(path, f"cannot read ({exc.strerror})"))
            continue
        if found != entry[CHECKSUM]:
            problems.append(FileProblem(path, f"content differs from the manifest's {CHECKSUM} checksum (corrupted)"))
    return problems


def _raise_first(problems: list[FileProblem]) -> None:
    if problems:
        more = f" (and {len(problems) - 1} more file(s): archive check lists them)" if len(problems) > 1 else ""
        raise IndexDamagedError(f"{problems[0]}{more}. {FIX}")


def verify_sizes(generation: Path, files: dict[str, dict[str, int | str]]) -> None:
    """Raise :class:`IndexDamagedError` naming the first file missing or of another size."""
    _raise_first(size_problems(generation, files))


def verify_checksums(generation: Path, files: dict[str, dict[str, int | str]]) -> None:
    """Raise :class:`IndexDamagedError` naming the first file whose size or checksum differs."""
    _raise_first(checksum_problems(generation, files))

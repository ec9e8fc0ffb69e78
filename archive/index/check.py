"""``archive check``: verify an index the way ``git fsck`` or Lucene's CheckIndex do.

Opening an index checks only file sizes (fast); this reads everything: the
pointer names a committed generation, every file has its recorded size and
checksum (:mod:`archive.index.integrity`), and the sides agree: the document
store, the Whoosh index, the term index, the dense index and the near-copies
store (:mod:`archive.index.near`) hold the same articles, as many as the
manifest says. Deleted articles keep their ordinals
until a compaction (the term index's live mask): the live ones are the
store's, each id live at one ordinal at most, and the columns and vectors
number every ordinal alike, with no vector or pending passage on a dead one. Each problem is reported with its
fix; nothing is changed. Leftovers that are not damage (a generation a killed
build never committed, a pointer directory moved aside) are listed as notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import layout
from ..errors import ArchiveError, IndexDamagedError, IndexNotFoundError
from .integrity import checksum_problems
from .manifest import MANIFEST_NAME, Manifest
from .store_protocol import Problem, Sides, problem_of


@dataclass(slots=True)
class CheckReport:
    """What :func:`check_index` found. ``healthy`` when there is no problem (notes are not problems)."""

    path: Path
    generation: Path | None = None
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    """Articles per side: manifest, store, whoosh, terms, dense (those that could be read)."""
    files_checked: int = 0
    bytes_checked: int = 0

    @property
    def healthy(self) -> bool:
        return not self.problems


def check_index(path: str | Path) -> CheckReport:
    """Check every file and every count of the index at ``path``; never writes.

    Raises :class:`IndexNotFoundError` only when there is no index at all;
    everything else is reported in the returned :class:`CheckReport`.
    """
    root = Path(path)
    report = CheckReport(root)
    report.notes.extend(layout.leftovers(root))
    try:
        generation = layout.current_generation(root)
    except IndexNotFoundError:
        raise
    except IndexDamagedError as exc:
        report.problems.append(problem_of(root / layout.POINTER, exc))
        return report
    report.generation = generation
    try:
        manifest = Manifest.read(generation)
    except ArchiveError as exc:
        report.problems.append(problem_of(generation / MANIFEST_NAME, exc))
        return report
    if not manifest.files:
        report.problems.append(Problem(generation / MANIFEST_NAME, "lists no files to verify"))
    report.problems.extend(Problem(p.path, p.reason) for p in checksum_problems(generation, manifest.files))
    report.files_checked = len(manifest.files)
    report.bytes_checked = sum(int(entry["size"]) for entry in manifest.files.values())
    on_disk = {p.relative_to(generation).as_posix() for p in generation.rglob("*") if p.is_file()}
    for extra in sorted(on_disk - set(manifest.files) - {MANIFEST_NAME}):
        report.notes.append(f"{generation / extra}: not listed in the manifest (not written by the build; ignored)")
    _check_sides(generation, manifest, report)
    return report


def _check_sides(generation: Path, manifest: Manifest, report: CheckReport) -> None:
    """Let each store verify itself, then compare their articles and counts."""
    from .stores import Vectors, few, stores

    sides = Sides(report.problems, report.notes)
    report.counts["manifest"] = manifest.documents
    where: dict[str, Path] = {}  # side -> the files of the store that holds it
    for store in stores(vectors=Vectors() if manifest.encoder is not None else None):
        store.verify(generation, manifest, sides)
        where.update({side: generation / store.name for side in sides.ids if side not in where})
    ids, order = sides.ids, sides.order
    for side, found in ids.items():
        report.counts[side] = len(found)
        if len(found) != manifest.documents:
            sides.problem(where[side], f"holds {len(found)} articles, the manifest says {manifest.documents}")
    if "store" not in ids:
        return
    for side, found in ids.items():
        if side == "store" or found == ids["store"]:
            continue
        missing, extra = sorted(ids["store"] - found), sorted(found - ids["store"])
        parts = []
        if side == "terms" and order is not None:
            deleted = set(order) - found  # ids only at dead ordinals
            if dead_stored := [i for i in missing if i in deleted]:
                parts.append(f"marks {len(dead_stored)} stored article(s) deleted ({few(dead_stored)})")
                missing = [i for i in missing if i not in deleted]
        if missing:
            parts.append(f"lacks {len(missing)} stored article(s) ({few(missing)})")
        if extra:
            parts.append(f"has {len(extra)} article(s) the store does not ({few(extra)})")
        sides.problem(where[side], "; ".join(parts))

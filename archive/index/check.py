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

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from . import layout
from ..errors import ArchiveError, IndexDamagedError, IndexNotFoundError
from .integrity import FIX, checksum_problems
from .manifest import MANIFEST_NAME, Manifest

T = TypeVar("T")
_FIX_COMMAND = FIX.removeprefix("Fix: ")
_SHOWN_IDS = 5


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an index: where, what, and the command that fixes it."""

    path: Path
    reason: str
    fix: str = _FIX_COMMAND

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}. Fix: {self.fix}"


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
    _leftovers(root, report)
    try:
        generation = layout.current_generation(root)
    except IndexNotFoundError:
        raise
    except IndexDamagedError as exc:
        report.problems.append(_problem(root / layout.POINTER, exc))
        return report
    report.generation = generation
    try:
        manifest = Manifest.read(generation)
    except ArchiveError as exc:
        report.problems.append(_problem(generation / MANIFEST_NAME, exc))
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


def _problem(path: Path, exc: ArchiveError) -> Problem:
    """A problem from an error message that already names its file and fix."""
    text = str(exc)
    text = text.removeprefix(f"{path}: ")
    reason, _, fix = text.partition(". Fix: ")
    return Problem(path, reason.rstrip("."), fix or _FIX_COMMAND)


def _side(report: CheckReport, path: Path, read: Callable[[], T]) -> T | None:
    """``read()``, or ``None`` with the failure recorded as a problem of ``path``."""
    try:
        return read()
    except ArchiveError as exc:
        report.problems.append(_problem(path, exc))
    except Exception as exc:  # noqa: BLE001 - a damaged file can make any reader trip; name it, do not crash
        report.problems.append(Problem(path, f"unreadable ({type(exc).__name__}: {exc})"))
    return None


def _check_sides(generation: Path, manifest: Manifest, report: CheckReport) -> None:
    """Read each side whole and compare their articles and counts."""
    from .lexical import LexicalIndex
    from .store import DocumentStore
    from .terms import TermIndex

    ids: dict[str, set[str]] = {}
    report.counts["manifest"] = manifest.documents

    def read_store() -> tuple[set[str], int]:
        store = DocumentStore.open(generation / "docs.sqlite")
        try:
            return store.check()
        finally:
            store.close()

    store = _side(report, generation / "docs.sqlite", read_store)
    if store is not None:
        ids["store"], aliases = store
        if aliases != manifest.aliases:
            report.problems.append(Problem(generation / "docs.sqlite",
                                           f"holds {aliases} folded duplicates, the manifest says {manifest.aliases}"))

    def read_whoosh() -> set[str]:
        lexical = LexicalIndex(generation / "lexical")
        try:
            reader = lexical.searcher.reader()
            return {fields["id"] for fields in reader.all_stored_fields()}
        finally:
            lexical.close()

    whoosh = _side(report, generation / "lexical", read_whoosh)
    if whoosh is not None:
        ids["whoosh"] = whoosh

    def read_terms() -> tuple[list[str], np.ndarray]:
        terms = TermIndex(generation / "terms")
        try:
            return list(terms.ids), terms.live_mask()
        finally:
            terms.close()

    numbering = _side(report, generation / "terms", read_terms)  # the generation's numbering: ordinal -> id
    order: list[str] | None = None
    live: np.ndarray | None = None
    if numbering is not None:
        order, live = numbering
        live_ids = [doc_id for doc_id, alive in zip(order, live.tolist()) if alive]
        ids["terms"] = set(live_ids)
        if len(live_ids) != len(ids["terms"]):
            twice = sorted(i for i, n in Counter(live_ids).items() if n > 1)
            report.problems.append(Problem(generation / "terms", f"has {len(twice)} article(s) live at two "
                                           f"ordinals ({_few(twice)})"))
        from .columns import Columns

        columns = _side(report, generation / "columns", lambda: Columns(generation / "columns"))
        if columns is not None and len(columns) != len(order):
            report.problems.append(Problem(generation / "columns",
                                           f"holds {len(columns)} rows for the term index's {len(order)} articles"))

    if manifest.encoder is not None:
        from .dense import DenseIndex

        dense = _side(report, generation / "dense", lambda: DenseIndex(generation / "dense"))
        if dense is not None:
            ids["dense"] = set(dense.ids)
            if order is not None and live is not None:
                if dense.ids != order and ids["dense"] == set(order):
                    report.problems.append(Problem(generation / "dense",
                                                   "numbers the articles differently from the term index"))
                elif dense.ids == order:
                    ids["dense"] = ids["terms"]  # the same numbering: its live articles are the term index's
                    from .dense import DEAD as _DEAD

                    rows = dense.rows.doc[dense.rows.doc != _DEAD]
                    on_dead = int(np.count_nonzero(~live[rows])) + int(np.count_nonzero(~live[dense.pending.doc]))
                    if on_dead:
                        report.problems.append(Problem(generation / "dense", f"holds {on_dead} passage(s) of "
                                                       "deleted articles not marked dead"))
            if len(dense) - dense.dead != manifest.passages:
                report.problems.append(Problem(generation / "dense", f"holds {len(dense) - dense.dead} passages, "
                                               f"the manifest says {manifest.passages}"))
            if len(dense.pending) != manifest.pending:
                report.problems.append(Problem(generation / "dense", f"lists {len(dense.pending)} passages to "
                                               f"embed, the manifest says {manifest.pending}"))
            from .dense import DEAD

            leads_pending = dense.pending.leads()
            leads = int(((dense.rows.doc != DEAD) & (dense.rows.rank == 0)).sum()) + leads_pending
            if (leads, leads_pending) != (manifest.leads, manifest.leads_pending):
                report.problems.append(Problem(generation / "dense", f"holds {leads} article leads, {leads_pending} "
                                               f"of them to embed; the manifest says {manifest.leads}, "
                                               f"{manifest.leads_pending} of them to embed"))
    _check_near(generation, report, ids)
    _check_variants(generation, report)
    for side, found in ids.items():
        report.counts[side] = len(found)
        if len(found) != manifest.documents:
            report.problems.append(Problem(generation / _WHERE[side],
                                           f"holds {len(found)} articles, the manifest says {manifest.documents}"))
    if "store" in ids:
        for side, found in ids.items():
            if side == "store" or found == ids["store"]:
                continue
            missing, extra = sorted(ids["store"] - found), sorted(found - ids["store"])
            parts = []
            if side == "terms" and order is not None and live is not None:
                deleted = set(order) - found  # ids only at dead ordinals
                if dead_stored := [i for i in missing if i in deleted]:
                    parts.append(f"marks {len(dead_stored)} stored article(s) deleted ({_few(dead_stored)})")
                    missing = [i for i in missing if i not in deleted]
            if missing:
                parts.append(f"lacks {len(missing)} stored article(s) ({_few(missing)})")
            if extra:
                parts.append(f"has {len(extra)} article(s) the store does not ({_few(extra)})")
            report.problems.append(Problem(generation / _WHERE[side], "; ".join(parts)))


_WHERE = {"store": "docs.sqlite", "whoosh": "lexical", "terms": "terms", "dense": "dense", "near": "near"}


def _check_near(generation: Path, report: CheckReport, ids: dict[str, set[str]]) -> None:
    """The near-copies store (:mod:`archive.index.near`): readable, consistent, one row per indexed article."""
    from .near import NEAR_DIR, NearStore

    near = _side(report, generation / NEAR_DIR, lambda: NearStore.read(generation))
    if near is not None:
        ids["near"] = set(near.ids)
    elif not (generation / NEAR_DIR).exists():
        report.notes.append(f"{generation / NEAR_DIR}: no near copies store (built before copies were folded): "
                            "searches show every copy until the next build, add or delete writes it")


def _check_variants(generation: Path, report: CheckReport) -> None:
    """The spelling-variant classes (:mod:`archive.index.variants`): readable and within their bounds."""
    from .variants import VARIANTS_NAME, VariantClasses

    path = generation / VARIANTS_NAME
    if _side(report, path, lambda: VariantClasses.read(generation)) is None and not path.exists():
        report.notes.append(f"{path}: no spelling variants (built before they were learned): words are searched "
                            "as written until the next build, add or delete learns them")


def _few(ids: list[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:_SHOWN_IDS])
    return shown + (", ..." if len(ids) > _SHOWN_IDS else "")


def _leftovers(root: Path, report: CheckReport) -> None:
    """Notes on what lies beside the generations: not damage, but worth knowing."""
    if not root.is_dir():
        return
    for child in sorted(root.iterdir()):
        name = child.name
        if name.startswith(f"{layout.POINTER}.aside-"):
            report.notes.append(f"{child}: a directory once found where {layout.POINTER} belongs, moved aside "
                                "by a build; the archive does not use it (look inside, then remove it yourself)")
        elif name.startswith(f".{layout.POINTER}."):
            report.notes.append(f"{child}: left by an interrupted commit; the next build removes it")
        elif name.startswith(layout.TRASH_PREFIX):
            report.notes.append(f"{child}: a superseded generation whose removal was interrupted; "
                                "the next commit removes it")
        elif name.startswith(layout.GEN_PREFIX) and child.is_dir() and not (child / MANIFEST_NAME).is_file():
            report.notes.append(f"{child}: a generation never committed (a build was interrupted); "
                                "the archive does not use it")

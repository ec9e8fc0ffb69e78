"""The interface every store of a generation implements (:class:`Store`), and what writes give it.

A store is written whole from the indexed articles (:class:`Full`, through a
:class:`Sink`), or carried over from the live generation with a
:class:`Change` applied, by appending (deleted articles keep their ordinals,
marked dead) or by compacting (renumbered without the dead, as
:func:`numbering` decides from the term index). The stores themselves live in
one module per family (:mod:`archive.index.stores` lists them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np

from ..document import Document
from ..errors import ArchiveError
from ..text.analysis import DocumentWords
from .integrity import FIX
from .terms import COMPACT_SHARE, TermIndex

if TYPE_CHECKING:
    from .dense import DenseBuild
    from .manifest import Manifest


@dataclass(frozen=True, slots=True)
class Full:
    """What a whole write gives every store."""

    documents: Sequence[Document]
    """Every stored article, in order (folded copies included)."""
    aliases: Mapping[str, str]
    """``{copy id: indexed id}`` of the folded copies."""
    tombstones: Mapping[str, str]
    """``{id: when}`` of the articles the user deleted (carried over)."""


@dataclass(frozen=True, slots=True)
class Change:
    """What an increment gives every store: the live generation and what changes in it."""

    live: Path
    """The live generation every store is carried over from (verified by the caller)."""
    index: Sequence[Document]
    """Articles (re)indexed, appended after the last ordinal in this order."""
    unindex: Sequence[str]
    """Ids taken out of the indexes (deleted, changed, or now a folded copy)."""
    keep: np.ndarray
    """Per ordinal of the live generation: the article stays (False for those deleted now or before)."""
    dead: Sequence[int]
    """Ordinals deleted now (marked dead when appending)."""
    gone: int
    """Dead ordinals once ``dead`` are marked: dropped when the change compacts."""
    compact: bool
    """The change renumbers every store without the dead (see :func:`numbering`)."""
    delete: set[str] = field(default_factory=set)
    """Document-store rows removed (deleted ids and the old rows of changed ones)."""
    insert: Sequence[Document] = ()
    """Document-store rows inserted (new and changed articles)."""
    inserted_aliases: Mapping[str, str] = field(default_factory=dict)
    canonical: Mapping[str, str | None] = field(default_factory=dict)
    """Unchanged rows whose canonical id changes (promotions, new copies)."""
    lifted: set[str] = field(default_factory=set)
    """Tombstones lifted (restored articles)."""
    tombstoned: Mapping[str, str] = field(default_factory=dict)
    """Tombstones added: ``{id: when}``."""
    words: Sequence[DocumentWords] = ()
    """``index`` analyzed, one per article (:func:`~archive.index.stores.apply_all` makes them once)."""


def numbering(live: Path, unindex: Sequence[str], added: int) -> tuple[np.ndarray, list[int], int, bool]:
    """``(keep, dead, gone, compact)`` of a change to ``live`` (see :class:`Change`), from its term index.

    Deleted articles keep their ordinals, marked dead, until the dead would
    pass :data:`~archive.index.terms.COMPACT_SHARE` of the ordinals: then the
    change compacts every store.
    """
    terms = TermIndex(live / "terms")
    try:
        ordinals = terms.ordinals()
        dead = sorted({ordinals[i] for i in unindex if i in ordinals})
        keep = terms.live_mask()
    finally:
        terms.close()
    keep[dead] = False
    gone = len(keep) - int(np.count_nonzero(keep))
    return keep, dead, gone, gone > COMPACT_SHARE * (len(keep) + added)


@dataclass(frozen=True, slots=True)
class Written:
    """What one store's write did: the live articles it holds (``None``: it does not count them), and more."""

    articles: int | None = None
    dense: DenseBuild | None = None
    stories: int = 0
    copies: int = 0
    classes: int = 0
    seconds: float = 0.0


class Sink(Protocol):
    """A store being written whole: given the indexed articles one by one, each with its words
    (analyzed once for every store), then closed (or cancelled)."""

    def add(self, doc: Document, words: DocumentWords) -> None: ...
    def close(self) -> Written: ...
    def cancel(self) -> None: ...


class Store(Protocol):
    """One store of a generation (see the module)."""

    name: str
    """Its file or folder in a generation."""

    def writer(self, generation: Path, full: Full) -> Sink:
        """Start writing the store whole into ``generation``; the indexed articles come through the sink."""

    def append(self, generation: Path, change: Change) -> Written:
        """Write the store into ``generation`` as ``change.live``'s with ``change.dead`` marked dead and
        ``change.index`` appended (no ordinal moves)."""

    def compact(self, generation: Path, change: Change) -> Written:
        """The same, renumbered: only the ``change.keep`` ordinals, in order, then ``change.index``."""

    def files(self, generation: Path) -> list[Path]:
        """The files of ``generation`` this store owns."""

    def ordinals(self, generation: Path) -> int | None:
        """Ordinals the store numbers (the term index's numbering), ``None`` when it is not numbered so."""

    def verify(self, generation: Path, manifest: Manifest, sides: Sides) -> None:
        """Read the store whole and record its articles and problems in ``sides`` (``archive check``)."""


class BaseStore:
    """What every store shares: its files, and compacting as appending (stores keyed by id, not ordinal)."""

    name = ""

    def files(self, generation: Path) -> list[Path]:
        path = generation / self.name
        return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path] * path.is_file()

    def ordinals(self, generation: Path) -> int | None:
        return None

    def append(self, generation: Path, change: Change) -> Written:
        raise NotImplementedError

    def compact(self, generation: Path, change: Change) -> Written:
        return self.append(generation, change)


class Collected:
    """A sink that keeps the articles and writes them all when closed (stores that need every one)."""

    def __init__(self, finish: Callable[[list[Document]], Written]) -> None:
        self.documents: list[Document] = []
        self._finish = finish

    def add(self, doc: Document, words: DocumentWords) -> None:  # noqa: ARG002 - the protocol's
        self.documents.append(doc)

    def close(self) -> Written:
        return self._finish(self.documents)

    def cancel(self) -> None:
        self.documents = []


def few(ids: Sequence[str], shown: int = 5) -> str:
    """Up to ``shown`` ids, quoted, for a message."""
    return ", ".join(repr(i) for i in ids[:shown]) + (", ..." if len(ids) > shown else "")


T = TypeVar("T")
_FIX_COMMAND = FIX.removeprefix("Fix: ")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an index: where, what, and the command that fixes it."""

    path: Path
    reason: str
    fix: str = _FIX_COMMAND

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}. Fix: {self.fix}"


def problem_of(path: Path, exc: ArchiveError) -> Problem:
    """A problem from an error message that already names its file and fix."""
    text = str(exc)
    text = text.removeprefix(f"{path}: ")
    reason, _, fix = text.partition(". Fix: ")
    return Problem(path, reason.rstrip("."), fix or _FIX_COMMAND)


@dataclass(slots=True)
class Sides:
    """What the stores' :meth:`Store.verify` found (``archive check``, :mod:`archive.index.check`): the
    articles each holds (by the names of the report's counts), the generation's numbering (from the term
    index), and the problems and notes, written into the check's own lists."""

    problems: list[Problem]
    notes: list[str]
    ids: dict[str, set[str]] = field(default_factory=dict)
    order: list[str] | None = None
    """The term index's numbering: ordinal -> id (deleted ones included)."""
    live: np.ndarray | None = None
    """Which ordinals are live."""

    def problem(self, path: Path, reason: str) -> None:
        self.problems.append(Problem(path, reason))

    def read(self, path: Path, read: Callable[[], T]) -> T | None:
        """``read()``, or ``None`` with the failure recorded as a problem of ``path``."""
        try:
            return read()
        except ArchiveError as exc:
            self.problems.append(problem_of(path, exc))
        except Exception as exc:  # noqa: BLE001 - a damaged file can make any reader trip; name it, do not crash
            self.problem(path, f"unreadable ({type(exc).__name__}: {exc})")
        return None

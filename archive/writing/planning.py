"""The one planner: what a write changes, from what it read and what is live.

Every write is planned here, once, under the writer lock, from the live index
read once (:func:`read_live`, :func:`live_to_change`): :func:`plan_build` for a
build (whole or an increment), :func:`plan_update` for ``update`` and
``restore``. Their :class:`Counts` are the write's report; an increment is
planned as a :class:`ChangePlan` of how the change falls on the live store
(:func:`plan_changes`), which :func:`archive.writing.increment.write_increment`
applies as it is.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..document import Document
from ..errors import ArchiveError, IndexFormatError
from ..index import layout
from ..index.integrity import verify_sizes
from ..index.manifest import FORMAT_VERSION, Manifest
from ..index.store import DocumentStore

INCREMENT_MAX_SHARE = 0.25
"""A re-build whose changes (added + updated + deleted) exceed this share of its
documents rewrites the index whole (the two-process writer is then faster
than patching); below it, only the changes are written (:mod:`archive.writing.increment`)."""


@dataclass(slots=True)
class LiveState:
    """What a build needs of the live index: its manifest and every stored article's state."""

    generation: Path
    manifest: Manifest
    entries: list[tuple[str, str, str, str | None]]
    """``(id, content hash, body key, canonical id)`` (:meth:`DocumentStore.entries`)."""
    files: dict[str, str]
    tombstones: dict[str, str]
    """``{id: when}`` of the articles the user deleted (a build does not bring them back)."""
    compatible: bool
    """Written with this code's settings, the build's encoder and passage settings: it can be patched."""


def read_live(
    root: Path, encoder: str | None, *, tolerate_damage: bool = False, max_passages: int | None = None
) -> LiveState | None:
    """The live index of ``root`` as a build sees it, or ``None`` when there is none it can read.

    ``encoder`` is the full name of the build's encoder (``None``: lexical only).
    An index of another format or encoder is still read (``compatible`` is
    then False): the build rewrites it whole, but counts against it and keeps
    the articles no source re-reads. A damaged one raises
    :class:`IndexDamagedError` (a plain build never writes over it silently:
    its articles from ``add`` could be lost), unless ``tolerate_damage``
    (``build --full``, the fix the error names) makes it count as absent.
    """
    try:
        generation = layout.current_generation(root)
        manifest = Manifest.read(generation, check=False)
        if manifest.format_version == FORMAT_VERSION:
            verify_sizes(generation, manifest.files)
        entries, files, tombstones = _stored_state(generation)
    except IndexFormatError:  # damage, or a store newer than this code: never replaced unasked
        if tolerate_damage:
            return None
        raise
    except (ArchiveError, sqlite3.Error):
        return None
    try:
        manifest.check(generation)
        settings_match = True
    except IndexFormatError:
        settings_match = False
    same_encoder = manifest.encoder == encoder
    same_policy = max_passages is None or encoder is None or manifest.max_passages == max_passages
    return LiveState(generation, manifest, entries, files, tombstones,
                     settings_match and same_encoder and same_policy)


def live_to_change(root: Path) -> LiveState:
    """The live index of ``root`` for ``update``, ``delete`` and ``restore``: read once, manifest checked
    against this code's settings, files checked by size (the increment checks their checksums)."""
    generation, manifest = checked_live(root)
    return LiveState(generation, manifest, *_stored_state(generation), compatible=True)


def checked_live(root: Path) -> tuple[Path, Manifest]:
    """The live generation of ``root`` and its manifest, checked against this code's settings and its
    files by size."""
    generation = layout.current_generation(root)
    manifest = Manifest.read(generation)
    verify_sizes(generation, manifest.files)
    return generation, manifest


def _stored_state(generation: Path) -> tuple[list[tuple[str, str, str, str | None]], dict[str, str], dict[str, str]]:
    """``(entries, files, tombstones)`` of ``generation``'s document store, read at once."""
    with closing(DocumentStore.open(generation / "docs.sqlite")) as store:
        return store.entries(), store.files(), store.tombstones()


def salvaged_tombstones(root: Path) -> dict[str, str]:
    """The deletes remembered by the live generation's store, read even when the rest of it is damaged.

    ``build --full`` rewrites a damaged index as if there were none; the
    user's deletes must survive that (a damaged live mask or vectors do not
    make the store unreadable). Empty when the store itself cannot be read.
    """
    try:
        with closing(DocumentStore.open(layout.current_generation(root) / "docs.sqlite")) as store:
            return store.tombstones()
    except (ArchiveError, sqlite3.Error, OSError):
        return {}


@dataclass(slots=True)
class Counts:
    """What a write does to the articles: counted once, by its plan; its report
    (:class:`~archive.writing.building.BuildReport`, these counts and more) takes them as they are."""

    added: int = 0
    """Read articles new to the archive, indexed as articles of their own."""
    updated: int = 0
    """Read articles whose stored version differed: replaced."""
    unchanged: int = 0
    """Read articles identical to their stored version: left as they were."""
    deleted: int = 0
    kept: int = 0
    """Articles no source of this build holds, kept (their files are not under its sources, or
    still exist); ``prune`` removes them."""
    folded: int = 0
    """Read articles new to the archive whose text is identical to an indexed article's: stored
    as its copy (``archive show`` lists them), not indexed again."""
    restored: int = 0
    """Articles deleted earlier that this write brought back (``restore``, or an explicit ``add``)."""
    tombstoned_ids: list[str] = field(default_factory=list)
    """Read articles a build skipped because the user deleted them (``archive delete``);
    ``Archive.restore`` (``archive restore ID``) brings one back."""
    deletions: dict[str, int] = field(default_factory=dict)
    """How many articles are removed, by their source file (and why), for the messages."""

    @property
    def tombstoned(self) -> int:
        """How many read articles a build skipped because the user deleted them (:attr:`tombstoned_ids`)."""
        return len(self.tombstoned_ids)


@dataclass(frozen=True, slots=True)
class Plan:
    """What one write changes against the live index."""

    counts: Counts
    documents: list[Document]
    """Read documents the write takes (those the user deleted left out)."""
    changes: list[Document]
    """Read documents that are new or differ from their stored copy."""
    keep: list[str]
    """Ids of stored articles no source re-read, kept as they are."""
    whole: bool
    """The write makes a whole new generation (no usable live index, another setting, ``full``, or
    changes past :data:`INCREMENT_MAX_SHARE`) rather than patching the live one."""
    increment: ChangePlan | None = None
    """How the change falls on the live store, when it is written as an increment that changes something."""
    remembered: list[str] = field(default_factory=list)
    """The sources the archive remembers after the write."""
    silent: dict[str, int] = field(default_factory=dict)
    """Source folders that gave no article this time while the archive holds articles from them (an
    unmounted drive, an emptied folder): ``{folder: articles kept}``. Their articles are kept, not
    deleted as gone files (``prune`` removes them)."""


def plan_build(
    documents: Sequence[Document],
    live: LiveState | None,
    *,
    sources: Sequence[str] = (),
    prune: bool = False,
    tombstones: Mapping[str, str] | None = None,
    full: bool = False,
) -> Plan:
    """Compare what a build read with the live index (see the module).

    A stored article that this build did not read is removed only when
    ``prune`` asks for it, or when its own source file lies under one of
    ``sources`` (the paths this build read) and no longer exists: a file or
    a folder that could not be read this time, or articles that came from
    elsewhere (``archive add`` of another folder), are never a reason to
    delete anything. An article the user deleted (a tombstone in the live
    store) is skipped, counted in ``tombstoned_ids``: reading its source
    again does not bring it back. ``tombstones`` defaults to the live
    store's (a ``build --full`` over a damaged index passes those it could
    still read: see :func:`salvaged_tombstones`).
    """
    if tombstones is None:
        tombstones = live.tombstones if live is not None else {}
    silent = _silent_sources(documents, live, sources) if live is not None and not prune else {}
    unreachable = _Unreachable(live.manifest.sources if live is not None else [], sources)
    tombstoned = [d.id for d in documents if d.id in tombstones]
    if tombstoned:
        documents = [d for d in documents if d.id not in tombstones]
    if live is None:
        folded = len(documents) - len({d.body_key for d in documents})
        counts = Counts(added=len(documents) - folded, folded=folded, tombstoned_ids=tombstoned)
        return Plan(counts, list(documents), list(documents), [], True, remembered=list(sources))
    new_sources = [s for s in sources if s not in live.manifest.sources]
    remembered = list(sources) if prune else [*live.manifest.sources, *new_sources]
    previous = {doc_id: digest for doc_id, digest, _, _ in live.entries}
    changes = [d for d in documents if previous.get(d.id) != d.content_hash]
    read = {d.id: d for d in documents}
    delete: list[str] = []
    keep: list[str] = []
    deletions: dict[str, int] = {}
    for doc_id in previous:
        if doc_id in read:
            continue
        file = live.files.get(doc_id, "")
        now = _read_as(doc_id, file, read)
        if now is not None:
            reason = f"{file} (its article is read now as {now!r}, without the spaces or controls around the id)"
        elif prune:
            reason = f"{file or '(no source file)'} (not read by this build: --prune)"
        elif file and _under(file, sources) and _gone(file) and not _under(file, silent) \
                and not unreachable(file):
            reason = f"{file} (file gone)"
        else:
            keep.append(doc_id)
            continue
        delete.append(doc_id)
        deletions[reason] = deletions.get(reason, 0) + 1
    changed = bool(changes or delete or remembered != live.manifest.sources)
    small = len(changes) + len(delete) <= INCREMENT_MAX_SHARE * len(live.entries)
    whole = not live.compatible or full or (not small and changed)
    increment = None
    if not whole and changed:  # how the changes fall on the live store: its counts are the report's
        increment = plan_changes(live.entries, changes, delete)
        increment.new_sources = new_sources
        counts = increment.counts
    else:
        new = sum(1 for d in changes if d.id not in previous)
        folded = _new_copies(changes, live, previous, delete)
        counts = Counts(added=new - folded, updated=len(changes) - new, deleted=len(delete), folded=folded)
    # the tombstoned ones are out of documents now
    counts = replace(counts, unchanged=len(documents) - len(changes), kept=len(keep), tombstoned_ids=tombstoned,
                     deletions=deletions)
    return Plan(counts, list(documents), changes, keep, whole, increment, remembered, silent | unreachable.emptied)


def plan_update(
    live: LiveState,
    add: Sequence[Document],
    delete: Sequence[str],
    *,
    sources: Sequence[str] = (),
    tombstone: bool = False,
    forget: Collection[str] = (),
) -> ChangePlan:
    """Plan ``update`` (add or replace ``add``, unique ids; remove ``delete``) or ``restore`` as an increment
    of the live index. ``tombstone`` remembers the ``delete`` ids as deleted by the user (``archive
    delete``: a build then skips them); an added article that was deleted so is restored (its tombstone
    lifted), and so are the ids in ``forget``. ``sources`` join the archive's remembered ones."""
    increment = plan_changes(live.entries, add, delete)
    tombstones = live.tombstones
    increment.lifted = {d.id for d in add if d.id in tombstones} | {i for i in forget if i in tombstones}
    increment.tombstone = sorted(set(delete)) if tombstone else []
    increment.new_sources = [s for s in sources if s not in live.manifest.sources]
    # restored: the articles brought back; an id of ``forget`` not read again only loses its tombstone
    increment.counts = replace(increment.counts, restored=sum(d.id in tombstones for d in add))
    return increment


def _silent_sources(documents: Sequence[Document], live: LiveState, sources: Sequence[str]) -> dict[str, int]:
    """Folders of ``sources`` that gave none of ``documents`` although ``live`` holds articles read from
    files in them, with how many (see :attr:`Plan.silent`)."""
    folders = [s for s in sources if os.path.isdir(s)]
    if not folders:
        return {}
    held = dict.fromkeys(folders, 0)
    read = {doc.id for doc in documents}
    for doc_id, file in live.files.items():
        if not file or doc_id in read:  # read again, from wherever it is now
            continue
        for folder in folders:
            if _under(file, [folder]):
                held[folder] += 1
    for doc in documents:
        for folder in [f for f in held if doc.file and _under(doc.file, [f])]:
            del held[folder]
    return {folder: count for folder, count in held.items() if count}


def _read_as(doc_id: str, file: str, read: Mapping[str, Document]) -> str | None:
    """The id this build read the stored article ``doc_id`` under, from the same file, when the
    readers now store its id cleaned (a file name or record id with a space or a control around it,
    kept as it was by earlier versions); ``None`` otherwise. The old row then goes: the article
    is the one read, and keeping both showed it twice, one of them never updated again."""
    from ..files.cleaning import stored_id

    now = stored_id(doc_id)
    if now == doc_id or not file:
        return None
    found = read.get(now)
    return now if found is not None and found.file == file else None


def _gone(file: str) -> bool:
    """True only when ``file`` is known not to exist: a folder that cannot be read (permissions, a
    stale network handle) says nothing about its files, which are then kept."""
    try:
        os.lstat(file)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False
    return False


class _Unreachable:
    """Whether a stored article's gone file lies where nothing could be read this time: under a
    remembered source that no longer exists (a nested source folder moved away, a file added on its
    own and gone, a link whose target is gone), behind a folder link inside a source whose target
    is gone (an unmounted drive gathered into a folder by a link), or in a folder inside a source
    that is there but empty (the mount point of an unmounted drive; :attr:`emptied` counts those).
    Its article is then kept: only a file missing from a folder that could be read, and that still
    holds something, is a reason to delete (``rm -r`` of a subfolder removes the folder too)."""

    def __init__(self, remembered: Sequence[str], sources: Sequence[str]) -> None:
        self._missing = [s for s in remembered if not os.path.exists(s)]
        self._sources = sources
        self._folders: dict[str, str] = {}
        self.emptied: dict[str, int] = {}
        """Empty folders inside the sources that held stored articles: ``{folder: articles kept}``."""

    def __call__(self, file: str) -> bool:
        if _under(file, self._missing):
            return True
        roots = [s.rstrip(os.sep) for s in self._sources if _under(file, [s])]
        folder = os.path.dirname(file)
        while folder and all(folder != root and _under(folder, [root]) for root in roots):
            state = self._state(folder)
            if state == "empty":
                self.emptied[folder] = self.emptied.get(folder, 0) + 1
            if state in ("broken", "empty"):
                return True
            if state == "there":  # the nearest folder that exists holds something: the file was removed
                return False
            folder = os.path.dirname(folder)
        return False

    def _state(self, folder: str) -> str:
        """``"broken"`` (a link whose target is gone), ``"empty"``, ``"there"`` or ``"absent"``; memoized:
        a drive's thousands of files share a few folders."""
        if folder not in self._folders:
            if os.path.islink(folder) and not os.path.exists(folder):
                self._folders[folder] = "broken"
            elif not os.path.isdir(folder):
                self._folders[folder] = "absent"
            else:
                try:
                    with os.scandir(folder) as entries:
                        self._folders[folder] = "there" if any(entries) else "empty"
                except OSError:
                    self._folders[folder] = "broken"  # cannot be listed: nothing known of its files
        return self._folders[folder]


def _new_copies(changes: Sequence[Document], live: LiveState, previous: dict[str, str], delete: list[str]) -> int:
    """How many new articles of ``changes`` are copies of an article before them (folded, not indexed)."""
    changed = {d.id for d in changes}
    gone = set(delete)
    seen = {key for doc_id, _, key, _ in live.entries if doc_id not in changed and doc_id not in gone}
    copies = 0
    for doc in changes:
        key = doc.body_key
        copies += doc.id not in previous and key in seen
        seen.add(key)
    return copies


def _under(file: str, sources: Sequence[str]) -> bool:
    """True when ``file`` is one of ``sources`` or lies in one of those folders."""
    return any(file == s or file.startswith(s.rstrip(os.sep) + os.sep) for s in sources)


@dataclass(slots=True)
class ChangePlan:
    """What an increment does to the live generation: its rows, its indexed articles, its tombstones and sources."""

    store_delete: set[str] = field(default_factory=set)
    """Rows removed from the store (deleted ids, and the old rows of changed ones)."""
    store_insert: list[Document] = field(default_factory=list)
    """New and changed documents."""
    canonical: dict[str, str | None] = field(default_factory=dict)
    """Unchanged rows whose canonical id changes (promotions, new aliases)."""
    inserted_aliases: dict[str, str] = field(default_factory=dict)
    """Inserted documents that are copies of another: ``{id: canonical id}``."""
    unindex: set[str] = field(default_factory=set)
    """Ids removed from the lexical and dense indexes."""
    index: list[str] = field(default_factory=list)
    """Ids (re)indexed, in order."""
    aliases: int = 0
    """Documents that are copies of an indexed one, after the change."""
    counts: Counts = field(default_factory=Counts)
    """Added, updated, deleted, unchanged and folded (see :func:`plan_changes`)."""
    lifted: set[str] = field(default_factory=set)
    """Tombstones lifted: deleted articles added again, or restored."""
    tombstone: list[str] = field(default_factory=list)
    """Ids the user deletes now (``archive delete``): remembered, so that a build skips them."""
    new_sources: list[str] = field(default_factory=list)
    """Sources that join the archive's remembered ones."""

    @property
    def changes_anything(self) -> bool:
        """False when the increment would write a generation equal to the live one."""
        return bool(self.store_delete or self.store_insert or self.new_sources or self.lifted)


def plan_changes(
    entries: Sequence[tuple[str, str, str, str | None]],
    add: Sequence[Document],
    delete: Iterable[str],
) -> ChangePlan:
    """How ``add`` and ``delete`` fall on the live store's ``entries`` (``DocumentStore.entries``): which
    rows go and come, which articles are (re)indexed or taken out, which copies are promoted.

    ``add`` holds unique ids; an added document with an existing id and the
    same content hash is unchanged (and counted so).
    """
    state: dict[str, tuple[str, str]] = {doc_id: (digest, key) for doc_id, digest, key, _ in entries}
    old_key = {doc_id: key for doc_id, _, key, _ in entries}
    was_indexed = {doc_id for doc_id, _, _, canonical in entries if canonical is None}
    old_canonical = {doc_id: canonical for doc_id, _, _, canonical in entries}
    plan = ChangePlan()
    for doc_id in delete:
        if state.pop(doc_id, None) is not None:
            plan.store_delete.add(doc_id)
    deleted, added, updated = len(plan.store_delete), 0, 0
    changed: set[str] = set()
    for doc in add:
        previous = state.pop(doc.id, None)
        if previous is not None and previous[0] == doc.content_hash:
            state[doc.id] = previous  # unchanged: keeps its place
            continue
        if previous is None:
            added += 1
        else:
            updated += 1
            plan.store_delete.add(doc.id)
        state[doc.id] = (doc.content_hash, doc.body_key)  # a changed article moves to the end of the order
        changed.add(doc.id)
        plan.store_insert.append(doc)

    groups: dict[str, list[str]] = {}
    for doc_id, (_, key) in state.items():
        groups.setdefault(key, []).append(doc_id)
    new_canonical: dict[str, str | None] = {}
    for key, members in groups.items():
        # the indexed copy stays indexed unless its body changed (a corrected title keeps it)
        stable = [m for m in members if m in was_indexed and (m not in changed or old_key[m] == key)]
        head = stable[0] if stable else members[0]
        for member in members:
            new_canonical[member] = None if member == head else head

    plan.unindex = {
        doc_id for doc_id in was_indexed
        if doc_id not in state or doc_id in changed or new_canonical[doc_id] is not None
    }
    plan.index = [
        doc_id for doc_id, canonical in new_canonical.items()
        if canonical is None and (doc_id not in was_indexed or doc_id in changed)
    ]
    plan.canonical = {
        doc_id: canonical for doc_id, canonical in new_canonical.items()
        if doc_id not in changed and old_canonical[doc_id] != canonical
    }
    plan.inserted_aliases = {i: c for i in changed if (c := new_canonical[i]) is not None}
    plan.aliases = sum(1 for c in new_canonical.values() if c is not None)
    folded = sum(1 for i in changed if i not in old_canonical and new_canonical[i] is not None)
    plan.counts = Counts(added=added - folded, updated=updated, deleted=deleted, unchanged=len(add) - len(changed),
                         folded=folded)
    return plan

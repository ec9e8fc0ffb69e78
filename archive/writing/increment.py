"""Incremental writes: a new generation made from the live one plus a change set.

A full write (:func:`archive.writing.building.write_generation`) re-reads and
re-indexes every article; this module makes ``add`` and small rebuilds cost
what they change. The new generation starts as the live one (Whoosh files
hard-linked, the SQLite store copied, passage vectors carried over) and
receives only the changed articles (the spelling-variant classes are
learned again from the new generation's live articles: a few seconds on
30,000 articles, and the same classes a full build would learn); it is committed like any other
generation, so a crash leaves the live one untouched and readers never see a
half-applied change. A deleted article (and the old version of a changed
one) keeps its ordinal, marked dead (:mod:`archive.index.terms`), so a delete
rewrites no posting list, column or vector; the new versions take the next
ordinals. Once dead ordinals would pass a fifth of them, the change renumbers
every side without them instead (``BuildReport.renumbered``).

Duplicates stay folded across increments: an article whose normalized body
equals an indexed one becomes its alias; when an indexed article is deleted
or changed, its first remaining alias is promoted and indexed in its place.
A group's indexed copy otherwise stays the same one, so ids in results do not
jump between copies from one day to the next.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..index import layout
from .building import BuildReport, LiveState, Progress, record, vectors_of
from ..document import Document
from ..encoders.base import Encoder
from ..index.integrity import verify_checksums
from ..index.manifest import utc_now
from ..index.store import DocumentStore
from ..index.stores import Change, apply_all, numbering, stores


@dataclass(slots=True)
class ChangePlan:
    """What an increment does to the store and to both indexes."""

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


def plan_changes(
    entries: Sequence[tuple[str, str, str, str | None]],
    add: Sequence[Document],
    delete: Iterable[str],
    report: BuildReport,
) -> ChangePlan:
    """Plan an increment from the live store's ``entries`` (``DocumentStore.entries``).

    ``add`` holds unique ids; an added document with an existing id and the
    same content hash is unchanged. Sets the added / updated / deleted /
    folded counts of ``report`` and adds the unchanged ones of ``add`` to its
    unchanged count (a build has counted those it read and does not pass):
    added counts the new articles indexed, folded the new ones stored as a
    copy of an indexed article.
    """
    state: dict[str, tuple[str, str]] = {doc_id: (digest, key) for doc_id, digest, key, _ in entries}
    old_key = {doc_id: key for doc_id, _, key, _ in entries}
    was_indexed = {doc_id for doc_id, _, _, canonical in entries if canonical is None}
    old_canonical = {doc_id: canonical for doc_id, _, _, canonical in entries}
    plan = ChangePlan()
    report.added = report.updated = report.deleted = 0
    for doc_id in delete:
        if state.pop(doc_id, None) is not None:
            plan.store_delete.add(doc_id)
            report.deleted += 1
    changed: set[str] = set()
    for doc in add:
        digest = doc.content_hash
        previous = state.pop(doc.id, None)
        if previous is not None and previous[0] == digest:
            state[doc.id] = previous  # unchanged: keeps its place
            report.unchanged += 1
            continue
        if previous is None:
            report.added += 1
        else:
            report.updated += 1
            plan.store_delete.add(doc.id)
        state[doc.id] = (digest, doc.body_key)  # a changed article moves to the end of the order
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
    report.folded = sum(1 for i in changed if i not in old_canonical and new_canonical[i] is not None)
    report.added -= report.folded
    return plan


def write_increment(
    root: Path,
    live_state: LiveState,
    add: Sequence[Document],
    delete: Iterable[str],
    *,
    encoder: Encoder | None,
    report: BuildReport,
    progress: Progress | None = None,
    sources: Sequence[str] = (),
    tombstone: bool = False,
    forget: Collection[str] = (),
) -> None:
    """Apply ``add`` (unique ids) and ``delete`` to the live generation of ``root`` as a new one.

    The caller holds the writer lock, read ``live_state`` under it and has
    checked that the live index was built with ``encoder`` and this code's
    settings. ``sources`` join the manifest's list of sources. ``tombstone``
    remembers the ``delete`` ids as deleted by the user, with the time
    (``archive delete``: a build then skips them); an added article that was
    deleted so is restored (its tombstone lifted, counted in
    ``report.restored``), and so are the ids in ``forget``. Writes nothing when
    the change set changes nothing (new sources included).
    """
    live, manifest, tombstones = live_state.generation, live_state.manifest, live_state.tombstones
    # Every file of the live generation is carried into the new one (hard-linked segments,
    # the copied store, kept postings and vectors): damage must stop here, not live on.
    verify_checksums(live, manifest.files)
    live_files = dict(manifest.files)
    plan = plan_changes(live_state.entries, add, delete, report)
    lifted = {d.id for d in add if d.id in tombstones} | {i for i in forget if i in tombstones}
    report.restored = len(lifted)
    deleted_now = dict.fromkeys(sorted(set(delete)), utc_now()) if tombstone else {}
    new_sources = [s for s in sources if s not in manifest.sources]
    if not (plan.store_delete or plan.store_insert or new_sources or lifted):
        return
    inserted = {d.id: d for d in plan.store_insert}
    source = DocumentStore.open(live / "docs.sqlite")
    try:
        promoted = source.get_many(i for i in plan.index if i not in inserted)  # aliases taking over
    finally:
        source.close()
    to_index_docs = [inserted[i] if i in inserted else promoted[i] for i in plan.index]
    unindex = sorted(plan.unindex)
    keep, dead, gone, compact = numbering(live, unindex, len(to_index_docs))
    change = Change(live, to_index_docs, unindex, keep, dead, gone, compact, plan.store_delete, plan.store_insert,
                    plan.inserted_aliases, plan.canonical, lifted, deleted_now)
    manifest.aliases = plan.aliases
    manifest.sources = [*manifest.sources, *new_sources]
    manifest.updated_at = utc_now()
    with layout.transaction(root, manifest, base=live, base_files=live_files) as tx:
        record(apply_all(tx.path, change, stores(vectors=vectors_of(root, encoder, manifest, progress))),
               manifest, report, encoder)
        report.renumbered = gone if compact else 0
        if progress is not None:
            progress("index", len(to_index_docs), len(to_index_docs))
    report.warnings.extend(tx.notes)
    report.written = True

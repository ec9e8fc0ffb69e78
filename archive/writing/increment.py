"""Incremental writes: a new generation made from the live one plus a change set.

A full write (:func:`archive.writing.building.write_generation`) re-reads and
re-indexes every article; this module makes ``add`` and small rebuilds cost
what they change. The new generation starts as the live one (Whoosh files
hard-linked, the SQLite store copied, passage vectors carried over) and
receives only the changed articles (the spelling variants are learned again
from its live articles, as a full build would); it is committed like any other
generation, so a crash leaves the live one untouched. A deleted article (and the old version of a changed
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

from contextlib import closing
from pathlib import Path

from ..index import layout
from .building import Progress, Wrote, record, vectors_of
from ..encoders.base import Encoder
from ..index.integrity import verify_checksums
from ..index.manifest import utc_now
from ..index.store import DocumentStore
from ..index.stores import Change, apply_all, numbering, stores
from .planning import ChangePlan, LiveState


def write_increment(
    root: Path,
    live_state: LiveState,
    plan: ChangePlan,
    *,
    encoder: Encoder | None,
    progress: Progress | None = None,
) -> Wrote | None:
    """Apply ``plan`` (:func:`archive.writing.planning.plan_changes`) to the live generation of ``root`` as
    a new one; what it wrote, or ``None`` when the plan changes nothing (new sources included).

    The caller holds the writer lock, read ``live_state`` under it and has
    checked that the live index was built with ``encoder`` and this code's
    settings. The plan's ``tombstone`` ids are remembered as deleted by the
    user, with the time; its ``lifted`` ones are forgotten.
    """
    live, manifest = live_state.generation, live_state.manifest
    # Every file of the live generation is carried into the new one (hard-linked segments,
    # the copied store, kept postings and vectors): damage must stop here, not live on.
    verify_checksums(live, manifest.files)
    live_files = dict(manifest.files)
    if not plan.changes_anything:
        return None
    deleted_now = dict.fromkeys(plan.tombstone, utc_now())
    inserted = {d.id: d for d in plan.store_insert}
    with closing(DocumentStore.open(live / "docs.sqlite")) as source:
        promoted = source.get_many(i for i in plan.index if i not in inserted)  # aliases taking over
    to_index_docs = [inserted[i] if i in inserted else promoted[i] for i in plan.index]
    unindex = sorted(plan.unindex)
    keep, dead, gone, compact = numbering(live, unindex, len(to_index_docs))
    change = Change(live, to_index_docs, unindex, keep, dead, gone, compact, plan.store_delete, plan.store_insert,
                    plan.inserted_aliases, plan.canonical, plan.lifted, deleted_now)
    manifest.aliases = plan.aliases
    manifest.sources = [*manifest.sources, *plan.new_sources]
    manifest.updated_at = utc_now()
    with layout.transaction(root, manifest, base=live, base_files=live_files) as tx:
        results = apply_all(tx.path, change, stores(vectors=vectors_of(root, encoder, manifest, progress)))
        record(results, manifest, encoder)
        if progress is not None:
            progress("index", len(to_index_docs), len(to_index_docs))
    return Wrote(tx.path, manifest, results, tx.notes, renumbered=gone if compact else 0)

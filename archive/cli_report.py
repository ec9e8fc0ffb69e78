"""The command line's sentences about a write: its counts, what a build would embed, what it skipped.

Text only (the CLI prints it): kept apart from :mod:`archive.cli` so that the
commands stay a thin layer over the library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the command line imports nothing heavy before a command needs it
    from .index.manifest import Manifest
    from .writing.building import BuildReport
    from .writing.choices import EmbeddingEstimate


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def counts_line(report: BuildReport, unreadable: int = 0) -> str:
    """What a write read, every article counted once (read = added + updated + unchanged + skipped);
    ``unreadable``: records or files the readers could not take (listed after the summary)."""
    parts = [(report.folded, "folded into an identical article"), (report.duplicate_ids, "duplicate id"),
             (report.tombstoned, "deleted earlier"), (unreadable, "unreadable, listed below")]
    named = [f"{count} {what}" for count, what in parts if count]
    skipped = report.skipped_count + unreadable
    text = (f"read {plural(report.read + unreadable, 'article')}: {report.added} added, {report.updated} updated, "
            f"{report.unchanged} unchanged, {skipped} skipped" + (f" ({', '.join(named)})" if named else ""))
    text += f"; {report.deleted} deleted"
    return text + (f", {report.kept} kept that these sources do not hold" if report.kept else "")


def estimate_line(estimate: EmbeddingEstimate | None) -> str:
    """What a build would embed, with which encoder, and for how long (and at which rate, from where)."""
    if estimate is None:
        return "would embed nothing: the archive is lexical only (no encoder)"
    cached = f" ({estimate.cached:,} more from the embedding cache)" if estimate.cached else ""
    text = f"would embed {plural(estimate.passages, 'passage')} with {estimate.encoder}{cached}"
    if not estimate.passages:
        return text
    if estimate.seconds is None or estimate.rate is None:
        return text + f": no rate known for {estimate.encoder} yet, so no time estimate"
    source = {"measured": "the rate this archive's last embedding measured",
              "measured here": f"the rate the last embedding with {estimate.encoder} on this machine measured"}.get(
        estimate.rate_from, f"the default rate for {estimate.encoder}; nothing has measured one on this machine yet")
    return text + f": about {duration(estimate.seconds)} at {estimate.rate:,.1f} passages/s ({source})"


def duration(seconds: float) -> str:
    """``42 s``, ``1 min 20 s``, ``37 min``, ``2.5 h``."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 600:
        return f"{int(seconds // 60)} min {seconds % 60:.0f} s"
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.1f} h"


def tombstoned_line(report: BuildReport) -> str:
    """The read articles a build left out because the user deleted them, and the way back."""
    shown = " ".join(report.tombstoned_ids[:3]) + (" ..." if report.tombstoned > 3 else "")
    return (f"skipped {plural(report.tombstoned, 'article')} deleted earlier with archive delete "
            f"(not brought back); archive restore {shown} brings them back")


def coverage_line(manifest: Manifest) -> str:
    """How much of the archive is searchable by meaning, in one line."""
    planned, leads = manifest.planned_passages, manifest.embedded_leads
    if manifest.pending == 0:
        return f"meaning: all {planned:,} passages embedded ({manifest.leads:,} article leads)"
    lead_part = f"all {manifest.leads:,} leads" if leads == manifest.leads else f"{leads:,} of {manifest.leads:,} leads"
    return (f"meaning: {lead_part} and {manifest.passages:,} of {planned:,} passages embedded; "
            "archive embed adds the rest")

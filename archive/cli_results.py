"""How the command line prints a list of results (``archive search``, ``archive related``).

Two styles, the same for every list: ``--json`` (one object per hit, then a
summary object, for programs) and a table for people (:func:`archive.terminal.hits_table`),
whose numbers ``archive show N`` takes in place of an id
(:mod:`archive.last_results` remembers them). Kept apart from
:mod:`archive.cli` so that the commands stay a thin layer over the library.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from .cli_report import plural
from .search.records import hit_record

if TYPE_CHECKING:
    from .search.results import Hits

SHOW_HINT = "archive show N opens result N"


def print_json(hits: Hits, summary: Mapping[str, object], *, first_rank: int = 1,
               bodies: Mapping[str, str] | None = None) -> None:
    """The hits as JSON Lines, then ``{"summary": summary}``."""
    for rank, hit in enumerate(hits, first_rank):
        body = bodies.get(hit.id) if bodies else None
        typer.echo(json.dumps(hit_record(hit, rank, body), ensure_ascii=False))
    typer.echo(json.dumps({"summary": dict(summary)}, ensure_ascii=False))


def print_table(hits: Hits, index: Path, *, what: str, title: str, caption: str, bidi: str,
                first_rank: int = 1) -> None:
    """The hits as a table as wide as the terminal, numbered from ``first_rank``; the numbers are
    remembered for ``archive show N`` (``what`` names the listing in a later error)."""
    from rich.console import Console

    from .last_results import remember
    from .terminal import hits_table, wants_reordering

    console = Console(soft_wrap=False, highlight=False)
    reorder = wants_reordering(bidi, is_terminal=console.is_terminal, env=os.environ)
    remembered = remember(index, what, [hit.id for hit in hits], first_rank)
    caption = f"{caption}; {SHOW_HINT}" if remembered else caption
    console.print(hits_table(hits, console, first_rank=first_rank, reorder=reorder, title=title, caption=caption))
    for rank, hit in enumerate(hits, first_rank):  # folded copies of a story: one line under the table each
        if hit.versions:
            outlets = ", ".join(dict.fromkeys(v.source or "?" for v in hit.versions))
            typer.echo(f"{rank}. {hit.id}: {plural(len(hit.versions), 'other version')} ({outlets}): "
                       + ", ".join(v.id for v in hit.versions))

"""``archive story``: a story's timeline on the command line, thin over :meth:`archive.Archive.story`.

One line per event, oldest first: its dates, its best title and its outlets;
``--articles`` lists each event's articles under it, ``--json`` prints the
story as one JSON object (the web's ``/api/story``). Kept in its own module
so that :mod:`archive.cli` only registers it; it imports the library only when it runs
(the bounds in its help, 100 and 500, are the library's: a test holds them equal).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from .cli_common import date_bound_option
from .errors import ArchiveError

if TYPE_CHECKING:
    from datetime import datetime

    from .search.story import Event, Story


def story(
    doc_id: Annotated[Optional[str], typer.Argument(
        metavar="[ID]", help="An article's id, or its number in the last results (or give --query).")] = None,
    query: Annotated[Optional[str], typer.Option("--query", "-q", metavar="QUERY",
                                                 help="The story of what this search finds instead of an article's.")] = None,
    limit: Annotated[Optional[int], typer.Option(
        "-k", "--limit", metavar="N",
        help="How many articles are considered besides the article itself (default 100, at most 500).")] = None,
    source: Annotated[Optional[list[str]], typer.Option(
        "--source", metavar="NAME", help="Only articles of this source (repeat for any of several).")] = None,
    category: Annotated[Optional[list[str]], typer.Option(
        "--category", metavar="NAME", help="Only articles of this category (repeat for any of several).")] = None,
    since: Annotated[Optional[str], typer.Option(
        metavar="DATE", callback=date_bound_option, help="Published on or after: YYYY-MM-DD, YYYY-MM or YYYY.")] = None,
    until: Annotated[Optional[str], typer.Option(
        metavar="DATE", callback=date_bound_option, help="Published on or before: YYYY-MM-DD, YYYY-MM or YYYY.")] = None,
    articles: Annotated[bool, typer.Option("--articles", help="List each event's articles under it.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The story as one JSON object.")] = False,
    bidi: Annotated[str, typer.Option(
        metavar="auto|on|off", help="Put Arabic lines in display order: auto (only in terminals that do not), on, off.")
    ] = "auto",
    index: Annotated[Path, typer.Option("--index", "-i", envvar="ARCHIVE_INDEX", metavar="DIR",
                                        help="Index directory (default: $ARCHIVE_INDEX, else index).")] = Path("index"),
) -> None:
    """Print a story's timeline: the articles about one article (or a --query), grouped into events by
    meaning and date, oldest first."""
    from .archive import Archive
    from .last_results import resolve
    from .search.story import DEFAULT_LIMIT
    from .terminal import printable

    if bidi not in ("auto", "on", "off"):
        raise typer.BadParameter(f"{bidi!r}: choose auto, on or off", param_hint="--bidi")
    if (doc_id is None) == (query is None):
        raise typer.BadParameter("give an article ID or --query QUERY (one of them)", param_hint="ID")
    try:
        with Archive.open(index) as archive:
            if doc_id is not None:
                doc_id = resolve(doc_id, index, archive.__contains__)
            told = archive.story(doc_id, query=query, limit=DEFAULT_LIMIT if limit is None else limit, source=source, category=category,
                                 since=since, until=until)
    except ArchiveError as exc:
        typer.echo(printable(f"error: {exc}"), err=True)
        raise typer.Exit(code=1) from None
    if as_json:
        typer.echo(json.dumps(told.as_dict(), ensure_ascii=False))
        return
    if told.notice:
        typer.echo(printable(f"note: {told.notice}"), err=True)
    for line in story_lines(told, articles=articles):
        typer.echo(_shown(printable(line), bidi))


def story_lines(told: Story, *, articles: bool = False) -> list[str]:
    """The timeline as lines of text: a heading, then one line per event (and its articles when asked)."""
    subject = f"story of {told.seed}" if told.seed is not None else f"story of {told.query!r}"
    if not told.events and not told.undated:
        return [f"{subject}: nothing found: {told.reason or 'no article'}"]
    found = {"semantic": "nearest by meaning", "lexical": "by words", "hybrid": "by words and meaning"}[told.mode]
    events = len(told.events)
    lines = [f"{subject}: {told.considered} article{'s' if told.considered != 1 else ''} ({found}; at most "
             f"{told.limit} considered), {events} event{'s' if events != 1 else ''} grouped by {told.grouping} "
             "and date, oldest first"]
    width = len(str(events))
    for number, event in enumerate(told.events, 1):
        outlets = ", ".join(event.sources) or "unknown outlet"
        count = len(event.articles)
        lines.append(f"{number:>{width}}. {_span(event):<23} {event.title} — {outlets} "
                     f"({count} article{'s' if count != 1 else ''})")
        if articles:
            lines += [f"{'':>{width}}   {_day(a.published)}  {a.id}  {a.source or '-'}  {a.title}" for a in event.articles]
    if told.undated:
        lines.append(f"undated: {', '.join(a.id for a in told.undated)}")
    return lines


def _span(event: Event) -> str:
    first, last = _day(event.start), _day(event.end)
    return first if first == last else f"{first} → {last}"


def _day(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment else "-"


def _shown(line: str, bidi: str) -> str:
    """``line`` in display order when the terminal asks for it (``--bidi``, :func:`archive.terminal.wants_reordering`)."""
    import sys

    from .terminal import display_order, wants_reordering

    if wants_reordering(bidi, is_terminal=sys.stdout.isatty(), env=os.environ):
        return display_order(line)
    return line

"""What the command line shows in a terminal: the results table, Arabic text direction, progress.

Arabic in terminals. Text is stored and printed in logical order (the order it
is read); showing it right to left is the terminal's job, and terminals differ
(docs/cli.md, `archive search`, "Arabic in the terminal"):

- VTE (GNOME Terminal, Tilix, xfce4-terminal...) applies the Unicode bidi
  algorithm by default since VTE 0.57.3 / GNOME Terminal 3.33.3 (2019);
  Konsole, mlterm, PuTTY and macOS Terminal.app apply it to each line too.
- Windows Terminal shows logical order on purpose (its renderer keeps
  ``vim -A`` working; RTL support is its open issue #538); iTerm2, kitty and
  Alacritty are listed as not supporting bidi by the freedesktop terminal-wg
  survey of terminal bidi support.

Reordering text for a terminal that also reorders would scramble it again, so
``--bidi auto`` reorders only for the terminals known to show logical order,
never when the output is piped (programs read logical order); ``on`` and
``off`` force it. Reordering uses python-bidi (the Unicode algorithm, UAX #9,
in Rust), imported only when it is used. Arabic cells are right-aligned
either way. The command line imports this module only when it prints results or
progress.
"""

from __future__ import annotations

import dataclasses

import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from .archive import Hit

MARK_STYLE = "bold black on yellow"
"""Matched words in a colour terminal; with NO_COLOR or piped output they are wrapped in « »."""
OPEN_MARK, CLOSE_MARK = "«", "»"

LOGICAL_ORDER_TERMINALS: tuple[tuple[str, str | None], ...] = (
    ("WT_SESSION", None),  # Windows Terminal (also inside WSL)
    ("TERM_PROGRAM", "iTerm.app"),
    ("KITTY_WINDOW_ID", None),
    ("ALACRITTY_WINDOW_ID", None),
    ("TERM", "xterm-kitty"),
    ("TERM", "alacritty"),
)
"""Environment variables (name, value or None for "set") of terminals that show text in
logical order, for which ``--bidi auto`` reorders Arabic lines itself."""


def wants_reordering(choice: str, *, is_terminal: bool, env: Mapping[str, str]) -> bool:
    """Whether to put Arabic lines in display order ourselves (``--bidi auto|on|off``)."""
    if choice == "on":
        return True
    if choice == "off" or not is_terminal:
        return False
    return any(name in env and (value is None or env[name] == value) for name, value in LOGICAL_ORDER_TERMINALS)


def is_rtl(text: str) -> bool:
    """True when the first letter with a direction is right-to-left (Arabic, Hebrew...)."""
    for char in text:
        direction = unicodedata.bidirectional(char)
        if direction in ("R", "AL"):
            return True
        if direction == "L":
            return False
    return False


def display_order(line: str) -> str:
    """``line`` (one screen line, logical order) in the order a left-to-right terminal must draw it."""
    from bidi import get_display

    return get_display(line, base_dir="R" if is_rtl(line) else "L")


def _date(value: datetime | None) -> str:
    return value.date().isoformat() if value else "-"  # isoformat pads the year (strftime printed 1-01-01)


_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode control pictures: ␛ for ESC, ␍ for CR...
    return "\u2421" if code == 0x7F else "\ufffd"


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: every control character (escape sequences, carriage
    returns, C1 controls, bidi overrides) shown as a visible stand-in of the same length, so an
    id or a title can never move the cursor, recolour or retitle the terminal, and the match
    offsets of a snippet still hold. Newlines and tabs stay."""
    return _UNPRINTABLE.sub(_picture, text)


def _snippet_text(hit: Hit, *, colour: bool, reorder: bool) -> Text:
    if colour and not reorder:
        text = Text(hit.snippet)
        for start, end in hit.marks:
            text.stylize(MARK_STYLE, start, end)
        return text
    return Text(hit.marked_snippet(OPEN_MARK, CLOSE_MARK))


def _visual(text: Text, console: Console, width: int, *, colour: bool) -> Text:
    """``text`` wrapped to ``width`` in logical order, each line then put in display order."""
    out = Text(style=text.style, justify="right" if is_rtl(text.plain) else "left", no_wrap=True)
    for n, line in enumerate(text.wrap(console, width)):
        shown = Text(display_order(line.plain.rstrip()), style=text.style)
        if colour:  # the marks came through reordered (and mirrored): colour what they enclose
            shown.highlight_regex(re.compile(f"[{OPEN_MARK}{CLOSE_MARK}][^{OPEN_MARK}{CLOSE_MARK}]*[{OPEN_MARK}{CLOSE_MARK}]"),
                                  MARK_STYLE)
        out.append("\n" if n else "")
        out.append_text(shown)
    return out


MIN_TEXT_WIDTH = 20
"""Narrowest the title / snippet column gets beside a long id before the id moves into it."""
DETAILS_WIDTH = (10, 28)
"""The id column's width when the ids are short: at least a date's, at most this for a long source name."""


def hits_table(
    hits: Sequence[Hit], console: Console, *, first_rank: int = 1, reorder: bool = False, title: str | None = None,
    caption: str | None = None,
) -> Table:
    """The results as a table as wide as the console: rank, id (with date, source and
    score under it, so ``archive show ID`` can follow), and title over snippet, Arabic
    right-aligned. Matched words are coloured, or marked « » where colour is off.
    ``title`` and ``caption`` are printed above and below it (what was found, which page).

    An id is never broken across lines (it is copied to ``archive show``): its column is
    as wide as the longest id, and the title / snippet column is narrowed for it; a
    source name too long for the column is cut short (…). When an id is too long to
    leave the text :data:`MIN_TEXT_WIDTH` columns, the ids go on the first line of the
    text column instead (only an id wider than that whole column is folded).
    """
    colour = console.is_terminal and not console.no_color and console.color_system is not None
    ranks = [str(first_rank + n) for n in range(len(hits))]
    rank_width = max(len(r) for r in ranks)
    id_width = max(cell_len(printable(h.id)) for h in hits)
    low, high = DETAILS_WIDTH
    left_width = max(id_width, low, min(high, max(cell_len(printable(h.source or "-")) for h in hits)))
    room = console.width - rank_width - 10  # 4 rules + 2 spaces per column
    left_width = min(left_width, max(id_width, low, room - MIN_TEXT_WIDTH))
    beside = left_width + MIN_TEXT_WIDTH <= room
    text_width = max(MIN_TEXT_WIDTH, room - left_width) if beside else max(MIN_TEXT_WIDTH, room + 3)
    table = Table(box=box.SQUARE, show_lines=True, expand=False, title=title, caption=caption,
                  title_justify="left", caption_justify="left")
    table.add_column("#", justify="right", width=rank_width, no_wrap=True)
    if beside:
        table.add_column("id", width=left_width, overflow="fold")
    table.add_column("title / snippet" if beside else "id / title / snippet", width=text_width)
    dim = "dim" if colour else ""
    for rank, hit in zip(ranks, hits):
        hit = dataclasses.replace(hit, id=printable(hit.id), title=printable(hit.title), source=printable(hit.source),
                                  snippet=printable(hit.snippet))
        title = Text(hit.title or hit.id, style="bold")
        snippet = _snippet_text(hit, colour=colour, reorder=reorder)
        parts: list[RenderableType] = []
        for text in (title, snippet):
            if reorder:
                parts.append(_visual(text, console, text_width, colour=colour))
            else:
                text.justify = "right" if is_rtl(text.plain) else "left"
                parts.append(text)
        if beside:
            details = Group(Text(hit.id), Text(f"{_date(hit.published)}", style=dim),
                            Text(hit.source or "-", style=dim, no_wrap=True, overflow="ellipsis"),
                            Text(f"{hit.score:.3f}", style=dim))
            table.add_row(rank, details, Group(*parts))
        else:
            line = Text(f"{_date(hit.published)} · {hit.source or '-'} · {hit.score:.3f}", style=dim, no_wrap=True,
                        overflow="ellipsis")
            table.add_row(rank, Group(Text(hit.id), line, *parts))
    return table


def article_lines(text: str, console: Console, *, reorder: bool) -> Text:
    """A paragraph of an article for the terminal: right-aligned when Arabic, reordered when asked."""
    text = printable(text)
    if reorder:
        return _visual(Text(text), console, console.width, colour=False)
    return Text(text, justify="right" if is_rtl(text) else "left")


class RateColumn(ProgressColumn):
    """Items per second, from rich's own speed estimate (a sliding window of the updates)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f}/s", style="progress.data.speed")


_STAGES = {"index": "indexing articles", "leads": "embedding leads", "embed": "embedding passages"}


@contextmanager
def progress_bar(console: Console | None = None) -> Iterator[Callable[[str, int, int | None], None]]:
    """A progress callback for :class:`~archive.Archive` builds and updates: one bar per stage
    (indexing, embedding) with count, percentage, rate and time left, on standard error;
    nothing when that is not a terminal."""
    columns = (
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
        RateColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
    )
    console = console if console is not None else Console(stderr=True)  # stdout stays for the summary
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                label = _STAGES.get(stage, stage)
                tasks[stage] = bar.add_task(label, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield progress

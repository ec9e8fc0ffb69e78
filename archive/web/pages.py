"""What the HTML pages show, made from the library's answers: no search logic here.

Marked text is escaped first and marked after (each piece between marks goes
through :func:`markupsafe.escape`, then ``<mark>`` is put around the marked
pieces), so article text can never become markup. Links to an original
article are kept only for ``http``/``https`` URLs. Page URLs carry the whole
state of a search as query parameters (a GET form), so any page can be
bookmarked and shared, and the back button works.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from markupsafe import Markup, escape

Params = Mapping[str, str | Sequence[str]]


def marked_html(text: str, marks: Sequence[tuple[int, int]] | Sequence[Sequence[int]]) -> Markup:
    """``text`` as HTML with each ``(start, end)`` span in ``<mark>``: every piece escaped, then marked."""
    out: list[str] = []
    last = 0
    for start, end in marks:
        if start < last or end <= start:  # overlapping or empty spans are skipped, never trusted
            continue
        out.append(escape(text[last:start]))
        out.append(Markup("<mark>") + escape(text[start:end]) + Markup("</mark>"))
        last = end
    out.append(escape(text[last:]))
    return Markup("").join(out)


def paragraphs_html(text: str, marks: Sequence[tuple[int, int]]) -> list[Markup]:
    """``text`` marked (as :func:`marked_html`) and cut into paragraphs at its line breaks."""
    out: list[Markup] = []
    start = 0
    for line in text.split("\n"):
        end = start + len(line)
        inside = [(s - start, e - start) for s, e in marks if s >= start and e <= end]
        if line.strip():
            out.append(marked_html(line, inside))
        start = end + 1
    return out


def safe_url(url: str) -> str | None:
    """``url`` if it is an absolute http or https URL (never ``javascript:``, ``data:`` or a path), else None."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


def query_string(params: Params, **changes: str | Sequence[str] | None) -> str:
    """``?…`` of ``params`` with ``changes`` applied (``None`` or ``""`` removes a parameter)."""
    merged: dict[str, str | Sequence[str]] = {**params}
    for name, value in changes.items():
        if value is None or value == "" or value == []:
            merged.pop(name, None)
        else:
            merged[name] = value
    pairs = [(name, v) for name, value in merged.items()
             for v in ([value] if isinstance(value, str) else value) if v != ""]
    return "?" + urlencode(pairs) if pairs else "?"


def back_link(search: str) -> str:
    """The query string of the search page an article was opened from (``?q=…&source=…``), or ""
    when ``search`` is not one: it only ever becomes a link to this server's search page."""
    if not search.startswith("?") or any(c in search for c in "\\ \t\r\n#"):
        return ""
    return search


def month_bounds(month: str) -> tuple[str, str]:
    """The first and last day of ``YYYY-MM`` as ``YYYY-MM-DD``."""
    year, number = (int(part) for part in month.split("-"))
    return f"{month}-01", f"{month}-{calendar.monthrange(year, number)[1]:02d}"


def month_series(months: Mapping[str, int]) -> list[tuple[str, int]]:
    """The months from the first to the last of ``months`` (``YYYY-MM``), the missing ones at 0."""
    if not months:
        return []
    first, last = min(months), max(months)
    year, month = (int(part) for part in first.split("-"))
    out: list[tuple[str, int]] = []
    while True:
        key = f"{year:04d}-{month:02d}"
        out.append((key, months.get(key, 0)))
        if key >= last:
            return out
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of the month histogram (SVG user units; ``href`` narrows the search to its month)."""

    month: str
    count: int
    x: float
    y: float
    width: float
    height: float
    href: str


@dataclass(frozen=True, slots=True)
class Histogram:
    """An inline SVG histogram's geometry: earliest month on the right (the page reads right to left)."""

    bars: list[Bar] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0
    first: str = ""
    last: str = ""
    peak: int = 0


HIST_HEIGHT = 80.0
HIST_BAR = 12.0
HIST_GAP = 2.0
HIST_WIDTH = 720.0


def histogram(months: Mapping[str, int], params: Params) -> Histogram:
    """Bars of the matching articles by month; each links to the same search within that month."""
    series = month_series(months)
    if not series:
        return Histogram()
    step = max(HIST_WIDTH / len(series), 1.0)
    bar = max(min(HIST_BAR, step - HIST_GAP), 1.0)
    peak = max(count for _, count in series)
    width = step * len(series)
    bars = []
    for i, (month, count) in enumerate(series):
        height = 0.0 if not count else max(HIST_HEIGHT * count / peak, 2.0)
        since, until = month_bounds(month)
        x = width - (i + 1) * step + (step - bar) / 2  # right to left
        bars.append(Bar(month, count, round(x, 2), round(HIST_HEIGHT - height, 2), round(bar, 2), round(height, 2),
                        query_string(params, since=since, until=until, page=None)))
    return Histogram(bars, round(width, 2), HIST_HEIGHT, series[0][0], series[-1][0], peak)


@dataclass(frozen=True, slots=True)
class PageLink:
    number: int
    href: str
    current: bool


def pager(
    total: int | None, shown: int, page: int, k: int, params: Params, *, last_page: int
) -> list[PageLink]:
    """Links to the pages around ``page``, up to ``last_page`` (the library answers up to its depth).

    ``total`` is the number of matches (``None`` for a search by meaning, which has no edge: then
    a next page is offered while this one is full, ``shown == k``).
    """
    if total is None:
        pages = page + 1 if shown == k else page
    else:
        pages = max((total + k - 1) // k, 1)
    pages = min(pages, last_page)
    numbers = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    return [PageLink(n, query_string(params, page=str(n) if n > 1 else None), n == page) for n in numbers]

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


def split_marks(texts: Sequence[str], marks: Sequence[tuple[int, int]], sep: int = 1) -> list[list[tuple[int, int]]]:
    """The ``marks`` of ``texts`` joined by a ``sep``-character separator, given back to each text
    (offsets in it); a mark across a separator is dropped."""
    out: list[list[tuple[int, int]]] = [[] for _ in texts]
    starts, position = [], 0
    for text in texts:
        starts.append(position)
        position += len(text) + sep
    i = 0
    for start, end in sorted(marks):
        while i + 1 < len(texts) and start >= starts[i + 1]:
            i += 1
        if end <= starts[i] + len(texts[i]):
            out[i].append((start - starts[i], end - starts[i]))
    return out


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


MAX_SERIES_MONTHS = 1200
"""Longest span (a century) that :func:`month_series` fills with the months that have no hit."""


def month_series(months: Mapping[str, int]) -> list[tuple[str, int]]:
    """The months from the first to the last of ``months`` (``YYYY-MM``), the missing ones at 0.

    Over a span longer than :data:`MAX_SERIES_MONTHS` only the months with hits, in order: two
    articles dated in the years 1 and 9999 must not make a response of 120,000 empty months."""
    if not months:
        return []
    first, last = min(months), max(months)
    year, month = (int(part) for part in first.split("-"))
    end_year, end_month = (int(part) for part in last.split("-"))
    if (end_year - year) * 12 + end_month - month >= MAX_SERIES_MONTHS:
        return sorted(months.items())
    out: list[tuple[str, int]] = []
    while True:
        key = f"{year:04d}-{month:02d}"
        out.append((key, months.get(key, 0)))
        if key >= last:
            return out
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


@dataclass(frozen=True, slots=True)
class PageLink:
    """One page in the pager: its number, its URL, and whether it is the page shown."""

    number: int
    href: str
    current: bool


@dataclass(frozen=True, slots=True)
class Pager:
    """The pager under the results: previous / next (``""`` at either end) and the numbered pages,
    ``None`` standing for an ellipsis (``1 … 4 5 6 … 19``)."""

    previous: str = ""
    next: str = ""
    pages: list[PageLink | None] = field(default_factory=list)

    def __bool__(self) -> bool:
        return len([p for p in self.pages if p is not None]) > 1


def page_numbers(page: int, pages: int, around: int = 1) -> list[int | None]:
    """The numbers a pager shows on ``page`` of ``pages``: the first, the last, and ``around`` on each
    side of ``page``; ``None`` where pages are left out (an ellipsis), but never for a single page,
    which is shown instead (``1 2 3 4 …``, not ``1 … 3 4 …``)."""
    pages = max(pages, page, 1)
    shown = sorted({1, pages, *range(max(1, page - around), min(pages, page + around) + 1)})
    out: list[int | None] = []
    previous = 0
    for number in shown:
        if number - previous == 2:
            out.append(number - 1)
        elif number - previous > 2:
            out.append(None)
        out.append(number)
        previous = number
    return out


def page_count(total: int | None, shown: int, page: int, k: int, *, last_page: int) -> int:
    """How many pages of ``k`` the search has, up to ``last_page`` (the library answers up to its depth).

    ``total`` is the number of matches (``None`` when the search does not know it: then a next page is
    offered while this one is full, ``shown == k``).
    """
    if total is None:
        pages = page + 1 if shown == k else page
    else:
        pages = max((total + k - 1) // k, 1)
    return max(min(pages, last_page), 1)


def pager(total: int | None, shown: int, page: int, k: int, params: Params, *, last_page: int) -> Pager:
    """The pager of ``page`` (see :func:`page_count` and :func:`page_numbers`); each link keeps the search."""
    pages = page_count(total, shown, page, k, last_page=last_page)

    def href(number: int) -> str:
        return query_string(params, page=str(number) if number > 1 else None)

    links = [None if n is None else PageLink(n, href(n), n == page) for n in page_numbers(page, pages)]
    return Pager(href(page - 1) if page > 1 else "", href(page + 1) if page < pages else "", links)

"""The search page's histogram of dates: which bars to draw, how tall, and which of them to label.

Three decisions, each a small pure function over the month counts the library
gives (:attr:`archive.index.columns.Facets.months`, ``YYYY-MM`` to a count):

* **Outliers are clamped** (:func:`core_range`): at most :data:`OUTLIER_SHARE`
  of the articles at each end may fall outside the bars, into one "before"
  and one "after" bar. The range kept runs from the month of the first
  article past that share to the month of the last one before it, widened by
  :data:`OUTLIER_MARGIN` of its own span, so that a month next to the bulk
  of the articles stays a bar; only dates beyond that go to the edge bars.
  One article of 2013 and one of 2024 among a thousand of 2018 give twelve
  month bars of 2018 and two edge bars, not 132 month bars.
* **The unit follows the range** (:func:`unit_for`): months up to
  :data:`MAX_MONTH_BARS` months, else years, grouped by 2, 5, 10… years when
  there would be more than :data:`MAX_YEAR_BARS` of them.
* **Labels never overlap** (:func:`labelled`): for each width class of the
  figure (:data:`WIDTH_CLASSES`, chosen by a CSS container query), labels
  are placed greedily (the two ends first, then years before months) at
  their position in the narrowest figure of that class, each kept only if it
  does not come within :data:`LABEL_GAP` pixels of one already placed. A
  wider figure moves the labels apart and never widens them, so what holds at
  the class's narrowest width holds across it. The label widths are
  estimated generously (:data:`CHAR_PX` per character of a 12-pixel label),
  and each label is isolated left-to-right text that never wraps
  (``<bdi dir="ltr">``, ``white-space: nowrap`` in site.css).

The bars run as the page reads: earliest on the right of an Arabic page, on the left of an English one.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .pages import Params, query_string

OUTLIER_SHARE = 0.02
"""At most this share of the articles at each end goes to an edge bar (the 2nd and 98th percentiles)."""
OUTLIER_MARGIN = 0.25
"""Months within this share of the kept span around it stay bars (a quiet month next to a busy one is no outlier)."""
MAX_MONTH_BARS = 36
MAX_YEAR_BARS = 30
YEAR_GROUPS = (1, 2, 5, 10, 20, 50, 100)
WIDTH_CLASSES = (("a", 200.0), ("b", 300.0), ("c", 450.0), ("d", 680.0), ("e", 900.0))
"""``(class, narrowest figure width in CSS pixels)``: site.css shows the labels of the widest class
whose width the histogram reaches (a container query); ``a`` below 300 pixels."""
CHAR_PX = 8.0
"""Estimated width of one character of a label (12-pixel digits measure about 7.6 pixels)."""
LABEL_GAP = 10.0
EDGES = ("قبل", "بعد")
"""The labels of the bars of clamped dates ("before", "after"); an English page passes its own."""

Unit = Literal["month", "year", "years"]


def month_number(month: str) -> int:
    """``YYYY-MM`` as a count of months (year × 12 + month − 1), so months can be subtracted."""
    year, number = (int(part) for part in month.split("-"))
    return year * 12 + number - 1


def month_name(number: int) -> str:
    """The inverse of :func:`month_number`."""
    return f"{number // 12:04d}-{number % 12 + 1:02d}"


def first_day(month: int) -> str:
    return f"{month_name(month)}-01"


def last_day(month: int) -> str:
    year, number = divmod(month, 12)
    return f"{month_name(month)}-{calendar.monthrange(year, number + 1)[1]:02d}"


def core_range(months: Mapping[str, int], share: float = OUTLIER_SHARE,
               margin: float = OUTLIER_MARGIN) -> tuple[int, int]:
    """The first and last month (as :func:`month_number`) drawn as bars; the rest goes to the edge bars.

    The ``⌊share × n⌋`` oldest and newest of the ``n`` articles may fall outside; the range is then
    widened by ``margin`` of its span (at least one month) and shrunk back to the months that have
    articles, so it always starts and ends on a month with articles.
    """
    counted = sorted((month_number(m), c) for m, c in months.items() if c > 0)
    if not counted:
        raise ValueError("no months to draw")
    total = sum(c for _, c in counted)
    spare = math.floor(total * share)

    def past(items: Sequence[tuple[int, int]]) -> int:
        seen = 0
        for month, count in items:
            seen += count
            if seen > spare:
                return month
        return items[-1][0]  # pragma: no cover - seen reaches total > spare

    low, high = past(counted), past(counted[::-1])
    widen = max(math.ceil((high - low) * margin), 1)
    inside = [m for m, _ in counted if low - widen <= m <= high + widen]
    return inside[0], inside[-1]


def unit_for(first: int, last: int) -> tuple[Unit, int]:
    """The bars' unit over months ``first..last``: ``("month", 1)``, ``("year", 1)`` or ``("years", N)``."""
    if last - first + 1 <= MAX_MONTH_BARS:
        return "month", 1
    years = last // 12 - first // 12 + 1
    size = next((g for g in YEAR_GROUPS if math.ceil(years / g) <= MAX_YEAR_BARS), YEAR_GROUPS[-1])
    return ("year", 1) if size == 1 else ("years", size)


@dataclass(frozen=True, slots=True)
class Bin:
    """One bar's dates and count: months ``first..last`` (as :func:`month_number`); ``edge`` is
    ``"before"`` or ``"after"`` for the bars of clamped dates, else ``""``."""

    label: str
    first: int
    last: int
    count: int
    edge: str = ""
    rank: int = 0
    """How much its label is worth showing (higher first): the ends, then years, quarters, months."""


def bins(months: Mapping[str, int], edges: tuple[str, str] = EDGES) -> tuple[list[Bin], Unit]:
    """The bars of ``months`` (oldest first): clamped dates in edge bars (labelled ``edges``), the rest
    by :func:`unit_for`."""
    first, last = core_range(months)
    unit, size = unit_for(first, last)
    if unit != "month":  # whole years (or groups of them): a year bar holds every article of its years
        first = (first // 12 - (first // 12) % size) * 12
        last = (last // 12 - (last // 12) % size + size) * 12 - 1
    counts = {month_number(m): c for m, c in months.items() if c > 0}
    out: list[Bin] = []
    before = sum(c for m, c in counts.items() if m < first)
    if before:
        out.append(Bin(edges[0], min(counts), first - 1, before, "before"))
    if unit == "month":
        for m in range(first, last + 1):
            rank = 3 if m % 12 == 0 else 2 if m % 3 == 0 else 1
            out.append(Bin(month_name(m), m, m, counts.get(m, 0), rank=rank))
    else:
        for year in range(first // 12, last // 12 + 1, size):
            lo, hi = year * 12, (year + size) * 12 - 1
            rank = 3 if year % (size * 5) == 0 else 2 if year % (size * 2) == 0 else 1
            out.append(Bin(f"{year}", lo, hi, sum(c for m, c in counts.items() if lo <= m <= hi), rank=rank))
    after = sum(c for m, c in counts.items() if m > last)
    if after:
        out.append(Bin(edges[1], last + 1, max(counts), after, "after"))
    return out, unit


def label_width(label: str) -> float:
    return len(label) * CHAR_PX


def labelled(labels: Sequence[str], ranks: Sequence[int], width: float) -> list[bool]:
    """Which of the axis ``labels`` (one per bar, oldest first, equal cells) to show in a figure
    ``width`` pixels wide so that no two come within :data:`LABEL_GAP` of each other.

    The two end labels are aligned inward (they start at the figure's edges), the others centred on
    their bar. Ends first, then by ``ranks`` (higher first), then oldest first; a label that would
    overlap one already kept is left out, as is one wider than the figure.
    """
    n = len(labels)
    cell = width / n if n else 0.0

    def span(i: int) -> tuple[float, float]:
        w = label_width(labels[i])
        if i == 0:
            return 0.0, w
        if i == n - 1:
            return width - w, width
        middle = (i + 0.5) * cell
        return middle - w / 2, middle + w / 2

    order = sorted(range(n), key=lambda i: (i not in (0, n - 1), -ranks[i], i))
    kept: list[tuple[float, float]] = []
    shown = [False] * n
    for i in order:
        left, right = span(i)
        if right - left > width or left < 0 or right > width:
            continue
        if all(right + LABEL_GAP <= a or b + LABEL_GAP <= left for a, b in kept):
            kept.append((left, right))
            shown[i] = True
    return shown


@dataclass(frozen=True, slots=True)
class Bar:
    """One drawn bar (SVG user units) and its axis cell: ``href`` narrows the search to its dates;
    ``shown_in`` names the width classes whose axis shows its label; ``align`` is ``start`` for the
    first cell, ``end`` for the last (their labels run inward), else ``""`` (centred)."""

    label: str
    title: str
    count: int
    x: float
    y: float
    width: float
    height: float
    href: str
    edge: str = ""
    shown_in: str = ""
    align: str = ""


@dataclass(frozen=True, slots=True)
class Histogram:
    """An inline SVG histogram's geometry and its axis (earliest first in the page's direction: on the
    right of an Arabic page)."""

    bars: list[Bar] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0
    unit: Unit = "month"
    first: str = ""
    last: str = ""


HEIGHT = 80.0
STEP = 10.0
GAP = 2.0
MIN_HEIGHT = 2.0


def title_of(item: Bin) -> str:
    """A bar's full description: its dates (the edge bars' whole span) and its count."""
    if item.edge:
        return f"{item.label} {month_name(item.last + 1 if item.edge == 'before' else item.first - 1)}: {item.count}"
    if item.first == item.last:
        return f"{month_name(item.first)}: {item.count}"
    if item.last - item.first == 11:
        return f"{item.label}: {item.count}"
    return f"{item.first // 12}–{item.last // 12}: {item.count}"


def histogram(months: Mapping[str, int], params: Params, *, edges: tuple[str, str] = EDGES,
              rtl: bool = True) -> Histogram:
    """The bars of the matching articles' dates; each links to the same search within its dates.
    ``rtl``: the earliest bar on the right (an Arabic page), else on the left."""
    if not any(c > 0 for c in months.values()):
        return Histogram()
    items, unit = bins(months, edges)
    n = len(items)
    peak = max(item.count for item in items) or 1
    width = STEP * n
    labels, ranks = [item.label for item in items], [item.rank for item in items]
    shown = {name: labelled(labels, ranks, px) for name, px in WIDTH_CLASSES}
    bars = []
    for i, item in enumerate(items):
        height = 0.0 if not item.count else max(HEIGHT * item.count / peak, MIN_HEIGHT)
        since = None if item.edge == "before" else first_day(item.first)
        until = None if item.edge == "after" else last_day(item.last)
        href = query_string(params, **({"since": since} if since else {}), **({"until": until} if until else {}),
                            page=None)
        x = width - (i + 1) * STEP + GAP / 2 if rtl else i * STEP + GAP / 2
        bars.append(Bar(
            item.label, title_of(item), item.count, round(x, 2),
            round(HEIGHT - height, 2), STEP - GAP, round(height, 2), href, item.edge,
            " ".join(name for name, _ in WIDTH_CLASSES if shown[name][i]),
            "start" if i == 0 else "end" if i == n - 1 else "",
        ))
    core = [item for item in items if not item.edge]
    return Histogram(bars, width, HEIGHT, unit, month_name(core[0].first), month_name(core[-1].last))

"""The arguments of a search, checked: a caller's mistake is a :class:`QueryError` that names it.

Kept apart from the ranking so that the front doors (library, command line,
web) share one reading of what a search may ask for.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from datetime import date, datetime, time as dtime, timedelta, timezone

from ..errors import QueryError
from ..index.columns import Filters
from .fusion import FusionMethod
from .options import MODES, SORTS, Mode, Sort

__all__ = ["MAX_K", "MODES", "SORTS", "Mode", "Sort", "check_k", "check_options", "check_query", "make_filters"]
MAX_K = 1_000


def check_k(k: object) -> int:
    """``k`` if it is a whole number from 1 to :data:`MAX_K`, else :class:`QueryError`."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise QueryError(f"k must be a positive whole number, not {k!r}")
    if k > MAX_K:
        raise QueryError(f"k is at most {MAX_K:,} hits per search; ask for the next ones with offset={MAX_K}")
    return k


def check_query(query: object) -> str:
    """``query`` if it is text."""
    if not isinstance(query, str):
        raise QueryError(f"query must be text, not {type(query).__name__}")
    return query


def check_options(
    mode: object, sort: object, fusion: object, alpha: object, offset: object
) -> tuple[str, str, FusionMethod, float, int]:
    """``mode``, ``sort``, ``fusion``, ``alpha`` and ``offset`` of a search, each checked."""
    if mode not in MODES:
        raise QueryError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
    if sort not in SORTS:
        raise QueryError(f"unknown sort {sort!r}; choose one of: {', '.join(SORTS)}")
    try:
        method = FusionMethod(fusion)
    except ValueError:
        raise QueryError(f"unknown fusion {fusion!r}; choose one of: "
                         + ", ".join(m.value for m in FusionMethod)) from None
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise QueryError(f"alpha must be between 0 and 1, not {alpha!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise QueryError(f"offset must be a whole number >= 0, not {offset!r}")
    return str(mode), str(sort), method, float(alpha), offset


def make_filters(
    source: str | Sequence[str] | None,
    category: str | Sequence[str] | None,
    since: datetime | date | str | None,
    until: datetime | date | str | None,
    author: str | Sequence[str] | None = None,
) -> Filters:
    """Checked :class:`Filters` from what a caller passed to a search."""
    filters = Filters(
        sources=_values(source, "source"),
        categories=_values(category, "category"),
        authors=_values(author, "author"),
        since=_moment(since, "since", end_of_day=False),
        until=_moment(until, "until", end_of_day=True),
    )
    if filters.since and filters.until and _instant(filters.since, end=False) - _slack(filters) > \
            _instant(filters.until, end=True):
        raise QueryError(f"since ({_day(filters.since)}) is after until ({_day(filters.until)})")
    return filters


def _values(value: str | Sequence[str] | None, name: str) -> tuple[str, ...]:
    """One filter value or several, as a tuple of non-empty texts."""
    if value is None or value == "":
        return ()
    items = [value] if isinstance(value, str) else value
    if isinstance(items, (bytes, dict)) or not isinstance(items, (list, tuple, set, frozenset)):
        raise QueryError(f"{name} must be text or a list of texts, not {type(value).__name__}")
    for item in items:
        if not isinstance(item, str):
            raise QueryError(f"{name} must be text, not {type(item).__name__}")
    return tuple(v for v in items if v.strip())


DATE_FORMS = "YYYY-MM-DD, YYYY-MM, YYYY or an ISO 8601 time"
"""The forms a ``since``/``until`` bound may take (named in the error for any other)."""
_PARTIAL_DATE = re.compile(r"(\d{4})(?:-(\d{2}))?")


def date_bound(text: str, *, end: bool) -> datetime | date:
    """The day or moment a ``since`` (``end=False``) or ``until`` (``end=True``) bound written as text stands for.

    ``YYYY-MM-DD`` is that day; ``YYYY-MM`` and ``YYYY`` are the whole month
    or year: ``since 2018-06`` starts on 2018-06-01, ``until 2018-06`` runs through
    2018-06-30 and ``until 2018`` through 2018-12-31. Days are returned as
    ``date``: each article is then on the day its own date shows
    (:mod:`archive.index.columns`). An ISO 8601 time is that moment (UTC when it
    names no zone). Anything else is a :class:`ValueError` that says which forms
    are accepted.
    """
    value = text.strip()
    try:
        partial = _PARTIAL_DATE.fullmatch(value)
        if partial:
            year, month = int(partial[1]), int(partial[2] or (12 if end else 1))
            last = calendar.monthrange(year, month)[1] if 1 <= month <= 12 else 1
            day = date(year, month, last if end else 1)
        elif len(value) == 10:
            day = date.fromisoformat(value)
        else:
            moment = datetime.fromisoformat(value)
            return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    except ValueError:
        raise ValueError(f"{text!r} is not a date; use {DATE_FORMS}") from None
    return day


def _moment(value: datetime | date | str | None, name: str, *, end_of_day: bool) -> datetime | date | None:
    """A day (``date``) or a timezone-aware moment from what a caller passed as ``since``/``until``."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return date_bound(value, end=end_of_day)
        except ValueError as exc:
            raise QueryError(f"{name}: {exc}") from None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return value
    raise QueryError(f"{name}: expected a date, not {type(value).__name__}")


def _day(bound: datetime | date) -> str:
    """``bound``'s day as ``YYYY-MM-DD`` (the year padded: ``0001``)."""
    return (bound.date() if isinstance(bound, datetime) else bound).isoformat()


ZONE_SPAN = timedelta(hours=26)
"""From the earliest zone's day start to the latest's (UTC+14 to UTC-12): how far a day bound's
articles can lie from its UTC day."""


def _slack(filters: Filters) -> timedelta:
    """How much a day bound may seem after a moment bound and still share articles with it (none
    between two bounds of the same kind)."""
    return ZONE_SPAN if isinstance(filters.since, datetime) != isinstance(filters.until, datetime) else timedelta(0)


def _instant(bound: datetime | date, *, end: bool) -> datetime:
    """``bound`` as a moment, for comparing two bounds (a day as its UTC start or end)."""
    if isinstance(bound, datetime):
        return bound
    return datetime.combine(bound, dtime.max if end else dtime.min, tzinfo=timezone.utc)

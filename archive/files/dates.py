"""Publication dates as news files write them → timezone-aware datetimes.

Understood: ISO 8601 (``2024-11-12``, ``2024-11-12T10:30:00+03:00``,
``2024-11-12 10:30:00``), RFC 2822 (``Tue, 12 Nov 2024 10:30:00 +0300``),
and day-month-year dates with month names: Arabic as written across the
Arab world (Egyptian/Gulf ``نوفمبر``, Levantine/Iraqi ``تشرين الثاني``,
Maghrebi ``جوان``/``جويلية``/``أوت``, Moroccan ``يوليوز``/``غشت``) or
English (``12 November 2024``, ``Nov 12, 2024``), with Eastern Arabic or
Persian digits, an optional day name (``الثلاثاء``), ``م`` after the year and
a time with ``ص``/``م`` (or صباحا/مساء). A date without a zone is taken as UTC.

A table of month names rather than ``dateparser``: dateparser (1.5) does not
know the Levantine or Maghrebi names (``12 تشرين الثاني 2024``, ``12 جوان
2024`` parse to nothing) and reads relative phrases (``أمس`` "yesterday")
against today's clock, which is wrong for an archive read years later. What
this module does not understand is returned as ``None`` and the reader keeps
the article without a date, with a warning naming the value.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from ..text.normalize import normalize

_MONTH_NAMES: dict[int, tuple[str, ...]] = {
    1: ("يناير", "كانون الثاني", "جانفي", "January", "Jan"),
    2: ("فبراير", "شباط", "فيفري", "February", "Feb"),
    3: ("مارس", "آذار", "March", "Mar"),
    4: ("أبريل", "إبريل", "نيسان", "أفريل", "April", "Apr"),
    5: ("مايو", "أيار", "ماي", "May"),
    6: ("يونيو", "يونية", "حزيران", "جوان", "June", "Jun"),
    7: ("يوليو", "يولية", "تموز", "جويلية", "يوليوز", "July", "Jul"),
    8: ("أغسطس", "آب", "أوت", "غشت", "August", "Aug"),
    9: ("سبتمبر", "أيلول", "شتنبر", "September", "Sep", "Sept"),
    10: ("أكتوبر", "تشرين الأول", "October", "Oct"),
    11: ("نوفمبر", "تشرين الثاني", "نونبر", "November", "Nov"),
    12: ("ديسمبر", "كانون الأول", "دجنبر", "December", "Dec"),
}
_DAY_NAMES = ("الأحد", "الاثنين", "الإثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت")


def _key(name: str) -> str:
    """Month and day names compared in the archive's normalized form (أ/ا, ة/ه, ى/ي, case)."""
    return " ".join(normalize(name).lower().split())


_MONTHS = {_key(name): month for month, names in _MONTH_NAMES.items() for name in names}
_MONTH_ALT = "|".join(sorted((re.escape(k) for k in _MONTHS), key=len, reverse=True))
_DAYS_ALT = "|".join(re.escape(_key(d)) for d in _DAY_NAMES)
# The patterns below match text after _key(): Arabic words are written in normalized form (الساعه, not الساعة).
_DAY_RE = re.compile(rf"^(?:يوم\s+)?(?:{_DAYS_ALT})\b|\b(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\b")
_TIME = r"(?:\s+(?:الساعه\s+)?(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?\s*(?P<ampm>صباحا|مساء|ص|م|am|pm)?)?"
_DMY_RE = re.compile(rf"^(?P<d>\d{{1,2}})\s+(?P<mon>{_MONTH_ALT})\s+(?P<y>\d{{4}})(?:\s*م)?{_TIME}$")
_MDY_RE = re.compile(rf"^(?P<mon>{_MONTH_ALT})\s+(?P<d>\d{{1,2}})\s+(?P<y>\d{{4}}){_TIME}$")
_ZONE_RE = re.compile(r"\s*(?:(?:gmt|utc)\s*)?(?P<sign>[+-])(?P<zh>\d{1,2}):?(?P<zm>\d{2})?$|\s*(?:gmt|utc)$")


def parse_date(value: str) -> datetime | None:
    """A timezone-aware datetime for ``value`` (see the module docstring); ``None`` if not understood."""
    value = value.strip()
    if not value:
        return None
    moment: datetime | None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            moment = _named_month_date(value)
    if moment is None:
        return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    try:
        moment.astimezone(UTC)  # 0001-01-01T00:30+05:00 is before the year 1 in UTC: no date can hold it
    except OverflowError:
        return None
    return moment


def _named_month_date(value: str) -> datetime | None:
    text = _key(value)  # also turns Eastern Arabic and Persian digits into ASCII
    text = re.sub(r"[,،]+", " ", text)
    text = " ".join(_DAY_RE.sub(" ", text).split())
    zone: timezone | None = None
    found = _ZONE_RE.search(text)
    if found:
        if found.group("sign"):
            offset = timedelta(hours=int(found.group("zh")), minutes=int(found.group("zm") or 0))
            zone = timezone(offset if found.group("sign") == "+" else -offset)
        else:
            zone = UTC
        text = text[: found.start()].strip()
    match = _DMY_RE.match(text) or _MDY_RE.match(text)
    if match is None:
        return None
    hour = int(match.group("h") or 0)
    ampm = match.group("ampm")
    if ampm in ("م", "مساء", "pm") and hour < 12:
        hour += 12
    elif ampm in ("ص", "صباحا", "am") and hour == 12:
        hour = 0
    try:
        return datetime(
            int(match.group("y")), _MONTHS[match.group("mon")], int(match.group("d")),
            hour, int(match.group("mi") or 0), int(match.group("s") or 0), tzinfo=zone or UTC,
        )
    except ValueError:  # 31 February, hour 25
        return None

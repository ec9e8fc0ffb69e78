"""What the server says when it cannot answer: one message per kind of error, in Arabic and English.

A visitor is told what went wrong in their request, never how the server is
laid out: no message carries a server path or an exception's text (a damaged
index is logged in full for whoever runs the server, and the visitor is told
only that the server could not answer). The API answers in English
(``{"error": KIND, "message": TEXT}``, for programs); a page answers in Arabic,
or in English when the browser's ``Accept-Language`` prefers English to Arabic.
A detail from the library (why a query or a parameter is invalid) is shown
beside the message as it was written, with the index's path taken out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
"""Embeddings, overrides and isolates: an unbalanced one (a right-to-left override in ``q``) would
reorder the text around where it is echoed (the page title, a message); marks (U+200E/F) stay."""


def without_bidi_controls(text: str) -> str:
    """``text`` without bidi embeddings, overrides and isolates (for everything the server echoes)."""
    return BIDI_CONTROLS.sub("", text)


@dataclass(frozen=True, slots=True)
class Message:
    """One answer that is not a result: its HTTP status, its kind (the API's ``error``) and its text."""

    status: int
    kind: str
    english: str
    arabic: str
    detail: str = ""
    """The library's own words (English), for a request it refused; "" for the others."""

    def text(self, english: bool) -> str:
        return self.english if english else self.arabic

    def api_message(self) -> str:
        return f"{self.english}: {self.detail}" if self.detail else self.english


def not_found(doc_id: str) -> Message:
    shown = without_bidi_controls(repr(doc_id[:200]))
    detail = ""
    if doc_id.endswith("/related"):  # the related list moved from /api/articles/ID/related
        detail = ("the articles related to an article are at /api/related/ID "
                  "(the whole path after /api/articles/ is an id)")
    return Message(404, "DocumentNotFoundError", f"no article with id {shown}", f"لا مقال بالمعرّف {shown}", detail)


def no_route() -> Message:
    return Message(404, "NotFound", "no page at this address", "لا صفحة بهذا العنوان")


def bad_request(detail: str) -> Message:
    return Message(400, "QueryError", "invalid request", "طلب غير صالح", detail)


def method_not_allowed() -> Message:
    return Message(405, "MethodNotAllowed", "this server only reads: GET or HEAD",
                   "هذا الخادم للقراءة فقط: GET أو HEAD")


def host_not_allowed(allowed: str) -> Message:
    return Message(400, "HostNotAllowed",
                   f"this server answers only requests addressed to {allowed}",
                   f"لا يجيب هذا الخادم إلا الطلبات الموجهة إلى {allowed}")


def too_slow(limit: float) -> Message:
    return Message(504, "Timeout",
                   f"the answer took longer than the server's limit of {limit:g} s and was abandoned; "
                   "narrow the search (fewer words, a filter, a date range) or try again",
                   f"استغرقت الإجابة أكثر من الحد المسموح به ({limit:g} ثانية) فتُركت؛ "
                   "ضيّق البحث (كلمات أقل، أو مصدر، أو مدة) أو أعد المحاولة")


def busy(limit: float) -> Message:
    return Message(503, "Busy",
                   f"the server is busy with slow requests and could not start this one within {limit:g} s; "
                   "try again in a few seconds",
                   f"الخادم مشغول بطلبات بطيئة ولم يبدأ طلبك خلال {limit:g} ثانية؛ أعد المحاولة بعد قليل")


def server_error() -> Message:
    return Message(500, "ServerError",
                   "the server could not answer this request; the reason is in the server's log",
                   "تعذّر على الخادم الإجابة عن هذا الطلب؛ السبب مسجل في سجل الخادم")


def without_paths(text: str, *paths: Path) -> str:
    """``text`` with each of ``paths`` (as given and resolved) replaced by "the archive"."""
    names = {str(p) for path in paths for p in (path, path.resolve())}
    for name in sorted(names, key=len, reverse=True):
        if len(name) > 1:
            text = text.replace(name, "the archive")
    return without_bidi_controls(text)


def prefers_english(accept_language: str) -> bool:
    """Whether ``Accept-Language`` ranks English above Arabic (an absent Arabic ranks lowest)."""
    ranks: dict[str, float] = {}
    for order, part in enumerate(accept_language.split(",")[:20]):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        language = name.strip().lower().split("-")[0]
        if language in ("en", "ar") and language not in ranks:
            ranks[language] = quality - order * 1e-6  # the earlier of two equal ones wins
    return ranks.get("en", 0.0) > ranks.get("ar", 0.0)


QUERY_REASONS = {
    "the query is empty": "البحث فارغ",
    "the query only excludes words; add a word to search for": "البحث يستبعد كلمات فقط؛ أضف كلمة تبحث عنها",
    "the query has no searchable words (only stop words or punctuation)":
        "ليس في البحث كلمة يُبحث بها (كلمات شائعة أو علامات ترقيم فقط)",
}
"""The library's reasons for a query it cannot search (:func:`archive.search.query.parse_query`), in Arabic."""


def arabic_reason(reason: str, mode: str, *, total: int, offset: int, filtered: bool) -> str | None:
    """Why a search page shows no hit, in Arabic, from what the search found (not from parsing its English).

    ``None`` for a reason this table does not know: the page then shows the library's English words,
    marked as English, rather than a wrong Arabic one (tests/test_results.py holds every reason the
    library gives to an Arabic rendering).
    """
    if reason in QUERY_REASONS:
        return QUERY_REASONS[reason]
    where = " ضمن الحدود المختارة" if filtered else ""
    if offset and total:
        return f"لا نتائج بعد أول {offset:,}"
    if reason.startswith("no article contains these words") and mode == "lexical":
        return f"لا مقال يحوي هذه الكلمات{where}"
    if reason.startswith("no article is near them by meaning") and mode == "semantic":
        return f"لا مقال قريب منها بالمعنى{where}"
    if reason.startswith("no article contains these words, and none is near them") and mode == "hybrid":
        return f"لا مقال يحوي هذه الكلمات، ولا مقال قريب منها بالمعنى{where}"
    return None


def arabic_notices(*, mode: str, embedded: tuple[int, int, int, int] | None, floor_missing: str | None) -> list[str]:
    """What a reader of meaning results should know, in Arabic (the library's ``Hits.notice``).

    ``embedded``: (passages embedded, passages planned, leads embedded, leads) while an archive's passages
    are still waiting for vectors, else ``None``; ``floor_missing``: the encoder's name when it has no
    calibrated similarity floor.
    """
    if mode == "lexical":
        return []
    notes = []
    if embedded is not None:
        done, planned, leads_done, leads = embedded
        notes.append(f"البحث بالمعنى لم يكتمل بعد: يغطي {done:,} من {planned:,} مقطعًا "
                     f"({leads_done:,} من {leads:,} من مقدمات المقالات)؛ المقالات التي لم تُضمَّن بعد تُرتَّب "
                     "بكلماتها فقط. الحل: archive embed")
    if floor_missing is not None:
        notes.append(f"مرمِّز هذا الأرشيف ({floor_missing}) بلا حدّ أدنى مُعايَر للتشابه: كل مقال جارٌ بالمعنى "
                     "مرتَّب، وعدد المقالات القريبة بالمعنى ليس عدد مطابقات")
    return notes

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

CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""Bidi embeddings, overrides and isolates: an unbalanced one (a right-to-left override in ``q``)
would reorder the text around where it is echoed (the page title, a message); marks (U+200E/F)
stay. And the C0 and C1 control characters but tab and line breaks, which HTML does not allow
(a NUL or an escape from ``?q=%00%1b`` made the page invalid)."""


def without_controls(text: str) -> str:
    """``text`` without bidi embeddings, overrides, isolates and control characters (for everything
    the server echoes)."""
    return CONTROLS.sub("", text)


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

    def detail_text(self, english: bool) -> tuple[str, bool]:
        """The detail as a page in that language shows it, and whether it is English (an Arabic page
        shows a detail :func:`arabic_detail` does not know in English, marked as such)."""
        if english or not self.detail:
            return self.detail, True
        arabic = arabic_detail(self.detail)
        return (arabic, False) if arabic is not None else (self.detail, True)

    def api_message(self) -> str:
        return f"{self.english}: {self.detail}" if self.detail else self.english


def not_found(doc_id: str) -> Message:
    shown = without_controls(repr(doc_id[:200]))
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
    return without_controls(text)


PARAMETERS = {"q": "نص البحث", "k": "عدد النتائج في الصفحة", "page": "الصفحة", "mode": "طريقة البحث",
              "sort": "الترتيب", "source": "المصدر", "category": "التصنيف", "since": "من تاريخ",
              "until": "إلى تاريخ", "id": "المعرّف", "back": "رابط العودة",
              "limit": "أقصى عدد للمقالات"}
"""The search's parameters as the Arabic page names them (the URL's name follows, in Latin letters)."""


def _parameter(name: str) -> str:
    return f"{PARAMETERS[name]} ({name})" if name in PARAMETERS else name


_DETAILS: list[tuple[re.Pattern[str], str]] = [(re.compile(pattern), arabic) for pattern, arabic in [
    (r"^(?P<p>\w+): Input should be greater than or equal to (?P<n>[\d,]+)$", "{p}: يجب ألا يقل عن {n}"),
    (r"^(?P<p>\w+): Input should be less than or equal to (?P<n>[\d,]+)$", "{p}: يجب ألا يزيد على {n}"),
    (r"^(?P<p>\w+): Input should be a valid integer.*$", "{p}: يجب أن يكون عددًا صحيحًا"),
    (r"^(?P<p>\w+): String should have at most (?P<n>[\d,]+) characters?$", "{p}: لا يتجاوز {n} حرفًا"),
    (r"^(?P<p>\w+): Field required$", "{p}: مطلوب"),
    (r"^unknown mode (?P<v>'.*'); choose one of: (?P<n>.*)$", "طريقة بحث غير معروفة {v}؛ اختر واحدة من: {n}"),
    (r"^unknown sort (?P<v>'.*'); choose one of: (?P<n>.*)$", "ترتيب غير معروف {v}؛ اختر واحدًا من: {n}"),
    (r"^(?P<p>\w+): (?P<v>'.*') is not a date; .*$", "{p}: {v} ليس تاريخًا؛ اكتبه هكذا: 2024-11-05"),
    (r"^since \((?P<v>[\d-]+)\) is after until \((?P<n>[\d-]+)\)$",
     "تاريخ البداية ({v}) بعد تاريخ النهاية ({n})"),
    (r"^page (?P<v>\d+) of (?P<n>\d+) hits reaches past the first (?P<m>[\d,]+) hits; .*$",
     "الصفحة {v} (كل صفحة {n} نتيجة) تتجاوز أول {m} نتيجة؛ ضيّق البحث بدلًا من ذلك"),
    (r"^(?P<p>\w+): at most (?P<n>\d+) values in one search$", "{p}: {n} قيمة على الأكثر في بحث واحد"),
    (r"^(?P<p>\w+): a value is at most (?P<n>\d+) characters$", "{p}: القيمة {n} حرفًا على الأكثر"),
    (r"^semantic search needs vectors, .*$",
     "البحث بالمعنى يحتاج إلى متجهات، وقد بُني هذا الأرشيف دون مرمِّز (بحث بالكلمات فقط)؛ اختر البحث بالكلمات"),
    (r"^range queries .* are not supported.*$",
     "البحث في نطاق ([a TO b]) غير مدعوم؛ ابحث عن الكلمات نفسها، وحدّد التواريخ بحقلي «من» و«إلى»"),
    (r"^at most (?P<n>\d+) quoted phrases in one query.*$",
     "{n} عبارات بين علامتي تنصيص على الأكثر في بحث واحد؛ قسّم البحث"),
    (r"^a story is asked for an article id or a query: give exactly one of them$",
     "يُطلب الخط الزمني لمقال (id) أو لبحث (q): أعطِ واحدًا منهما فقط"),
    (r"^the articles related to an article are at /api/related/ID.*$",
     "المقالات ذات الصلة بمقال في /api/related/ID (كل ما بعد /api/articles/ معرّف واحد)"),
]]
"""The details of a refused request (the library's words and the web layer's), each as a pattern
and its Arabic; :func:`arabic_detail` renders each ``; ``-separated part it knows."""


def arabic_detail(detail: str) -> str | None:
    """``detail`` (one or more parts joined by ``; ``) in Arabic, or ``None`` if a part is not known
    (the page then shows the English words, marked as English, rather than half a translation)."""
    out = []
    for part in detail.split("; ") if "Input should" in detail or "Field required" in detail else [detail]:
        for pattern, arabic in _DETAILS:
            found = pattern.match(part.strip())
            if found:
                names = {key: _parameter(value) if key == "p" else value for key, value in found.groupdict().items()}
                out.append(arabic.format(**names))
                break
        else:
            return None
    return "؛ ".join(out)


RELATED_REASONS = {
    "the archive holds no other article": "لا مقال آخر في الأرشيف",
    "no other article shares its words": "لا مقال آخر يشاركه كلماته",
}


def arabic_related_reason(reason: str | None) -> str | None:
    """Why an article has no related articles, in Arabic (``None``: not known, shown in English)."""
    if reason is None:
        return None
    if reason.endswith("has no searchable words to compare"):
        return "ليس في المقال كلمات يُقارن بها"
    return RELATED_REASONS.get(reason)


LOCAL_MODEL = re.compile(r"st:(?P<path>(?:/|~|\.{1,2}/|[A-Za-z]:[\\/])[^|\s'\";,)]*)")
"""A sentence-transformers encoder loaded from a local directory (``st:/home/…/model``): its spec
names a directory of the server."""


def without_local_models(text: str) -> str:
    """``text`` with each local model directory in an encoder's name cut to its last part
    (``st:/srv/models/e5`` → ``st:…/e5``): the model's name is worth showing, its place on the server is not."""
    def shorten(found: re.Match[str]) -> str:
        parts = [p for p in re.split(r"[\\/]", found.group("path").rstrip("/\\")) if p not in ("", ".", "..", "~")]
        keep = 2 if parts and parts[-1].startswith("sentence-transformers-") else 1  # the name's library version
        return "st:…/" + "/".join(parts[-keep:]) if parts else "st:…"

    return LOCAL_MODEL.sub(shorten, text)


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

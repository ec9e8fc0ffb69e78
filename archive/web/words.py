"""The words of the pages, in Arabic and in English: one table, so a page cannot be half translated.

A page is Arabic (right to left) unless the browser's ``Accept-Language``
ranks English above Arabic (:func:`archive.web.messages.prefers_english`);
then every word of it is English and it reads left to right. Templates call
``t(key, **values)``; values are formatted into the text (numbers with
thousands separators), and every key has both languages (a test checks).
What the articles say, and the names of sources and categories, are shown
as the articles spell them, in either language.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

WORDS: dict[str, tuple[str, str]] = {
    "archive": ("أرشيف الأخبار", "News archive"),
    "articles_count": ("{n:,} مقال", "{n:,} articles"),
    "placeholder": ("ابحث في الأرشيف، مثلًا: قوات كورية في كورسك", "Search the archive, e.g. قوات كورية في كورسك"),
    "query_label": ("نص البحث", "Search words"),
    "search": ("ابحث", "Search"),
    "filters": ("تصفية النتائج وترتيبها", "Filter and sort"),
    "chosen": ("({n} مختارة)", "({n} chosen)"),
    "mode": ("طريقة البحث", "Search by"),
    "mode_hybrid": ("الكلمات والمعنى", "Words and meaning"),
    "mode_lexical": ("الكلمات فقط", "Words only"),
    "mode_semantic": ("المعنى فقط", "Meaning only"),
    "sort": ("الترتيب", "Order"),
    "sort_relevance": ("الأكثر صلة", "Most relevant"),
    "sort_-date": ("الأحدث أولًا", "Newest first"),
    "sort_date": ("الأقدم أولًا", "Oldest first"),
    "dates": ("التاريخ", "Dates"),
    "since": ("من", "From"),
    "until": ("إلى", "To"),
    "all_dates": ("كل التواريخ", "All dates"),
    "sources": ("المصادر", "Sources"),
    "categories": ("التصنيفات", "Categories"),
    "apply": ("تطبيق", "Apply"),
    "start": ("اكتب كلمات البحث أعلاه. يضم الأرشيف {n:,} مقالًا", "Type words to search for above. The archive "
              "holds {n:,} articles"),
    "start_spread": (" موزعة على الزمن كما يلي", ", spread over time as below"),
    "found_lexical": ("عدد المقالات التي تحوي كلمات البحث", "Articles with these words"),
    "found_semantic": ("عدد المقالات القريبة بالمعنى", "Articles near by meaning"),
    "found_hybrid": ("عدد المقالات", "Articles found"),
    "found_split": ("(تحوي كلمات البحث: {words:,}، قريبة بالمعنى: {meaning:,})",
                    "({words:,} with these words, {meaning:,} near by meaning)"),
    "stories": ("— عدد الأخبار بعد جمع نسخ الخبر الواحد: <strong>{n:,}</strong>",
                "— {n:,} stories once the copies of a story are folded"),
    "show_every_copy": ("إظهار كل النسخ", "show every copy"),
    "versions_1": ("نسخة أخرى", "1 other version"),
    "versions_2": ("نسختان أخريان", "2 other versions"),
    "versions_few": ("{n} نسخ أخرى", "{n} other versions"),
    "versions_many": ("{n} نسخة أخرى", "{n} other versions"),
    "unknown_outlet": ("مصدر غير معروف", "unknown outlet"),
    "meaning_only": ("لا مقال يحوي هذه الكلمات؛ الأقرب بالمعنى:", "No article contains these words; nearest by meaning:"),
    "histogram_label": ("عدد المقالات المطابقة حسب {unit}", "Matching articles by {unit}"),
    "histogram_found": ("المقالات التي وجدها البحث حسب {unit}؛ انقر عمودًا لحصر النتائج في مدته",
                        "Articles found, by {unit}; choose a bar to keep its dates"),
    "histogram_all": ("التغطية حسب {unit}؛ انقر عمودًا لحصر النتائج في مدته",
                      "Articles by {unit}; choose a bar to keep its dates"),
    "histogram_edges": (". العمودان الرماديان: قبل {first} وبعد {last}", ". The grey bars: before {first} and after {last}"),
    "histogram_before": (". العمود الرمادي: قبل {first}", ". The grey bar: before {first}"),
    "histogram_after": (". العمود الرمادي: بعد {last}", ". The grey bar: after {last}"),
    "unit_month": ("الشهر", "month"),
    "unit_year": ("السنة", "year"),
    "unit_years": ("السنوات", "years"),
    "before": ("قبل", "before"),
    "after": ("بعد", "after"),
    "no_results": ("لا نتائج: ", "No results: "),
    "also_spelled": ("وتشمل النتائج تهجئة أخرى: {words}", "Also spelled: {words}"),
    "pages": ("صفحات النتائج", "Pages of results"),
    "previous": ("السابقة", "Previous"),
    "next": ("التالية", "Next"),
    "page_n": ("الصفحة {n}", "Page {n}"),
    "back": ("← العودة إلى النتائج", "← Back to the results"),
    "date": ("التاريخ", "Date"),
    "source": ("المصدر", "Source"),
    "author": ("الكاتب", "Author"),
    "category": ("التصنيف", "Category"),
    "id": ("المعرّف", "Id"),
    "original": ("الأصل", "Original"),
    "copy_of": ("نسخة مطابقة لـ", "An identical copy of"),
    "copy_note": ("(تعرض نتائج البحث تلك النسخة)", "(search results show that copy)"),
    "copies": ("نسخ مطابقة مدمجة في هذا المقال", "Identical copies folded into this article"),
    "related_semantic": ("مقالات ذات صلة (بالمعنى)", "Related articles (by meaning)"),
    "related_lexical": ("مقالات ذات صلة (بالكلمات)", "Related articles (by words)"),
    "story_link_article": ("الخط الزمني لهذه القصة", "This story's timeline"),
    "story_link_search": ("الخط الزمني لهذه الأخبار", "Timeline of these results"),
    "story_title": ("الخط الزمني", "Timeline"),
    "story_of_article": ("الخط الزمني لقصة", "Timeline of the story of"),
    "story_of_query": ("الخط الزمني لأخبار", "Timeline of the news about"),
    "story_summary": ("عدد المقالات: {n:,}، عدد الأحداث: {events:,}، الأقدم أولًا",
                      "{n:,} articles in {events:,} events, oldest first"),
    "story_meaning": ("جُمعت حسب المعنى والتاريخ", "grouped by meaning and date"),
    "story_words": ("جُمعت حسب الكلمات والتاريخ (لا متجهات معنى في هذا الأرشيف)",
                    "grouped by words and date (this archive has no meaning vectors)"),
    "story_limit": ("أقصى عدد للمقالات: {n:,}", "at most {n:,} articles considered"),
    "story_empty": ("لا أحداث: ", "No events: "),
    "story_seed": ("هذا المقال", "this article"),
    "story_events": ("الأحداث", "Events"),
    "undated": ("مقالات بلا تاريخ", "Undated articles"),
    "articles_1": ("مقال واحد", "1 article"),
    "articles_2": ("مقالان", "2 articles"),
    "articles_few": ("{n} مقالات", "{n} articles"),
    "articles_many": ("{n} مقالًا", "{n} articles"),
}


@dataclass(frozen=True, slots=True)
class Words:
    """The words of one page: ``t(key, **values)`` in its language."""

    english: bool = False

    @property
    def lang(self) -> str:
        return "en" if self.english else "ar"

    def __call__(self, key: str, **values: object) -> Markup:
        """The text of ``key`` with ``values`` put in, each escaped unless it is markup already."""
        return Markup(escape(WORDS[key][1 if self.english else 0])).format(**values)

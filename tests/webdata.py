"""Articles for the web tests: more reports of the Kursk story (sources, dates) and hostile ones (XSS)."""

from __future__ import annotations

from datetime import UTC, datetime

from archive.document import Document


def _utc(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 9, 0, tzinfo=UTC)


KURSK = [
    Document(
        id="kursk-aljazeera", title="آلاف الجنود من كوريا الشمالية في روسيا",
        body="قالت الاستخبارات الكورية الجنوبية إن آلاف الجنود من كوريا الشمالية وصلوا إلى منطقة كورسك "
        "الروسية للمشاركة في القتال ضد القوات الأوكرانية.\nوأكد البنتاغون نشر هؤلاء الجنود في روسيا.",
        published=_utc(2024, 11, 5), source="Al Jazeera", category="world", author="سارة أحمد",
        url="https://example.org/kursk-aljazeera",
    ),
    Document(
        id="kursk-bbc", title="أوكرانيا: اشتباك أول مع جنود من بيونغيانغ",
        body="قال مسؤولون أوكرانيون إن قواتهم اشتبكت للمرة الأولى مع جنود من كوريا الشمالية في منطقة كورسك، "
        "بعد أسابيع من تقارير عن إرسال بيونغيانغ آلاف الجنود لدعم روسيا.",
        published=_utc(2024, 10, 20), source="BBC", category="world",
        url="https://example.org/kursk-bbc",
    ),
    Document(
        id="kursk-cnn", title="واشنطن تدعو بيونغيانغ إلى سحب جنودها من روسيا",
        body="قالت وزارة الدفاع الأمريكية إن جنودا من كوريا الشمالية يتجهون إلى منطقة كورسك الروسية قرب الحدود "
        "الأوكرانية، ودعت بيونغيانغ إلى سحب قواتها.",
        published=_utc(2024, 12, 2), source="CNN", category="world",
        url="https://example.org/kursk-cnn",
    ),
]

XSS_SCRIPT = "<script>alert('xss')</script>"
XSS_IMG = '<img src=x onerror="alert(1)">'
HOSTILE = [
    Document(
        id="evil-1", title=f"عنوان خبيث {XSS_SCRIPT}",
        body=f"نص خبيث فيه {XSS_IMG} وكلمة {XSS_SCRIPT} في وسطه.",
        published=_utc(2024, 8, 1), source=f"مصدر{XSS_IMG}", category=f"cat{XSS_SCRIPT}",
        url="javascript:alert(document.cookie)", author=f"كاتب {XSS_SCRIPT}",
    ),
    Document(
        id='evil-2"><script>alert(2)</script>', title='" onmouseover="alert(3)" x="',
        body="خبر خبيث ومعه رابط.",
        published=_utc(2024, 8, 2), source="Evil", category="world",
        url="JaVaScRiPt:alert(4)",
    ),
]


DAM_MONTHS_2018 = (2, 2, 3, 4, 8, 10, 9, 7, 5, 4, 3, 3)
"""Reports of 2018 on the Renaissance Dam talks, by month: 60 articles."""
_CITIES = ("القاهرة", "الخرطوم", "أديس أبابا")
_STEPS = ("جولة جديدة من مفاوضات", "خلاف فني في مفاوضات", "اجتماع وزراء المياه بشأن", "تقرير المكتب الاستشاري عن",
          "تعثر مفاوضات", "اتفاق مبدئي حول ملء")


def dam_documents() -> list[Document]:
    """A story spread as archives are: one report of 2013 (the works begin), sixty of 2018 (the
    talks), one of 2024 (the last filling). The histogram of such a search drew 132 month bars of
    3.5 pixels with only its two ends labelled; the pager of 60 hits by 3 has 20 pages."""
    docs = [Document(
        id="dam-2013", title="إثيوبيا تبدأ تحويل مجرى النيل الأزرق لبناء سد النهضة",
        body="بدأت إثيوبيا تحويل مجرى النيل الأزرق تمهيدا لبناء سد النهضة، وأعربت مصر عن قلقها من أثر السد "
        "على حصتها من مياه النهر.", published=_utc(2013, 5, 28), source="BBC", category="africa",
    )]
    n = 0
    for month, count in enumerate(DAM_MONTHS_2018, 1):
        for day in range(count):
            city, step = _CITIES[n % 3], _STEPS[(n // 3) % len(_STEPS)]
            docs.append(Document(
                id=f"dam-2018-{month:02d}-{day + 1:02d}", title=f"{step} سد النهضة في {city} (الجولة {n + 1})",
                body=f"عقد وزراء الخارجية والمياه في مصر والسودان وإثيوبيا اجتماعا في {city} لبحث قواعد ملء "
                f"سد النهضة وتشغيله. وقال المتحدث إن الجولة رقم {n + 1} انتهت دون اتفاق نهائي على مدة الملء، "
                "وإن اللجان الفنية ستواصل عملها.", published=_utc(2018, month, 1 + day * 2),
                source=("Al Jazeera", "BBC", "Sky News Arabia")[n % 3], category="africa",
            ))
            n += 1
    docs.append(Document(
        id="dam-2024", title="إثيوبيا تعلن اكتمال الملء الخامس لسد النهضة",
        body="أعلنت إثيوبيا اكتمال الملء الخامس لخزان سد النهضة، فيما قالت مصر إن الخطوة تخالف القانون الدولي.",
        published=_utc(2024, 3, 10), source="Al Jazeera", category="africa",
    ))
    return docs

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

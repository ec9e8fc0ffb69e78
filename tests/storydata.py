"""Articles for the story tests: the seed's story (North Korean troops in Kursk) told by several outlets
over three stretches of time, a month and more apart, beside unrelated news.

- October 2024: the troops are sent to Russia and reach Kursk (three outlets, and the seed article,
  dated here as its events were: the Pentagon's call of 30 October 2024).
- December 2024: Ukraine says North Korean soldiers were killed and wounded in Kursk (three outlets).
- January 2025: Ukraine captures two North Korean soldiers (two outlets).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from archive.document import Document

from .conftest import NEWS


def _utc(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 10, 0, tzinfo=UTC)


SENT = [
    Document(
        id="nk-sent-bbc", title="سول: كوريا الشمالية ترسل آلاف الجنود إلى روسيا",
        body="قالت الاستخبارات الكورية الجنوبية إن كوريا الشمالية قررت إرسال نحو اثني عشر ألف جندي إلى روسيا "
        "لدعمها في الحرب على أوكرانيا، وإن الدفعة الأولى نقلت على متن سفن روسية إلى ميناء فلاديفوستوك. "
        "ويتلقى الجنود تدريبات في قواعد عسكرية في أقصى الشرق الروسي قبل نقلهم إلى الجبهة.",
        published=_utc(2024, 10, 18), source="BBC", category="world",
    ),
    Document(
        id="nk-sent-jazeera", title="جنود كوريون شماليون يتدربون في الشرق الروسي",
        body="أفادت الاستخبارات في سول بأن آلاف الجنود من كوريا الشمالية يتدربون في قواعد بالشرق الأقصى الروسي، "
        "وأن بيونغيانغ تستعد لإرسال المزيد منهم إلى روسيا. ونفت موسكو وبيونغيانغ هذه التقارير، "
        "فيما قال حلف الناتو إنه لا يستطيع تأكيدها بعد.",
        published=_utc(2024, 10, 21), source="Al Jazeera", category="world",
    ),
    Document(
        id="nk-sent-sky", title="البنتاغون: قوات كورية شمالية تتجه إلى كورسك",
        body="قال البنتاغون إن نحو ثلاثة آلاف جندي من كوريا الشمالية وصلوا إلى روسيا وإن بعضهم يتجه إلى "
        "منطقة كورسك الحدودية، حيث تشن القوات الأوكرانية هجوما بريا منذ أغسطس. وحذرت واشنطن من أن "
        "إشراك هذه القوات في القتال سيكون تصعيدا خطيرا.",
        published=_utc(2024, 10, 25), source="Sky News Arabia", category="world",
    ),
]

CASUALTIES = [
    Document(
        id="nk-killed-bbc", title="زيلينسكي: مقتل وإصابة جنود كوريين شماليين في كورسك",
        body="قال الرئيس الأوكراني فولوديمير زيلينسكي إن عددا من الجنود الكوريين الشماليين قتلوا أو أصيبوا "
        "في معارك منطقة كورسك، في أول اعتراف رسمي بخسائر بين صفوفهم. وأضاف أن روسيا تزج بهم في هجمات "
        "مباشرة على المواقع الأوكرانية.",
        published=_utc(2024, 12, 15), source="BBC", category="world",
    ),
    Document(
        id="nk-killed-france24", title="أوكرانيا تعلن سقوط قتلى من جنود بيونغيانغ في كورسك",
        body="أعلنت الاستخبارات العسكرية الأوكرانية أن ثلاثين جنديا كوريا شماليا على الأقل قتلوا أو جرحوا "
        "في هجمات على قرى منطقة كورسك خلال الأيام الماضية. وقال زيلينسكي إن الخسائر كبيرة وإن موسكو "
        "تحاول إخفاء وجود هؤلاء الجنود.",
        published=_utc(2024, 12, 16), source="France 24", category="world",
    ),
    Document(
        id="nk-killed-arabiya", title="خسائر في صفوف الجنود الكوريين الشماليين بكورسك",
        body="أكد مسؤول أمريكي أن مئات الجنود الكوريين الشماليين سقطوا بين قتيل وجريح في معارك منطقة كورسك، "
        "مشيرا إلى أن قلة خبرتهم القتالية جعلتهم هدفا سهلا للطائرات المسيرة الأوكرانية.",
        published=_utc(2024, 12, 18), source="Al Arabiya", category="world",
    ),
]

CAPTURED = [
    Document(
        id="nk-captured-cnn", title="أوكرانيا تأسر جنديين من كوريا الشمالية",
        body="أعلن الرئيس الأوكراني أن قواته أسرت جنديين من كوريا الشمالية في منطقة كورسك، ونشر صورا لهما "
        "وهما مصابان. وقال إنه مستعد لتسليمهما إلى بيونغيانغ في إطار تبادل للأسرى مع روسيا.",
        published=_utc(2025, 1, 11), source="CNN", category="world",
    ),
    Document(
        id="nk-captured-jazeera", title="أسيران كوريان شماليان في قبضة القوات الأوكرانية",
        body="قالت كييف إن الأسيرين الكوريين الشماليين يخضعان للتحقيق، وإن أحدهما قال إنه ظن أنه ذاهب إلى "
        "تدريب لا إلى حرب. ودعا زيلينسكي إلى مبادلتهما بأسرى أوكرانيين لدى روسيا.",
        published=_utc(2025, 1, 12), source="Al Jazeera", category="world",
    ),
]

SEED_DATE = _utc(2024, 10, 30)
"""The day of the seed article's events (Austin's call on the North to withdraw: 30 October 2024)."""


def story_documents(seed: Document) -> list[Document]:
    """The seed (dated), the three events and the unrelated news of ``tests.conftest.NEWS``."""
    return [replace(seed, published=SEED_DATE, source="AFP"), *SENT, *CASUALTIES, *CAPTURED, *NEWS]

"""Shared fixtures: a small hand-written Arabic news corpus and the seed article."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from archive.document import Document

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SHARED_DATA = ROOT.parent / "shared" / "data"
SEED_ID = "000_9ec23b553c2d35f7"


def _utc(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 12, 0, tzinfo=timezone.utc)


NEWS = [
    Document(
        id="sport-1", title="الهلال يفوز على النصر في ديربي الرياض",
        body="حقق فريق الهلال فوزا ثمينا على غريمه التقليدي النصر بهدفين مقابل هدف في مباراة "
        "الديربي التي أقيمت مساء الجمعة على ملعب المملكة أرينا ضمن الدوري السعودي للمحترفين.",
        published=_utc(2024, 3, 1), source="Sky News Arabia", category="sport",
        url="https://example.org/sport-1",
    ),
    Document(
        id="econ-1", title="ارتفاع أسعار النفط بعد قرار أوبك خفض الإنتاج",
        body="ارتفعت أسعار النفط في الأسواق العالمية بعد أن قررت منظمة أوبك وحلفاؤها خفض الإنتاج "
        "بمقدار مليون برميل يوميا، وسط مخاوف من تباطؤ الاقتصاد العالمي.",
        published=_utc(2024, 4, 10), source="BBC", category="economy",
        url="https://example.org/econ-1",
    ),
    Document(
        id="war-1", title="أوكرانيا تعلن صد هجوم روسي قرب خاركيف",
        body="أعلن الجيش الأوكراني أنه صد هجوما روسيا واسعا قرب مدينة خاركيف في شمال شرق البلاد، "
        "فيما قالت موسكو إن قواتها تقدمت في عدة قرى. وتتواصل الحرب بين روسيا وأوكرانيا منذ فبراير 2022.",
        published=_utc(2024, 5, 12), source="BBC", category="world",
        url="https://example.org/war-1",
    ),
    Document(
        id="korea-1", title="كوريا الشمالية تطلق صاروخا باليستيا باتجاه البحر",
        body="أطلقت كوريا الشمالية صاروخا باليستيا باتجاه بحر اليابان، بحسب ما أعلن الجيش الكوري "
        "الجنوبي، في أحدث تجربة صاروخية تجريها بيونغيانغ هذا العام.",
        published=_utc(2024, 9, 18), source="France 24", category="world",
        url="https://example.org/korea-1",
    ),
    Document(
        id="health-1", title="منظمة الصحة العالمية تحذر من موجة حر شديدة",
        body="حذرت منظمة الصحة العالمية من موجة حر شديدة تضرب عدة دول عربية هذا الصيف، ودعت "
        "السكان إلى شرب الماء وتجنب التعرض للشمس في ساعات الظهيرة.",
        published=_utc(2024, 7, 2), source="CNN", category="health",
        url="https://example.org/health-1",
    ),
    Document(
        id="tech-1", title="إطلاق قمر صناعي عربي لمراقبة المناخ",
        body="أطلقت الإمارات قمرا صناعيا جديدا لمراقبة المناخ والتغيرات البيئية في المنطقة، "
        "ويحمل القمر أجهزة استشعار متطورة لقياس درجات الحرارة والانبعاثات.",
        published=_utc(2023, 12, 5), source="Al Arabiya", category="science",
        url="https://example.org/tech-1",
    ),
]


@pytest.fixture(scope="session", autouse=True)
def user_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The per-user cache (:mod:`archive.encoders.usercache`) of every test and CLI subprocess: a temp dir."""
    root = tmp_path_factory.mktemp("user-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEWS_ARCHIVE_CACHE", str(root))
        yield root


@pytest.fixture(scope="session")
def seed_path() -> Path:
    return SEEDS / f"{SEED_ID}.txt"


@pytest.fixture(scope="session")
def seed_document(seed_path: Path) -> Document:
    from archive.files.readers import read_file

    (doc,) = list(read_file(seed_path))
    return doc


@pytest.fixture(scope="session")
def news() -> list[Document]:
    return list(NEWS)


@pytest.fixture(scope="session")
def shared_news() -> list[Document]:
    """At least 50 real Arabic articles from SaudiNewsNet in ../shared/data (skips when absent)."""
    zips = sorted((SHARED_DATA / "saudinewsnet").glob("*.zip"))
    if not zips:
        pytest.skip(f"shared data not found at {SHARED_DATA}/saudinewsnet (needed for the 50-article corpus)")
    from archive.files.readers import read_file

    docs = []
    for doc in read_file(zips[0]):
        if len(doc.body.split()) >= 80:
            docs.append(doc)
        if len(docs) == 60:
            break
    assert len(docs) == 60
    return docs

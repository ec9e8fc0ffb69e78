"""Relevance feedback as it was tried for issue 24 (RM3 on the words, Rocchio on the vectors), on a small
Arabic corpus: the replay in scripts/fusion_cv.py draws its expansion from the default's top articles.
Neither is in the library (neither won leave-one-set-out: docs/evaluation.md); these tests keep the
measurement's machinery honest, and so do the last two for two of scripts/fusion_rules.py's rules."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from archive import Archive, Document

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import fusion_cv  # noqa: E402

QUAKE = [
    "ضرب زلزال بقوة ست درجات على مقياس ريختر ولاية ملاطية شرق تركيا وأعلن الهلال الأحمر التركي إرسال فرق الإنقاذ",
    "ارتفع عدد المصابين في زلزال ملاطية إلى أكثر من مئة شخص وفق إدارة الكوارث والطوارئ التركية وفرق الإنقاذ",
    "الهلال الأحمر التركي يوزع الخيام على سكان ملاطية بعد الزلزال الذي بلغت قوته ست درجات على مقياس ريختر",
    "فرق الإنقاذ تواصل البحث تحت الأنقاض في ملاطية بعد زلزال الليلة الماضية وإدارة الكوارث تحصي الأضرار",
]
TREMOR = ("هزة أرضية جديدة بقوة أربع درجات على مقياس ريختر تضرب ملاطية ولا أنباء عن ضحايا حسب إدارة الكوارث "
          "والطوارئ")
"""About the same events without the query's word (هزة, not زلزال): only the feedback's words find it."""
OTHER = [
    "تراجعت الليرة التركية أمام الدولار في تعاملات اليوم وسط مخاوف المستثمرين من ارتفاع التضخم",
    "البنك المركزي التركي يرفع سعر الفائدة لوقف تراجع الليرة أمام العملات الأجنبية",
    "فاز ريال مدريد على برشلونة بهدفين مقابل هدف في مباراة الكلاسيكو على ملعب سانتياغو برنابيو",
    "منتخب فرنسا يتوج بكأس العالم بعد فوزه على كرواتيا في المباراة النهائية في موسكو",
    "ارتفعت أسعار النفط في الأسواق العالمية بعد قرار منظمة أوبك خفض الإنتاج",
    "أعلنت وزارة الصحة عن حملة تطعيم جديدة ضد الحصبة في المدارس الابتدائية",
]


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> fusion_cv.QueryDump:
    root = tmp_path_factory.mktemp("feedback") / "index"
    when = datetime(2018, 4, 5, 8, tzinfo=timezone.utc)
    texts = {**{f"quake-{i}": t for i, t in enumerate(QUAKE)}, "tremor": TREMOR,
             **{f"other-{i}": t for i, t in enumerate(OTHER)}}
    docs = [Document(id=i, title=t.split(" ", 6)[-1][:40], body=t, published=when) for i, t in texts.items()]
    Archive.build(docs, root, encoder="hashing", procs=1).close()
    with Archive.open(root) as archive:
        (q,) = fusion_cv.dump_queries(archive, [("t1", "keyword", "زلزال")])
    return q


def test_rm3_expansion_reaches_a_report_without_the_query_word(dump: fusion_cv.QueryDump) -> None:
    """The expansion terms come from the top articles about the quake (ملاطية, ريختر, الإنقاذ ...): they
    score the tremor report, which lacks the query's word, and no article about the lira or football."""
    q = dump
    assert "tremor" not in q.lexical_top  # the words alone do not find it
    assert q.rm3.shape == (len(q.ids), len(q.rm3_weight)) and len(q.rm3_weight) > 0
    expanded = dict(zip(q.ids, q.rm3 @ q.rm3_weight))
    assert "tremor" in expanded and expanded["tremor"] > 0
    others = [expanded.get(f"other-{i}", 0.0) for i in range(len(OTHER))]
    assert expanded["tremor"] > max(others)
    assert min(expanded[f"quake-{i}"] for i in range(len(QUAKE))) > max(others)


def test_rocchio_moves_the_query_towards_its_feedback_articles(dump: fusion_cv.QueryDump) -> None:
    """The query vector moved towards the best passages of the default's top articles is closer to them,
    the more so the larger the step."""
    q = dump
    quake = np.isin(q.ids, [f"quake-{i}" for i in range(len(QUAKE))])
    for k in (3, 5):
        small, large = q.rocchio[(k, 0.5)], q.rocchio[(k, 1.0)]
        assert (small[quake] > q.cos[quake]).sum() >= 3
        assert large[quake].mean() > small[quake].mean() > q.cos[quake].mean()


def test_the_meaning_sides_first_article_is_kept_in_the_top_ranks(dump: fusion_cv.QueryDump) -> None:
    """scripts/fusion_rules.py's "keep the meaning side's first in the top ten" replay (here the top
    two, the corpus being small): an article the fused scores put below them is moved to the slot
    asked for, and the other articles shown keep their order."""
    import fusion_rules

    q = dump
    sel = q.base.copy()
    idx = np.flatnonzero(sel)
    shown = [i for i in range(len(idx)) if q.shown[idx[i]]]
    first = min(shown, key=lambda i: q.dense_rank[idx[i]])
    scores = q.dense_rank[idx].astype(float)  # the meaning side's order reversed: its first article last
    assert len(shown) >= 3 and max(shown, key=lambda i: scores[i]) != first
    assert min(shown, key=lambda i: scores[i]) == first

    def ranked(values: np.ndarray) -> list[str]:
        return [q.ids[idx[i]] for i in sorted(shown, key=lambda i: -values[i])]

    moved = ranked(fusion_rules.protected(q, sel, scores, 1, 1, top=2))
    assert moved[1] == q.ids[idx[first]]
    assert [d for d in moved if d != q.ids[idx[first]]] == [d for d in ranked(scores) if d != q.ids[idx[first]]]


def test_a_capped_lexical_part_never_passes_the_meaning_side_by_more_than_the_cap(
        dump: fusion_cv.QueryDump) -> None:
    """scripts/fusion_rules.py's "lexical part capped by meaning": with the weight all on the words, each
    candidate's fused score is at most its meaning z-score plus the cap, and candidates the meaning
    side ranks high keep their lexical score."""
    import fusion_rules

    q = dump
    sel = q.base.copy()
    meaning = fusion_cv._z(q.cos[sel])  # noqa: SLF001
    lexical = 0.2 * fusion_cv._z(q.word[sel]) + 0.8 * fusion_cv._z(q.grams[sel])  # noqa: SLF001
    capped = fusion_rules.shaped(q, sel, 0.999, 0.8, {"cap": 0.2})
    assert np.all(capped <= 0.999 * (meaning + 0.2) + 0.001 * meaning + 1e-9)
    assert np.any(lexical > meaning + 0.2)  # the cap binds somewhere, or the test says nothing
    free = lexical <= meaning + 0.2
    assert np.allclose(capped[free], 0.999 * lexical[free] + 0.001 * meaning[free])

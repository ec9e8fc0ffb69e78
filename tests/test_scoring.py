"""Scoring settings: BM25F proper on a two-field example computed by hand, and settings at query time."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from archive import Archive, Document
from archive.index.scoring import DEFAULT_SCORING, Scoring, ScoringError
from archive.index.terms import TermIndex, TermIndexBuilder

# "oil" in the title and twice in the body of one article, once in the body of another.
DOCS = [
    Document(id="a", title="النفط", body="النفط النفط سعر"),
    Document(id="b", title="سعر", body="النفط"),
    Document(id="c", title="الذهب", body="الذهب"),
]
OIL = [("title", "نفط"), ("body", "نفط")]


@pytest.fixture
def index(tmp_path: Path) -> TermIndex:
    builder = TermIndexBuilder()
    for doc in DOCS:
        builder.add(doc)
    builder.write(tmp_path / "terms")
    return TermIndex(tmp_path / "terms")


def test_bm25f_weights_and_normalizes_each_field_then_saturates_once(index: TermIndex) -> None:
    scoring = Scoring(k1=1.2, b=0.75, title_b=0.5, title_weight=3.0, combine="bm25f")
    # Titles are one word each (average 1); bodies 3, 1, 1 words (average 5/3).
    # a: title 3 * 1 / (0.5 + 0.5 * 1/1) = 3; body 2 / (0.25 + 0.75 * 3 / (5/3)) = 2 / 1.6 = 1.25
    # b: body 1 / (0.25 + 0.75 * 1 / (5/3)) = 1 / 0.7
    # one idf over the articles holding the term in either field (a and b): ln(3 / 3) + 1 = 1
    tf_a, tf_b = 3 + 1.25, 1 / 0.7
    expected = [tf * 2.2 / (tf + 1.2) for tf in (tf_a, tf_b)]
    assert index.scores(OIL, np.array([0, 1, 2]), scoring=scoring) == pytest.approx([*expected, 0.0])
    assert expected[0] == pytest.approx(1.7155963)
    # saturated once: however often the term occurs in both fields, at most idf * (k1 + 1)
    assert max(expected) < 2.2


def test_sum_of_fields_saturates_a_term_in_title_and_body_twice(index: TermIndex) -> None:
    scoring = Scoring(k1=1.2, b=0.75, title_b=0.5, title_weight=3.0, combine="sum")
    # a: title idf ln(3 / 2) + 1, tf 3, norm 1.2 * 1; body idf 1, tf 2, norm 1.2 * 1.6
    title = (math.log(3 / 2) + 1) * 3 * 2.2 / (3 + 1.2)
    body = 2 * 2.2 / (2 + 1.2 * 1.6)
    [score] = index.scores(OIL, np.array([0]), scoring=scoring)
    assert score == pytest.approx(title + body)
    assert score > 2.2  # above what one saturation allows


def test_ranking_follows_the_setting_of_the_archive_handle(tmp_path: Path) -> None:
    docs = [
        Document(id="title-hit", title="أسعار النفط", body="تقرير عن الأسواق العالمية اليوم وحركة التداول فيها"),
        Document(id="body-hit", title="تقرير الأسواق", body="أسعار النفط ترتفع وأسعار النفط تقود الأسواق"),
        Document(id="other", title="الذهب", body="الذهب يستقر"),
    ]
    archive = Archive.build(docs, tmp_path / "index", encoder=None, procs=1)
    assert archive.scoring == DEFAULT_SCORING
    archive.scoring = Scoring(title_weight=8.0, combine="bm25f")
    assert archive.search("أسعار النفط", mode="lexical")[0].id == "title-hit"
    archive.scoring = Scoring(title_weight=0.1, combine="bm25f")
    assert archive.search("أسعار النفط", mode="lexical")[0].id == "body-hit"
    archive.close()


def test_settings_parse_from_text_and_bad_ones_name_the_setting() -> None:
    assert DEFAULT_SCORING.with_options("k1=1.2, combine=bm25f,depth=200") == Scoring(k1=1.2, combine="bm25f", depth=200)
    with pytest.raises(ScoringError, match="combine 'max'"):
        DEFAULT_SCORING.with_options("combine=max")
    with pytest.raises(ScoringError, match="'kone=1'"):
        DEFAULT_SCORING.with_options("kone=1")
    with pytest.raises(ScoringError, match="b must be between 0 and 1"):
        Scoring(b=1.5)


def test_the_hybrid_word_signal_sums_the_fields_while_lexical_mode_uses_bm25f(tmp_path: Path) -> None:
    from archive.search.query import parse_query

    archive = Archive.build(DOCS, tmp_path / "index", encoder=None, procs=1)
    lexical = archive._searcher.lexical  # noqa: SLF001 - the ranker's two uses of the word scores
    match = lexical.match(parse_query("النفط", lexical.schema).query)
    alone, _ = lexical.rank(match, 3)
    fused, _ = lexical.rank(match, 3, hybrid=True)
    assert DEFAULT_SCORING.combine == "bm25f" and DEFAULT_SCORING.hybrid_combine == "sum"
    # article a holds the term in title and body: one saturation alone, two in the hybrid's column
    assert alone[0][0] == fused[0][0] == 0
    assert alone[0][1] < DEFAULT_SCORING.k1 + 1 < fused[0][1]
    archive.close()


class _TopicEncoder:
    """Meaning by topic: crude-oil and energy texts point one way, every other text another; the
    query "oil prices" points near the energy texts (what a real encoder does with a paraphrase)."""

    name = "topic/1"
    dim = 3

    def encode_queries(self, texts):
        from archive.encoders.base import l2_normalize

        return l2_normalize(np.asarray([[1.0, 0.4, 0.1] for _ in texts], dtype=np.float32).reshape(-1, 3))

    def encode_passages(self, texts):
        from archive.encoders.base import l2_normalize

        rows = [[1.0, 0.1, 0.0] if ("الخام" in t or "الطاقة" in t) else [0.0, 1.0, 0.3] for t in texts]
        return l2_normalize(np.asarray(rows, dtype=np.float32).reshape(-1, 3))


NEWS = [
    Document(id="headline", title="أسعار النفط في السوق السعودية",
             body="قالت شركة أرامكو إنها رفعت أسعار النفط للمشترين في آسيا للشهر المقبل"),
    Document(id="meaning", title="تراجع الخام الأمريكي",
             body="هبط الخام الأمريكي في تعاملات اليوم مع ارتفاع المخزونات وتباطؤ الطلب على الطاقة والنفط"),
    Document(id="gold", title="الذهب يرتفع", body="ارتفع سعر الذهب في البورصة مع تراجع الدولار"),
    Document(id="league", title="الهلال يفوز", body="فاز الهلال على النصر في مباراة الدوري"),
    Document(id="rain", title="أمطار على جدة", body="هطلت أمطار غزيرة على جدة وارتفعت أسعار الخضار"),
]


def test_a_query_whose_words_make_a_headline_leans_on_the_words_in_hybrid(tmp_path: Path) -> None:
    archive = Archive.build(NEWS, tmp_path / "index", encoder=_TopicEncoder(), procs=1)
    assert DEFAULT_SCORING.title_evidence > 0
    # the dense side prefers the crude-oil report; the words, the article titled with them
    assert archive.search("أسعار النفط", mode="semantic")[0].id == "meaning"
    assert archive.search("أسعار النفط", mode="lexical")[0].id == "headline"
    assert archive.search("أسعار النفط", mode="hybrid")[0].id == "headline"
    archive.scoring = DEFAULT_SCORING.with_options("title_evidence=0")  # one weight for every query
    assert archive.search("أسعار النفط", mode="hybrid")[0].id == "meaning"
    archive.close()


def test_title_evidence_leaves_articles_without_titles_to_the_fixed_weights(tmp_path: Path) -> None:
    untitled = [Document(id=d.id, body=f"{d.title} {d.body}") for d in NEWS]
    archive = Archive.build(untitled, tmp_path / "index", encoder=_TopicEncoder(), procs=1)
    ranked = [(h.id, h.score) for h in archive.search("أسعار النفط", mode="hybrid")]
    archive.scoring = DEFAULT_SCORING.with_options("title_evidence=0")
    assert [(h.id, h.score) for h in archive.search("أسعار النفط", mode="hybrid")] == ranked
    archive.close()

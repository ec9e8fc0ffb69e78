"""Hybrid weights that read the query (archive.search.adaptive): the rule, and what it does to rankings."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive import Archive, Document
from archive.index.scoring import DEFAULT_SCORING, ScoringError
from archive.search.adaptive import Evidence, Weights, is_latin, signal_weights

from .test_scoring import NEWS as SCORING_NEWS
from .test_scoring import _TopicEncoder  # one topic encoder for the title and the fusion tests


@pytest.mark.parametrize("query", ["Khashoggi", "Cambridge Analytica", "Windows 10 release", "Skripal?"])
def test_queries_in_latin_letters_are_recognized(query: str) -> None:
    assert is_latin(query)


@pytest.mark.parametrize("query", [
    "العقوبات الأمريكية على إيران", "ترمب", "iPhone ابل",  # Arabic, or Arabic with a Latin word
    "2018", "", "   ", "Путин",  # no letter at all, or another script
])
def test_arabic_and_letterless_queries_are_not_latin(query: str) -> None:
    assert not is_latin(query)


def _sums_to_one(w: Weights) -> bool:
    return abs(sum(w.as_list()) - 1.0) < 1e-12 and min(w.as_list()) >= 0.0


def test_a_headline_of_the_querys_words_leans_on_the_words() -> None:
    # an exact, rare name every word of which stands in a title: the words weigh more than at rest
    named = signal_weights(0.5, Evidence(title=1.0, latin=False), DEFAULT_SCORING)
    plain = signal_weights(0.5, Evidence(title=0.0, latin=False), DEFAULT_SCORING)
    assert _sums_to_one(named) and _sums_to_one(plain)
    assert named.words + named.grams == pytest.approx(0.5 + DEFAULT_SCORING.title_evidence * 0.5)
    assert named.meaning < plain.meaning == pytest.approx(0.5)
    assert named.grams / (named.words + named.grams) == pytest.approx(DEFAULT_SCORING.gram_share)


def test_a_sharper_title_evidence_counts_full_headlines_more_than_partial_ones() -> None:
    sharp = DEFAULT_SCORING.with_options("title_evidence=0.7,title_evidence_power=2")
    full = signal_weights(0.5, Evidence(title=1.0, latin=False), sharp)
    half = signal_weights(0.5, Evidence(title=0.5, latin=False), sharp)
    assert full.meaning == pytest.approx(1 - (0.5 + 0.7 * 0.5))
    assert half.meaning == pytest.approx(1 - (0.5 + 0.7 * 0.5 * 0.25))
    linear = signal_weights(0.5, Evidence(title=0.5, latin=False), DEFAULT_SCORING)
    assert half.meaning > linear.meaning  # a half-covering headline moves less than at the default
    with pytest.raises(ScoringError, match="title_evidence_power"):
        DEFAULT_SCORING.with_options("title_evidence_power=0")


def test_a_query_in_latin_letters_leaves_meaning_alone() -> None:
    # an English name over Arabic news: even a title holding the word does not bring the words back
    assert signal_weights(0.5, Evidence(title=1.0, latin=True), DEFAULT_SCORING) == Weights(0.0, 0.0, 1.0)
    fixed = signal_weights(0.5, Evidence(title=0.0, latin=True), DEFAULT_SCORING.with_options("adaptive=false"))
    assert fixed.meaning == pytest.approx(0.5) and _sums_to_one(fixed)


def test_bad_evidence_and_weights_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="evidence title"):
        Evidence(title=1.5, latin=False)
    with pytest.raises(ValueError, match="alpha"):
        signal_weights(1.2, Evidence(title=0.0, latin=False), DEFAULT_SCORING)
    with pytest.raises(ScoringError, match="true or false"):
        DEFAULT_SCORING.with_options("adaptive=maybe")
    assert DEFAULT_SCORING.with_options("adaptive=off").adaptive is False
    assert DEFAULT_SCORING.with_options("adaptive=true").adaptive is True


# The title tests' news, the gold report naming a firm in Latin letters (its grams meet "Khashoggi"'s).
NEWS = [Document(id="stocks", title=d.title, body=f"{d.body} وفق Khan Capital") if d.id == "gold" else d
        for d in SCORING_NEWS]


@pytest.fixture
def archive(tmp_path: Path):
    archive = Archive.build(NEWS, tmp_path / "index", encoder=_TopicEncoder(), procs=1)
    yield archive
    archive.close()


def test_an_english_query_no_article_holds_ranks_as_meaning_does(archive: Archive) -> None:
    # "Khashoggi" is in no article; its character grams (#kh, kha) meet only "Khan" in the stocks report
    semantic = [h.id for h in archive.search("Khashoggi", mode="semantic")]
    assert [h.id for h in archive.search("Khashoggi", mode="hybrid")] == semantic
    archive.scoring = DEFAULT_SCORING.with_options("adaptive=false")  # the grams' noise lifts the stocks report
    fixed = [h.id for h in archive.search("Khashoggi", mode="hybrid")]
    assert fixed != semantic and fixed.index("stocks") < semantic.index("stocks")


def test_an_arabic_query_keeps_its_words_and_grams(archive: Archive) -> None:
    # the words make a headline: the hybrid follows them, with or without the query-reading rule
    assert archive.search("أسعار النفط", mode="semantic")[0].id == "meaning"
    assert archive.search("أسعار النفط", mode="hybrid")[0].id == "headline"
    ranked = [(h.id, h.score) for h in archive.search("أسعار النفط", mode="hybrid")]
    archive.scoring = DEFAULT_SCORING.with_options("adaptive=false")
    assert [(h.id, h.score) for h in archive.search("أسعار النفط", mode="hybrid")] == ranked


def test_headlines_holding_every_query_word_rank_by_the_words_alone() -> None:
    # half the word side's first candidates are headlines made of the query's words: the words alone rank
    alone = signal_weights(0.5, Evidence(title=1.0, latin=False, title_depth=0.5), DEFAULT_SCORING)
    assert alone == Weights(1.0, 0.0, 0.0, lexical_words=True)
    # fewer such headlines, or the rule off: the title-evidence weights, the word signal as the hybrid scores it
    fewer = signal_weights(0.5, Evidence(title=1.0, latin=False, title_depth=0.4), DEFAULT_SCORING)
    off = signal_weights(0.5, Evidence(title=1.0, latin=False, title_depth=1.0),
                         DEFAULT_SCORING.with_options("words_alone=0"))
    assert fewer == off and not off.lexical_words and _sums_to_one(off)
    assert off.meaning == pytest.approx(1 - (0.5 + DEFAULT_SCORING.title_evidence * 0.5))
    # a query in Latin letters still goes to meaning, however many titles hold it
    assert signal_weights(0.5, Evidence(title=1.0, latin=True, title_depth=1.0), DEFAULT_SCORING) == Weights(0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="evidence title_depth"):
        Evidence(title=1.0, latin=False, title_depth=1.5)
    with pytest.raises(ScoringError, match="words_alone"):
        DEFAULT_SCORING.with_options("words_alone=1.5")


OIL_HEADLINES = [
    Document(id="h1", title="أسعار النفط ترتفع", body="ارتفعت أسعار النفط اليوم وقال متعاملون إن أسعار النفط تلقى دعما"),
    Document(id="h2", title="أسعار النفط في آسيا",
             body="رفعت أرامكو أسعار النفط للمشترين في آسيا وسط توقعات بتحسن الطلب على الخام والطاقة في الصين والهند"),
    Document(id="h3", title="أسعار النفط تتراجع", body="تراجعت أسعار النفط مع صعود الدولار"),
    Document(id="h4", title="أسعار النفط والموازنة",
             body="قال وزير المالية إن الموازنة بنيت على أسعار النفط الحالية وإن قطاع الطاقة يموّل نصف الإنفاق"),
    Document(id="h5", title="أسعار النفط بعد اجتماع أوبك", body="استقرت أسعار النفط بعد اجتماع أوبك في فيينا"),
    Document(id="h6", title="مستقبل أسعار النفط", body="يتوقع محللون أن تبقى أسعار النفط قرب مستواها الحالي"),
    Document(id="m1", title="الخام الأمريكي يهبط", body="هبط الخام الأمريكي مع ارتفاع المخزونات وتباطؤ الطلب على الطاقة"),
    Document(id="m2", title="صادرات الخام", body="زادت صادرات الخام من موانئ الخليج الشهر الماضي وفق بيانات الطاقة"),
    Document(id="x1", title="الهلال يفوز", body="فاز الهلال على النصر في مباراة الدوري"),
    Document(id="x2", title="أمطار على جدة", body="هطلت أمطار غزيرة على جدة وارتفعت أسعار الخضار"),
]


def test_a_keyword_topic_of_many_headlines_ranks_as_lexical_mode_does(tmp_path: Path) -> None:
    # six of the word side's candidates carry "أسعار النفط" in their titles: the hybrid lists them in
    # lexical mode's order, and the reports on crude that never name "أسعار النفط" come after them
    archive = Archive.build(OIL_HEADLINES, tmp_path / "index", encoder=_TopicEncoder(), procs=1)
    try:
        lexical = [h.id for h in archive.search("أسعار النفط", mode="lexical", k=20)]
        assert set(lexical[:6]) == {"h1", "h2", "h3", "h4", "h5", "h6"}
        hybrid = [h.id for h in archive.search("أسعار النفط", mode="hybrid", k=20)]
        assert hybrid[:6] == lexical[:6]
        assert {"m1", "m2"} <= set(hybrid[6:])  # near by meaning, found, below every headline
        archive.scoring = DEFAULT_SCORING.with_options("words_alone=0")  # meaning reorders the headlines
        fused = [h.id for h in archive.search("أسعار النفط", mode="hybrid", k=20)]
        assert fused[:6] != lexical[:6]
    finally:
        archive.close()

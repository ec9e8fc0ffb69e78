"""Sentence-aware passages: size, overlap, offsets, nothing lost, bounded cost."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.text.passages import Passage, split_passages

PARAGRAPHS = [
    [
        "أعلنت وزارة الدفاع الروسية صباح الخميس أن قواتها صدت هجوما أوكرانيا واسعا في منطقة كورسك الحدودية.",
        "وقال المتحدث باسم الوزارة في مؤتمر صحفي إن الهجوم شاركت فيه عشرات المدرعات والطائرات المسيرة.",
        "وأضاف أن القوات الروسية دمرت أكثر من عشرين دبابة وقتلت مئات الجنود خلال الساعات الماضية.",
        "في المقابل، قال مسؤولون في كييف إن القوات الأوكرانية ما زالت تسيطر على عدة بلدات في المنطقة؟",
    ],
    [
        "ودعا الأمين العام للأمم المتحدة أنطونيو غوتيريش إلى وقف فوري لإطلاق النار وحماية المدنيين؛",
        "كما طالب الطرفين بفتح ممرات إنسانية آمنة لإجلاء السكان من المناطق التي تشهد قتالا عنيفا!",
        "وتشير تقديرات المنظمات الإغاثية إلى نزوح أكثر من مئة ألف شخص منذ بداية العمليات العسكرية۔",
    ],
    [
        "من جهة أخرى، ارتفعت أسعار القمح في الأسواق العالمية بنسبة 3.5 في المئة بسبب المخاوف من تعطل الصادرات.",
        "ويرى محللون أن استمرار القتال قد يدفع الأسعار إلى مستويات قياسية خلال الأشهر المقبلة.",
        "وتعد روسيا وأوكرانيا من أكبر مصدري الحبوب في العالم، إذ تمثلان نحو ثلث الصادرات العالمية من القمح.",
    ],
]
SENTENCES = [s for paragraph in PARAGRAPHS for s in paragraph]
ARTICLE = "\n\n".join(" ".join(paragraph) for paragraph in PARAGRAPHS)
WORDS_PER_SENTENCE = [len(s.split()) for s in SENTENCES]


def _check_spans(text: str, passages: list[Passage], max_words: int) -> None:
    """Offsets map back, passages are bounded, in order, and together cover every word."""
    covered = [False] * len(text)
    for p in passages:
        assert text[p.start : p.end] == p.text
        assert p.text == p.text.strip() and p.text
        assert len(p.text.split()) <= max_words
        covered[p.start : p.end] = [True] * (p.end - p.start)
    for m in re.finditer(r"\S+", text):
        assert all(covered[m.start() : m.end()]), f"word {m.group()!r} at {m.start()} is in no passage"
    for before, after in zip(passages, passages[1:]):
        assert before.start < after.start and before.end < after.end


def test_sentences_are_whole_bounded_and_overlapping() -> None:
    assert max(WORDS_PER_SENTENCE) < 20 < sum(WORDS_PER_SENTENCE)
    passages = split_passages(ARTICLE, max_words=40, overlap_words=16)
    assert len(passages) >= 4
    _check_spans(ARTICLE, passages, 40)
    for sentence in SENTENCES:  # no sentence is lost, and none is cut (all are shorter than max_words)
        assert any(sentence in p.text for p in passages), sentence
    for p in passages:
        assert any(p.text.startswith(s) for s in SENTENCES)  # starts at a sentence
        assert any(p.text.endswith(s) for s in SENTENCES)  # ends at one
    for before, after in zip(passages, passages[1:]):
        shared = ARTICLE[after.start : before.end]
        assert after.start < before.end, "consecutive passages overlap"
        assert 0 < len(shared.split()) <= 2 * 16


def test_overlap_is_made_of_whole_sentences_when_they_fit() -> None:
    passages = split_passages(ARTICLE, max_words=60, overlap_words=20)
    assert len(passages) >= 3
    for before, after in zip(passages, passages[1:]):
        assert ARTICLE[after.start : before.end] in SENTENCES  # each sentence has 14 to 18 words


def test_short_and_blank_texts() -> None:
    assert split_passages("") == []
    assert split_passages("   \n\t ") == []
    (only,) = split_passages("  خبر قصير عن كورسك.  ")
    assert only == Passage("خبر قصير عن كورسك.", 2, 20)


def test_article_shorter_than_max_words_is_one_passage() -> None:
    assert len(ARTICLE.split()) == 156
    (whole,) = split_passages(ARTICLE, max_words=156)
    assert whole == Passage(ARTICLE, 0, len(ARTICLE))
    assert len(split_passages(ARTICLE, max_words=155)) == 2


def test_sentence_ends() -> None:
    text = "هل انتهى الاجتماع؟ نعم؛ انتهى۔ وقال: «لا تعليق». الفائدة 3.5 بالمئة\nعنوان بلا نقطة\nسطر آخر"
    passages = split_passages(text, max_words=4, overlap_words=0)
    assert [p.text for p in passages] == [
        "هل انتهى الاجتماع؟ نعم؛",  # ؟ and ؛ end sentences; packed while they fit
        "انتهى۔ وقال: «لا تعليق».",  # ۔ ends one; a stop after a closing quote ends one
        "الفائدة 3.5 بالمئة",  # a decimal point is no sentence end; a line break is
        "عنوان بلا نقطة",
        "سطر آخر",
    ]


def test_long_sentence_is_cut_at_words_with_overlap() -> None:
    words = [f"كلمة{i}" for i in range(300)]
    text = " ".join(words) + "."
    assert [len(p.text.split()) for p in split_passages(text, max_words=120, overlap_words=0)] == [120, 120, 60]
    passages = split_passages(text, max_words=120, overlap_words=30)
    _check_spans(text, passages, 120)
    assert [p.text.split()[0] for p in passages] == ["كلمة0", "كلمة90", "كلمة180"]
    assert passages[-1].text.endswith("كلمة299.")


def test_passage_before_a_long_sentence_is_filled() -> None:
    text = "جملة قصيرة أولى. " + " ".join(["كلمة"] * 50) + "."
    first, *_ = split_passages(text, max_words=20, overlap_words=5)
    assert first.text.startswith("جملة قصيرة أولى.") and len(first.text.split()) == 20


def test_no_overlap_when_asked_for_none() -> None:
    passages = split_passages(ARTICLE, max_words=40, overlap_words=0)
    _check_spans(ARTICLE, passages, 40)
    for before, after in zip(passages, passages[1:]):
        assert after.start > before.end
    assert sum(len(p.text.split()) for p in passages) == len(ARTICLE.split())


def test_huge_document_keeps_its_first_passages_quickly() -> None:
    huge = (ARTICLE + "\n") * 40_000  # about 5 MB
    assert len(huge) > 4_000_000
    started = time.perf_counter()
    passages = split_passages(huge, max_passages=64)
    assert time.perf_counter() - started < 2.0  # measured ~25 ms: only the needed words are read
    assert len(passages) == 64
    assert passages == split_passages(huge, max_passages=200)[:64]  # the cap changes nothing before it
    assert passages[0].start == 0


@pytest.mark.parametrize(
    "kwargs", [{"max_words": 0}, {"overlap_words": -1}, {"max_words": 10, "overlap_words": 10}, {"max_passages": 0}]
)
def test_bad_settings(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        split_passages(ARTICLE, **kwargs)


_TOKENS = st.sampled_from(["خبر", "عاجل", "كورسك", "3.5", "«قال»", "؟", ".", "كلمة.", "سؤال؟", "فاصلة،", "نهاية؛"])
_SPACES = st.sampled_from([" ", " ", " ", "  ", "\n", "\n\n", "\t"])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(_TOKENS, _SPACES), max_size=120),
    st.integers(1, 25),
    st.integers(0, 24),
    st.integers(1, 8),
)
def test_properties_on_any_text(pieces: list[tuple[str, str]], max_words: int, overlap: int, cap: int) -> None:
    text = "".join(word + space for word, space in pieces)
    overlap = min(overlap, max_words - 1)
    passages = split_passages(text, max_words=max_words, overlap_words=overlap, max_passages=cap)
    if not text.strip():
        assert passages == []
        return
    assert 1 <= len(passages) <= cap
    if len(passages) < cap:
        _check_spans(text, passages, max_words)
    else:
        assert passages == split_passages(text, max_words=max_words, overlap_words=overlap, max_passages=cap + 5)[:cap]

"""Snippets: the window with the most query words, marked, cut on word boundaries."""

from __future__ import annotations

from archive.text.analysis import terms
from archive.search.snippets import make_snippet

FILLER = "وقال المتحدث إن الاجتماع ناقش عدة ملفات اقتصادية وسياسية مهمة. " * 12
TEXT = FILLER + "وأكد البنتاغون نشر القوات الكورية الشمالية في منطقة كورسك الروسية. " + FILLER


def test_window_holds_the_matches_and_marks_them() -> None:
    snippet = make_snippet(TEXT, frozenset(terms("قوات كورية كورسك")))
    marked = [snippet.text[s:e] for s, e in snippet.marks]
    assert marked == ["القوات", "الكورية", "كورسك"]
    assert snippet.text.startswith("… ") and snippet.text.endswith(" …")
    assert len(snippet.text) <= 260
    assert "«القوات» «الكورية»" in snippet.marked()


def test_no_word_is_cut() -> None:
    snippet = make_snippet(TEXT, frozenset(terms("كورسك")))
    words = set(TEXT.split())
    inner = snippet.text.strip("… ").split()
    assert all(w in words for w in inner)


def test_no_match_gives_the_start_and_short_text_whole() -> None:
    snippet = make_snippet(TEXT, frozenset(terms("برشلونة")))
    assert snippet.marks == () and TEXT.startswith(snippet.text.removesuffix(" …"))
    short = make_snippet("خبر قصير عن كورسك", frozenset(terms("كورسك")))
    assert short.text == "خبر قصير عن كورسك" and short.marked() == "خبر قصير عن «كورسك»"


def test_giant_word_does_not_blow_up_the_snippet() -> None:
    snippet = make_snippet("ا" * 100_000, frozenset(terms("كورسك")))
    assert len(snippet.text) <= 300


def test_giant_word_around_a_match_is_cut() -> None:
    text = "ب" * 50_000 + " كورسك " + "ج" * 50_000
    snippet = make_snippet(text, frozenset(terms("كورسك")))
    assert len(snippet.text) <= 300

"""Lexical analysis: tokenizing, stop words, the light stemmer."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.text.analysis import STOPWORDS, char_grams, iter_terms, stem, terms, word_grams


def test_mission_query_meets_the_article_wording() -> None:
    query = set(terms("قوات كورية في كورسك"))
    article = set(terms("القوات الكورية الشمالية في منطقة كورسك"))
    assert {"قو", "كور", "كورسك"} <= query & article


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("الكتاب", "كتاب"),  # ال
        ("والكتاب", "كتاب"),  # وال
        ("بالمدرسه", "مدرس"),  # بال, then ه
        ("كالبحر", "بحر"),  # كال
        ("فالامر", "امر"),  # فال
        ("للطلاب", "طلاب"),  # لل
        ("وقال", "قال"),  # و with a 3-letter remainder
        ("ولد", "ولد"),  # و not stripped: the remainder would be 2 letters
        ("مدرستها", "مدرست"),  # ها
        ("معلمات", "معلم"),  # ات
        ("لاعبون", "لاعب"),  # ون
        ("لاعبين", "لاعب"),  # ين
        ("السياسيه", "سياس"),  # ال + يه
        ("قوات", "قو"),  # ات leaves two letters
        ("ات", "ات"),  # too short to strip
    ],
)
def test_stem(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_stop_words_removed_but_news_words_kept() -> None:
    assert terms("في من على إلى عن هذا الذي") == []
    assert "في" in STOPWORDS and "علي" in STOPWORDS
    assert terms("شمال سوريا") == ["شمال", "سوريا"]
    assert terms("أوبك وفيما") == ["اوبك"]  # OPEC is not "or + with you"


def test_latin_and_numbers_pass_through_lowercased() -> None:
    assert terms("NATO و Kursk ٢٠٢٤") == ["nato", "kursk", "2024"]


def test_offsets_point_into_the_raw_text() -> None:
    text = "وأعلنت القُوّات الكورية"
    spans = [(t, text[s:e]) for t, s, e in iter_terms(text)]
    assert spans == [("اعلنت", "وأعلنت"), ("قو", "القُوّات"), ("كور", "الكورية")]


def test_diacritics_do_not_split_words() -> None:
    assert terms("الْعَرَبِيَّةُ") == terms("العربية")


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_and_offsets_are_valid(text: str) -> None:
    for t, start, end in iter_terms(text):
        assert t and 0 <= start < end <= len(text)


def test_character_grams_are_padded_normalized_and_unstemmed() -> None:
    assert word_grams("كورسك") == ("#كو", "كور", "ورس", "رسك", "سك#")
    # normalized (diacritics gone, ة → ه, أ → ا) before the grams are cut; the prefix stays
    assert word_grams("الكوريّة") == ("#ال", "الك", "لكو", "كور", "وري", "ريه", "يه#")
    assert word_grams("أمس") == ("#ام", "امس", "مس#")
    assert word_grams("x") == ("#x#",)  # a one-letter word: one padded gram
    # stop words have none
    assert word_grams("في") == ()
    assert char_grams("قوات في كورسك") == [*word_grams("قوات"), *word_grams("كورسك")]
    assert char_grams("...") == []

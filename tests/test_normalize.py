"""Normalization: the cases the issue names, pyarabic's pitfalls, and properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyarabic import araby

from archive.text.normalize import NORMALIZER_VERSION, normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("الْعَرَبِيَّةُ", "العربيه"),  # harakat, shadda; ة → ه
        ("مُدَرِّسْ", "مدرس"),  # sukun
        ("الرَّحْمٰن", "الرحمن"),  # dagger alef
        ("العـــــربية", "العربيه"),  # tatweel
        ("أحمد إبراهيم آمن ٱلله", "احمد ابراهيم امن الله"),  # alef forms
        ("مستشفى", "مستشفي"),  # ى → ي (not ا as pyarabic's normalize_alef does)
        ("ﻻ ﻷن", "لا لان"),  # lam-alef ligatures split
        ("کتاب یک", "كتاب يك"),  # Persian kaf and yeh
        ("خانۀ", "خانه"),  # heh with yeh above
        ("١٠ آلاف ۲۰۲۴", "10 الاف 2024"),  # Arabic-Indic and Persian digits
        ("قوات\u200fكورية\u200b", "قواتكوريه"),  # bidi and zero-width controls
        ("Ｋｕｒｓｋ", "Kursk"),  # NFKC folds full-width Latin
    ],
)
def test_normalize_cases(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_hamza_seats_kept_unlike_pyarabic_uniform() -> None:
    # pyarabic's normalize_hamza("uniform") rewrites every seat to ء; we fold only alef seats.
    assert araby.normalize_hamza("مسؤول") != "مسؤول"
    assert normalize("مسؤول") == "مسؤول"
    assert normalize("رئيس") == "رئيس"
    assert normalize("سأل") == "سال"


def test_pyarabic_alef_maksura_pitfall_is_avoided() -> None:
    # pyarabic issue #39: normalize_alef maps ى to ا; we map it to ي.
    assert araby.normalize_alef("على") == "علا"
    assert normalize("على") == "علي"
    assert normalize("على") != normalize("علا")


def test_combining_hamza_is_composed_then_folded() -> None:
    assert normalize("ا\u0654حمد") == "احمد"  # alef + combining hamza above


def test_version_is_recorded() -> None:
    assert NORMALIZER_VERSION.startswith("ar-norm/")


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_idempotent_and_never_raises(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x0600, max_codepoint=0x06FF)))
def test_idempotent_on_arabic_block(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert not any(c in once for c in araby.TASHKEEL)

"""Lexical analysis: raw text → index terms (tokenize, normalize, stop, stem).

The same :func:`iter_terms` feeds the Whoosh index, the query parser, the
snippet marker and the bm25s peer in the evaluation, so all of them agree on
what a term is.

Stemmer: the light-stemmer family of Larkey et al. ("light10") as implemented
by Lucene's ``ArabicStemmer``: strip at most one prefix (ال وال بال كال فال لل و),
then each listed suffix in turn (ها ان ات ون ين يه ية ه ة ي) while at least two
letters remain (three for the one-letter و). We chose Lucene's variant because
it is the reference we are measured against (ArabicAnalyzer on ARCD), it is
deterministic and cheap, and root stemmers (Khoja, ISRI) over-conflate news
vocabulary. Prefixes and suffixes are written in normalized form (ة → ه).

Stop words: the ``arabic-stopwords`` package's base list, normalized, with
its و/ف-prefixed forms, minus words that carry meaning in news queries
(directions, times, kinship used in names), see :data:`_KEPT_WORDS`. On ARCD
train this scores as well as the package's 10k list of affixed forms (MRR@10
0.803 either way), which also removes real words such as أوبك.

Every token is analyzed once per process: :func:`term` is cached, which is what
makes indexing tens of thousands of articles cheap (news vocabulary repeats).
Every indexed article is analyzed once per write (:func:`analyze_document`): its
words feed the term index and Whoosh alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from itertools import chain
from typing import NamedTuple

# The classified base list only: importing arabicstopwords.arabicstopwords also
# loads its 10k affixed forms (45 ms of every cold start) that we do not use.
from arabicstopwords.stopwords_classified import STOPWORDS as _BASE_STOPWORDS

from .normalize import NORMALIZER_VERSION, normalize

ANALYZER_VERSION = "ar-light10-lucene/2"

_TOKEN_RE = re.compile(r"[\w\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u200c\u200d]+")
_ARABIC_LETTER_RE = re.compile(r"[\u0621-\u064a]")

_PREFIXES = ("ال", "وال", "بال", "كال", "فال", "لل", "و")
_PREFIXES = tuple(sorted(_PREFIXES, key=len, reverse=True))  # longest match first
_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ه", "ي")  # Lucene's order; ية/ة fold into يه/ه

# Words the stop list has that news readers search for.
_KEPT_WORDS = frozenset(
    normalize(w)
    for w in (
        "شمال جنوب شرق غرب يمين أمس غدا صباح مساء ليل شهر ساعة لحظة زمان وقت "
        "ابن بن أب أبو أخ أخو أبي أخي حم عين نفس عامة أول جميع قام عاد"
    ).split()
)


def _load_stopwords() -> frozenset[str]:
    base = {normalize(w) for w in _BASE_STOPWORDS} - _KEPT_WORDS - {""}
    # The package's list of all affixed forms (10k) also holds forms that are
    # real news words once normalized (أوبك = أو+بك, "OPEC"); only the
    # conjunction-prefixed forms (و, ف) are safe and common enough to add.
    return frozenset(base | {"و" + w for w in base} | {"ف" + w for w in base})


STOPWORDS: frozenset[str] = _load_stopwords()

GRAM_SIZE = 3
GRAM_SETTINGS = f"char-{GRAM_SIZE}grams of padded normalized words, stop words dropped, unstemmed"

ANALYZER_SETTINGS: dict[str, object] = {
    "analyzer": ANALYZER_VERSION,
    "normalizer": NORMALIZER_VERSION,
    "stopwords": f"arabic-stopwords ({len(STOPWORDS)} normalized forms)",
    "stemmer": "lucene-arabic-light (light10 family)",
    "grams": GRAM_SETTINGS,
}


def stem(word: str) -> str:
    """Light-stem one normalized Arabic word (Lucene ``ArabicStemmer`` rules)."""
    for prefix in _PREFIXES:
        needed = 4 if len(prefix) == 1 else len(prefix) + 2
        if len(word) >= needed and word.startswith(prefix):
            word = word[len(prefix) :]
            break
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) >= len(suffix) + 2:
            word = word[: -len(suffix)]
    return word


@lru_cache(maxsize=1_000_000)
def folded(token: str) -> str:
    """One raw token normalized and lowercased (cached: :func:`term` and :func:`word_grams` share it)."""
    return normalize(token).lower()


@lru_cache(maxsize=1_000_000)
def term(token: str) -> str | None:
    """The index term of one raw token, or ``None`` for a stop word or an empty token.

    Arabic tokens are normalized and stemmed; Latin-script tokens and numbers
    pass through lowercased.
    """
    norm = folded(token)
    if not norm or norm in STOPWORDS:
        return None
    if _ARABIC_LETTER_RE.search(norm):
        return stem(norm)
    return norm


def iter_terms(text: str) -> Iterator[tuple[str, int, int]]:
    """Yield ``(term, start_char, end_char)`` for each non-stop token of raw ``text``.

    Offsets point into ``text`` as given (not normalized), so callers can mark
    the original words.
    """
    for match in _TOKEN_RE.finditer(text):
        t = term(match.group())
        if t:
            yield t, match.start(), match.end()


class FieldWords(NamedTuple):
    """One field's text analyzed: what every index of it needs."""

    tokens: list[str]
    """The raw word tokens (:func:`tokens`): the character grams are made from them."""
    terms: list[str]
    """The index terms in order, stop words dropped (:func:`terms`): a term's place here is its position."""


class DocumentWords(NamedTuple):
    """An article's title and body analyzed once (:func:`analyze_document`)."""

    title: FieldWords
    body: FieldWords


def analyze(text: str) -> FieldWords:
    """The raw tokens and the index terms of ``text``, from one tokenization."""
    raw = tokens(text)
    return FieldWords(raw, [t for t in map(term, raw) if t])


def analyze_document(title: str, body: str) -> DocumentWords:
    """An article's words, made once per write and given to every index of it (the term index and
    Whoosh), so no store analyzes the text again."""
    return DocumentWords(analyze(title), analyze(body))


def terms(text: str) -> list[str]:
    """The index terms of ``text`` in order (:func:`iter_terms` without the offsets, and faster)."""
    return [t for t in map(term, tokens(text)) if t]


@lru_cache(maxsize=1_000_000)
def word_grams(token: str) -> tuple[str, ...]:
    """The character 3-grams of one raw token, normalized and padded with ``#`` at both ends.

    ``كورسك`` → ``#كو كور ورس رسك سك#``; a stop word has none (keeping them
    cost 0.005 MRR@10 on ARCD train). Grams reach what the light stemmer
    leaves apart (broken plurals, attached pronouns and prepositions, spelling
    variants of foreign names), which is why the hybrid ranker uses them as
    a third signal (see :mod:`archive.index.terms`).
    """
    norm = folded(token)
    if norm in STOPWORDS:
        return ()
    word = f"#{norm}#"
    if len(word) <= GRAM_SIZE:
        return (word,) if len(word) > 2 else ()
    return tuple(word[i : i + GRAM_SIZE] for i in range(len(word) - GRAM_SIZE + 1))


def char_grams(text: str) -> list[str]:
    """The character 3-grams of every word of raw ``text``, in order (see :func:`word_grams`)."""
    return list(chain.from_iterable(map(word_grams, tokens(text))))


def tokens(text: str) -> list[str]:
    """The raw word tokens of ``text`` (before normalization and stop words)."""
    return _TOKEN_RE.findall(text)

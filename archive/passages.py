"""Split an article into overlapping, sentence-aware passages for embedding.

Encoders see a bounded window (e5-small: 512 tokens, ~250 Arabic words), and a
long article is about several things; so an article is embedded as passages
of whole sentences up to ``max_words`` words, each starting with the last
``overlap_words`` words' worth of sentences of the previous one (or its last
sentence, when that alone is longer but not over twice the overlap), so a fact
that straddles a boundary is whole in one passage. A sentence longer than
``max_words`` is cut at word boundaries. Huge documents keep their first
``max_passages`` passages: the lead of a news article carries its topic, and
a 5 MB "article" must not cost thousands of embeddings.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_SENTENCE_END_RE = re.compile(r"[^.!?؟؛۔\n]*(?:[.!?؟؛۔]+|\n+|$)")
_WORD_RE = re.compile(r"\S+")


class Passage(NamedTuple):
    """A span of the source text: ``text == source[start:end]`` (stripped)."""

    text: str
    start: int
    end: int


def _sentences(text: str, max_words: int) -> list[tuple[int, int, int]]:
    """``(start, end, words)`` of each sentence; long sentences cut into max_words pieces."""
    spans: list[tuple[int, int, int]] = []
    for match in _SENTENCE_END_RE.finditer(text):
        words = [(m.start(), m.end()) for m in _WORD_RE.finditer(text, match.start(), match.end())]
        for i in range(0, len(words), max_words):
            chunk = words[i : i + max_words]
            spans.append((chunk[0][0], chunk[-1][1], len(chunk)))
    return spans


def split_passages(
    text: str, *, max_words: int = 120, overlap_words: int = 30, max_passages: int = 64
) -> list[Passage]:
    """Passages of ``text`` (see the module docstring); ``[]`` for blank text."""
    if max_words < 1 or overlap_words < 0 or overlap_words >= max_words:
        raise ValueError("need max_words >= 1 and 0 <= overlap_words < max_words")
    sentences = _sentences(text, max_words)
    passages: list[Passage] = []
    first = 0
    while first < len(sentences) and len(passages) < max_passages:
        last, words = first, sentences[first][2]
        while last + 1 < len(sentences) and words + sentences[last + 1][2] <= max_words:
            last += 1
            words += sentences[last][2]
        start, end = sentences[first][0], sentences[last][1]
        passages.append(Passage(text[start:end], start, end))
        if last + 1 >= len(sentences):
            break
        # Next passage starts with the trailing sentences that fit in the overlap.
        nxt, back = last + 1, 0
        while nxt - 1 > first and back + sentences[nxt - 1][2] <= overlap_words:
            nxt -= 1
            back += sentences[nxt][2]
        if back == 0 and overlap_words and last > first and sentences[last][2] <= 2 * overlap_words:
            nxt = last  # no whole sentence fits the overlap: repeat the last one if it is not long
        first = nxt
    return passages

"""Split an article into overlapping, sentence-aware passages for embedding.

Encoders see a bounded window (e5-small: 512 tokens, ~250 Arabic words), and a
long article is about several things; so an article is embedded as passages
of whole sentences, up to ``max_words`` words each. A word is a run of
non-space characters (what ``str.split`` counts). A sentence ends at ``. ! ?
؟ ؛ ۔`` closing a word (a decimal point or ``كورسك.وقال`` inside a word does
not end one) and at a line break.

- A sentence longer than ``max_words`` is cut at word boundaries; the passage
  before it is filled up with its first words rather than left short.
- Each passage after the first starts ``overlap_words`` words or fewer before
  the end of the previous one, at a sentence start when one lies there (else
  at the previous passage's last sentence when that is at most twice the
  overlap, else at a word), so a fact that straddles a boundary is whole in
  one passage.
- Huge documents keep their first ``max_passages`` passages: the lead of a
  news article carries its topic, and a 5 MB "article" must not cost
  thousands of embeddings. Only the words those passages can reach are read,
  so the cost is bounded too.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from itertools import islice
from typing import NamedTuple

SPLITTER_VERSION = 2
"""Bumped whenever the same text would be cut differently: indexes record it and rebuild."""

_WORD_RE = re.compile(r"\S+")
_SENTENCE_END_RE = re.compile(r"[.!?؟؛۔]+[\"'»”’)\]]*(?=\s|$)|\n")
"""A terminator closing a word (closing quotes and brackets may follow), or a line break."""


class Passage(NamedTuple):
    """A span of the source text: ``text == source[start:end]``, no outer spaces."""

    text: str
    start: int
    end: int


def _words_and_sentences(text: str, word_limit: int) -> tuple[list[int], list[int], list[int]]:
    """Word start and end offsets (the first ``word_limit`` words) and sentence starts.

    Sentence starts are word indexes, ascending, beginning with 0 and ending
    with the word count (a sentinel).
    """
    spans = [m.span() for m in islice(_WORD_RE.finditer(text), word_limit)]
    if not spans:
        return [], [], [0]
    starts = [s for s, _ in spans]
    ends = [e for _, e in spans]
    bounds = {0, len(spans)}
    for m in _SENTENCE_END_RE.finditer(text, 0, ends[-1] + 1):
        bounds.add(bisect_left(starts, m.end()))
    return starts, ends, sorted(bounds)


def split_passages(
    text: str, *, max_words: int = 120, overlap_words: int = 30, max_passages: int = 64
) -> list[Passage]:
    """Passages of ``text``, in order (see the module docstring); ``[]`` for blank text."""
    if max_words < 1 or not 0 <= overlap_words < max_words or max_passages < 1:
        raise ValueError("need max_words >= 1, 0 <= overlap_words < max_words and max_passages >= 1")
    # Passage i ends at most i * max_words words in; one more passage of
    # look-ahead tells whether the sentence after the last end is long.
    starts, ends, bounds = _words_and_sentences(text, (max_passages + 1) * max_words + 1)
    n = len(starts)

    def end_of(first: int) -> int:
        """One past the last word of the passage starting at word ``first``."""
        limit = first + max_words
        if limit >= n:
            return n
        i = bisect_right(bounds, limit) - 1
        end = bounds[i]
        if end <= first or bounds[i + 1] - end > max_words:
            return limit  # no whole sentence fits, or the next one is cut anyway
        return end

    passages: list[Passage] = []
    first = 0
    while first < n and len(passages) < max_passages:
        end = end_of(first)
        passages.append(Passage(text[starts[first] : ends[end - 1]], starts[first], ends[end - 1]))
        if end >= n:
            break
        nxt = end
        if overlap_words:
            i = bisect_left(bounds, max(end - overlap_words, first + 1))
            j = bisect_left(bounds, end) - 1  # the start of the passage's last sentence
            if bounds[i] < end:
                nxt = bounds[i]  # whole sentences within the overlap
            elif first < bounds[j] and end - bounds[j] <= 2 * overlap_words:
                nxt = bounds[j]  # the last sentence, a bit longer than the overlap
            elif end - overlap_words > first:
                nxt = end - overlap_words  # no sentence start near the end: cut at a word
        first = nxt if end_of(nxt) > end else end  # overlap only when it moves on
    return passages

"""Snippets: the passage of a document shown under a hit, query words marked.

The window is chosen on analyzed terms (so الكورية in the text is marked for
كورية in the query) and cut on word boundaries; marks are character spans
into the snippet text, so each front end renders them its own way (bold in
the terminal, spans in JSON, «» in plain text).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..text.analysis import iter_terms

SNIPPET_CHARS = 240
SCAN_CHARS = 50_000
"""A snippet is chosen within the first this many characters of a text (the longest SaudiNewsNet
article has 33,687): one very long article must not slow every search that shows it."""
MARK_CHARS = 1_000_000
"""Query words are marked in at most this many characters of an article page (the readers' default
article limit); the text after them is shown unmarked."""


@dataclass(frozen=True, slots=True)
class Snippet:
    """Text with ``marks``: ``(start, end)`` spans of the words that matched the query."""

    text: str
    marks: tuple[tuple[int, int], ...] = ()

    def marked(self, open_mark: str = "«", close_mark: str = "»") -> str:
        """The text with every mark wrapped in ``open_mark``/``close_mark``."""
        out, last = [], 0
        for start, end in self.marks:
            out += [self.text[last:start], open_mark, self.text[start:end], close_mark]
            last = end
        out.append(self.text[last:])
        return "".join(out)


def _clip(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen ``start``/``end`` outwards to whitespace so no word is cut."""
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return start, end


def make_snippet(text: str, query_terms: frozenset[str] | set[str], max_chars: int = SNIPPET_CHARS) -> Snippet:
    """The ``max_chars`` window of ``text`` that holds the most distinct query terms.

    Ties go to the earliest window; with no match (a semantic hit can share no
    word with the query) it is the start of the text. Only the first
    :data:`SCAN_CHARS` characters are looked at.
    """
    cut = len(text) > SCAN_CHARS
    text = " ".join(text[:SCAN_CHARS].split())
    matches = [(s, e, t) for t, s, e in iter_terms(text) if t in query_terms]
    if len(text) <= max_chars:
        start, end = 0, len(text)
    elif not matches:
        start, end = _clip(text, 0, max_chars)
    else:
        best, best_score = 0, -1
        j = 0
        for i, (s_i, _, _) in enumerate(matches):
            while j < len(matches) and matches[j][1] - s_i <= max_chars:
                j += 1
            score = len({t for _, _, t in matches[i:j]}) * 1000 + (j - i)
            if score > best_score:
                best, best_score = i, score
        first = matches[best][0]
        # Start a little before the first match so the reader gets its context.
        start = max(0, first - max_chars // 4)
        start, end = _clip(text, start, min(len(text), start + max_chars))
    if end - start > max_chars * 1.2:  # a "word" far longer than a line: cut it
        start, end = max(0, start), start + max_chars
    marks = tuple((s - start, e - start) for s, e, _ in matches if s >= start and e <= end)
    body = text[start:end]
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(text) or cut else ""
    shift = len(prefix)
    return Snippet(prefix + body + suffix, tuple((s + shift, e + shift) for s, e in marks))


def mark_text(text: str, query_terms: frozenset[str] | set[str]) -> Snippet:
    """The whole of ``text`` (as written: line breaks kept) with every word of ``query_terms`` marked
    within its first :data:`MARK_CHARS` characters."""
    head = text[:MARK_CHARS]
    return Snippet(text, tuple((s, e) for t, s, e in iter_terms(head) if t in query_terms))

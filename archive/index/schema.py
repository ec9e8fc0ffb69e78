"""The archive's Whoosh schema and the tokenizer its text fields share.

A module of its own so that Whoosh's file guard (:mod:`archive.index.whoosh_files`)
can make the schema in any process, a fresh sub-writer included, without
importing the lexical index that uses both.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from whoosh.analysis import Token, Tokenizer
from whoosh.fields import DATETIME, ID, KEYWORD, TEXT, Schema

from ..text.analysis import iter_terms, term

TITLE_BOOST = 2.0
"""The title's boost in Whoosh's schema. Whoosh only answers phrases (a mask), so it does not
rank: the title weight of ranking is :attr:`archive.index.scoring.Scoring.title_weight`."""


class ArabicTokenizer(Tokenizer):
    """Whoosh adapter over :func:`archive.text.analysis.iter_terms`: it analyzes the text of queries.

    Stop words take no position, so a phrase query written with or without
    them (``قوات في كورسك`` / ``قوات كورسك``) matches the same text. A write
    gives Whoosh each title and body already analyzed, as its list of terms
    (:func:`archive.index.stores_keyed.whoosh_fields`), which Whoosh indexes
    with the positions this tokenizer would give them.
    """

    def __call__(  # noqa: PLR0913 - Whoosh's tokenizer protocol
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: object,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:  # wildcard and range parts: one normalized token
            text = term(value) or value.lower()
            spans: Iterable[tuple[str, int, int]] = [(text, 0, len(value))]
        else:
            spans = iter_terms(value)
        pos = start_pos
        for text, start, end in spans:
            token.text = text
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = value[start:end]
            if positions:
                token.pos = pos
                pos += 1
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            yield token


def make_schema() -> Schema:
    """The Whoosh schema of the archive (see the module docstring)."""
    analyzer = ArabicTokenizer()
    return Schema(
        id=ID(stored=True, unique=True),
        title=TEXT(analyzer=analyzer, field_boost=TITLE_BOOST),
        body=TEXT(analyzer=analyzer),
        published=DATETIME(sortable=True),
        source=KEYWORD(commas=True, lowercase=True, scorable=False),
        category=KEYWORD(commas=True, lowercase=True, scorable=False),
        author=KEYWORD(commas=True, lowercase=True, scorable=False),
    )

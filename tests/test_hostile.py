"""Hostile queries: a construct whose cost has no bound is refused in one line, before it runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from archive import Archive, Document
from archive.cli import app
from archive.errors import QueryError


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from .conftest import NEWS

    root = tmp_path_factory.mktemp("hostile") / "index"
    bracketed = Document(id="brackets-1", title="تقرير [الهلال TO النصر] عن الديربي",
                         body="نشر الهلال تقريرا عن مباراة الديربي مع النصر في الرياض وجمهور الفريقين.")
    english = Document(id="and-1", title="مقابلة مع المدرب", body="Questions and answers مع مدرب الفريق بعد المباراة.")
    Archive.build([*NEWS, bracketed, english], root, encoder=None, procs=1).close()
    return root


@pytest.mark.parametrize(
    "query",
    ["الهلال AND body:[ا TO ي]", "[ا TO ي]", "الهلال title:{ا TO]", "النفط published:[2024 TO 2025]",
     "الهلال id:[a TO z]", "الهلال NOT body:[ب TO ت]"],
)
def test_a_range_query_is_refused_with_one_line(index: Path, query: str) -> None:
    with Archive.open(index) as archive:
        with pytest.raises(QueryError, match=r"range queries \(\[a TO b\]\) are not supported.*--since/--until"):
            archive.search(query, mode="lexical")
    result = CliRunner().invoke(app, ["search", query, "--index", str(index), "--mode", "lexical"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("error: range queries")


def test_plain_words_beside_brackets_still_search(index: Path) -> None:
    """Brackets without ``TO`` are punctuation, and an article's own brackets never make its
    related-articles query a range."""
    with Archive.open(index) as archive:
        hits = archive.search("[الهلال] الديربي", mode="lexical")
        assert hits and hits[0].id in {"sport-1", "brackets-1"}
        assert "sport-1" in [h.id for h in archive.related("brackets-1")]


def test_phrases_are_bounded(index: Path) -> None:
    from archive.search.query import MAX_PHRASES

    words = ["الهلال", "النصر", "الرياض", "النفط", "أوبك", "خاركيف", "كوريا", "الصحة", "المناخ"]
    pairs = [f'"{a} {b}"' for a in words for b in words if a != b]
    with Archive.open(index) as archive:
        archive.search(" ".join(pairs[:MAX_PHRASES]), mode="lexical")  # at the bound: searched
        with pytest.raises(QueryError, match=f"at most {MAX_PHRASES} quoted phrases"):
            archive.search(" ".join(pairs[: MAX_PHRASES + 1]), mode="lexical")
        # copies of one phrase are one node of the parsed query (matched once): searched
        assert archive.search(" ".join(['"الهلال يفوز"'] * (MAX_PHRASES + 4)), mode="lexical")


def test_a_query_the_parser_cannot_take_keeps_its_words_not_its_operators(index: Path) -> None:
    """``*:*`` makes the parser give up: the fallback searched ``AND`` as the English word "and"."""
    with Archive.open(index) as archive:
        plain = [h.id for h in archive.search("النفط", mode="lexical")]
        assert plain == ["econ-1"]
        assert [h.id for h in archive.search("النفط AND *:*", mode="lexical")] == plain

"""A query is interpreted once per request: the hits, the facet counts, the histogram and the
marked titles of a page come from one parse and one match; and a hit reads the same from the
command line's ``--json`` and the web API (one record form)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from archive import Archive
from archive.cli import app as cli_app
from archive.index.lexical import LexicalIndex
from archive.search import searcher as searcher_module
from archive.web.app import create_app

from .test_web import MISSION, web_documents
from .webdata import HOSTILE


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    with Archive.build([*web_documents(), *HOSTILE], tmp_path_factory.mktemp("one-pass") / "index",
                       encoder="hashing", procs=1) as archive:
        yield archive


@pytest.fixture()
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts the parses and the lexical matches made while it is active."""
    calls = {"parse": 0, "match": 0}
    parse, match = searcher_module.parse_query, LexicalIndex.match

    def counting_parse(*args: object, **kwargs: object) -> object:
        calls["parse"] += 1
        return parse(*args, **kwargs)  # type: ignore[arg-type]

    def counting_match(self: LexicalIndex, *args: object, **kwargs: object) -> object:
        calls["match"] += 1
        return match(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(searcher_module, "parse_query", counting_parse)
    monkeypatch.setattr(LexicalIndex, "match", counting_match)
    return calls


@pytest.mark.parametrize("mode", ["lexical", "semantic", "hybrid"])
def test_facets_from_the_search_equal_the_separate_count(built: Archive, mode: str) -> None:
    hits = built.search(MISSION, mode=mode, facets=True, source=["BBC", "CNN"])  # type: ignore[arg-type]
    assert hits.facets == built.facets(MISSION, source=["BBC", "CNN"], mode=mode)  # type: ignore[arg-type]
    assert hits.facets is not None and hits.facets.total == hits.articles > 0
    assert set(hits.facets.sources) <= {"BBC", "CNN"}
    lifted = hits.open_facets["source"]  # the source filter lifted: every outlet the search finds
    assert lifted == built.facets(MISSION, mode=mode)  # type: ignore[arg-type]
    assert len(lifted.sources) > len(hits.facets.sources) and lifted.total > hits.facets.total
    assert hits.open_facets["category"] == hits.facets  # not filtered by category: the same counts
    assert built.search(MISSION, mode=mode).facets is None  # type: ignore[arg-type]


def test_a_query_without_words_counts_what_the_filters_allow(built: Archive) -> None:
    hits = built.search("و", facets=True, source="BBC")
    assert not hits and hits.facets is not None and set(hits.facets.sources) == {"BBC"}
    assert hits.facets.total == built.stats().sources["BBC"]


def test_a_search_page_parses_and_matches_its_query_once(built: Archive, counted: dict[str, int]) -> None:
    with TestClient(create_app(built)) as client:
        counted.update(parse=0, match=0)
        page = client.get("/", params={"q": MISSION, "source": "BBC", "category": "world"})
        assert page.status_code == 200 and "<mark>كورسك</mark>" in page.text  # marked titles and snippets
        assert counted == {"parse": 1, "match": 1}
        counted.update(parse=0, match=0)
        api = client.get("/api/search", params={"q": MISSION, "source": "BBC"}).json()
        assert api["hits"] and api["facets"]["sources"] == {"BBC": api["facets"]["total"]}
        assert counted == {"parse": 1, "match": 1}


def test_the_cli_and_the_api_write_a_hit_the_same_way(built: Archive) -> None:
    result = CliRunner().invoke(cli_app, ["search", MISSION, "--mode", "lexical", "-k", "3", "--json", "--facets",
                                          "--index", str(built.path)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    cli_hits, summary = lines[:-1], lines[-1]["summary"]
    with TestClient(create_app(built)) as client:
        api = client.get("/api/search", params={"q": MISSION, "mode": "lexical", "k": 3}).json()
    assert cli_hits == api["hits"] and "author" in cli_hits[0]
    assert summary["facets"] == api["facets"]


def test_modes_and_sorts_are_listed_once(built: Archive) -> None:
    from archive.search.options import MODES, SORTS

    with TestClient(create_app(built)) as client:
        page = client.get("/", params={"q": MISSION}).text
    assert all(f'value="{mode}"' in page for mode in MODES) and all(f'value="{s}"' in page for s in SORTS)
    help_text = CliRunner().invoke(cli_app, ["search", "--help"], env={"COLUMNS": "200"}).output
    assert "|".join(MODES) in help_text and "|".join(SORTS) in help_text

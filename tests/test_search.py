"""Build → open → search round trips through the library (lexical mode)."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from archive import (
    Archive,
    Document,
    DocumentNotFoundError,
    IndexFormatError,
    IndexNotFoundError,
    QueryError,
)
from archive.files.readers import read_documents
from archive.index.scoring import Scoring


@pytest.fixture(scope="module")
def news_archive(tmp_path_factory: pytest.TempPathFactory, news: list[Document], seed_document: Document) -> Archive:
    """One archive of the seed and the hand-written news for every test that only reads it
    (a test that writes builds its own)."""
    archive = Archive.build([seed_document, *news], tmp_path_factory.mktemp("search") / "index", procs=1, encoder=None)
    yield archive
    archive.close()


def test_seed_only_archive_answers_the_mission_query(tmp_path: Path, seed_path: Path) -> None:
    archive = Archive.build(read_documents(seed_path.parent), tmp_path / "index", procs=1, encoder=None)
    hits = archive.search("قوات كورية في كورسك")
    assert [h.id for h in hits] == [seed_path.stem]
    assert hits[0].title.startswith("طالبت الولايات المتحدة")
    assert any(hits[0].snippet[s:e] == "كورسك" for s, e in hits[0].marks)


@pytest.mark.slow
def test_mission_query_puts_seed_first_among_real_news(
    tmp_path: Path, seed_document: Document, shared_news: list[Document], news: list[Document]
) -> None:
    docs = [*shared_news, *news, seed_document]
    archive = Archive.build(docs, tmp_path / "index", procs=2, encoder=None)
    assert len(archive) == len(docs) >= 51
    hits = archive.search("قوات كورية في كورسك")
    assert hits[0].id == seed_document.id
    # A query about another article of the corpus finds that one instead.
    assert archive.search("أسعار النفط أوبك")[0].id == "econ-1"


def test_more_matching_words_rank_higher(news_archive: Archive) -> None:
    hits = news_archive.search("كوريا الشمالية صاروخ باليستي", k=5)
    assert hits[0].id == "korea-1"
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_phrase_query(news_archive: Archive) -> None:
    assert [h.id for h in news_archive.search('"منظمة الصحة العالمية"')] == ["health-1"]
    # Both words occur in econ-1 but not as a phrase.
    assert news_archive.search('"الاقتصاد النفط"') == []


def test_must_and_exclude(news_archive: Archive, seed_document: Document) -> None:
    ids = {h.id for h in news_archive.search("روسيا أوكرانيا")}
    assert {"war-1", seed_document.id} <= ids
    assert {h.id for h in news_archive.search("روسيا أوكرانيا -كورسك")} == {"war-1"}
    assert {h.id for h in news_archive.search("+خاركيف روسيا")} == {"war-1"}
    assert {h.id for h in news_archive.search("روسيا AND كورسك")} == {seed_document.id}
    assert {h.id for h in news_archive.search("روسيا NOT كورسك")} == {"war-1"}


def test_a_hyphen_inside_a_word_joins_words_and_excludes_nothing(tmp_path: Path) -> None:
    docs = [
        Document(id="empire", body="أصدرت النمسا-المجر إنذارا نهائيا إلى صربيا عام 1914"),
        Document(id="austria", body="النمسا دولة في وسط أوروبا"),
        Document(id="years", body="تغيرت الحدود بين عامي 1922 و1991 مرات عدة"),
    ]
    archive = Archive.build(docs, tmp_path / "index", encoder=None, procs=1)
    assert [h.id for h in archive.search("النمسا-المجر", mode="lexical")] == ["empire", "austria"]
    assert archive.search("ماذا حدث بين عامي 1922-1991", mode="lexical")[0].id == "years"
    assert [h.id for h in archive.search("النمسا -المجر", mode="lexical")] == ["austria"]  # still an exclusion
    assert [h.id for h in archive.search("id:empire", mode="lexical")] == ["empire"]
    archive.close()


def test_field_query(news_archive: Archive) -> None:
    assert [h.id for h in news_archive.search("title:النفط")] == ["econ-1"]
    assert {h.id for h in news_archive.search("source:bbc")} == {"econ-1", "war-1"}


def test_filters(news_archive: Archive, seed_document: Document) -> None:
    q = "روسيا أوكرانيا كوريا"
    assert {h.id for h in news_archive.search(q, source="BBC")} == {"war-1"}
    assert {h.id for h in news_archive.search(q, category="world")} == {"war-1", "korea-1"}
    assert {h.id for h in news_archive.search(q, since="2024-06-01")} == {"korea-1"}
    assert {h.id for h in news_archive.search(q, until=date(2024, 5, 12))} == {"war-1"}
    assert {h.id for h in news_archive.search(q, since=datetime(2024, 5, 1, tzinfo=timezone.utc),
                                              until="2024-09-30")} == {"war-1", "korea-1"}
    assert news_archive.search(q, source="nobody") == []


@pytest.mark.slow
@pytest.mark.parametrize("query", ["", "   ", "في من على", "؟!.،", '"', "((", "AND OR NOT", "\x00\x07"])
def test_degenerate_queries_return_no_hits_with_a_reason(news_archive: Archive, query: str) -> None:
    hits = news_archive.search(query)
    assert hits == [] and hits.reason


@pytest.mark.parametrize("query", ['"قوات كورية', "(كورسك", "كورسك)", "nofield:كورسك", "كورسك AND", "كورسك title:"])
def test_syntax_errors_degrade_to_plain_words(news_archive: Archive, seed_document: Document, query: str) -> None:
    hits = news_archive.search(query)
    assert hits and hits[0].id == seed_document.id


def test_only_exclusions_say_so(news_archive: Archive) -> None:
    hits = news_archive.search("-كورسك")
    assert hits == [] and "exclude" in hits.reason


def test_bad_arguments_raise_typed_errors(news_archive: Archive) -> None:
    with pytest.raises(QueryError, match="mode"):
        news_archive.search("كورسك", mode="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(QueryError, match="k must"):
        news_archive.search("كورسك", k=0)
    with pytest.raises(QueryError, match="since"):
        news_archive.search("كورسك", since="yesterday")
    with pytest.raises(QueryError, match="after"):
        news_archive.search("كورسك", since="2024-05-01", until="2024-04-01")


def test_get_and_stats(news_archive: Archive, news: list[Document]) -> None:
    doc = news_archive.get("econ-1")
    assert doc == news[1]
    assert "econ-1" in news_archive
    with pytest.raises(DocumentNotFoundError):
        news_archive.get("missing")
    stats = news_archive.stats()
    assert stats.documents == len(news_archive) == 7
    assert stats.sources["BBC"] == 2
    assert stats.first_published == datetime(2023, 12, 5, 12, tzinfo=timezone.utc)


def test_close_is_idempotent(tmp_path: Path, news: list[Document]) -> None:
    archive = Archive.build(news, tmp_path / "index", encoder=None, procs=1)
    archive.close()
    archive.close()


def test_reopen_gives_same_results(news_archive: Archive) -> None:
    before = [(h.id, h.score) for h in news_archive.search("أوكرانيا روسيا")]
    with Archive.open(news_archive.path) as again:
        assert [(h.id, h.score) for h in again.search("أوكرانيا روسيا")] == before


def test_duplicate_ids_keep_the_first(tmp_path: Path, news: list[Document]) -> None:
    from archive import BuildReport

    copy = Document(id="econ-1", body="نص آخر عن كرة السلة", origin="other.jsonl:3")
    report = BuildReport()
    archive = Archive.build([*news, copy], tmp_path / "index", report=report, procs=1, encoder=None)
    assert len(archive) == len(news)
    assert archive.get("econ-1").body == news[1].body
    assert len(report.skipped) == 1 and "other.jsonl:3" in report.skipped[0]


def test_open_errors(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="archive build"):
        Archive.open(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexNotFoundError, match="not an archive index"):
        Archive.open(tmp_path / "empty")


def test_incompatible_manifest_fails_with_fix(tmp_path: Path, news: list[Document]) -> None:
    import json

    archive = Archive.build(news, tmp_path / "index", procs=1, encoder=None)
    manifest = archive._generation / "manifest.json"  # noqa: SLF001 - simulating an old index
    archive.close()
    data = json.loads(manifest.read_text())
    data["normalizer"] = "ar-norm/0"
    manifest.write_text(json.dumps(data))
    with pytest.raises(IndexFormatError, match=r"normalizer 'ar-norm/0'.*archive build --full"):
        Archive.open(tmp_path / "index")


def test_failed_build_leaves_previous_index(tmp_path: Path, news: list[Document]) -> None:
    Archive.build(news, tmp_path / "index", procs=1, encoder=None).close()

    def broken():
        yield news[0]
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        Archive.build(broken(), tmp_path / "index", procs=1, encoder=None)
    with Archive.open(tmp_path / "index") as archive:
        assert len(archive) == len(news)
        assert archive.search("النفط")[0].id == "econ-1"
    assert len(list((tmp_path / "index").glob("gen-*"))) == 1


class _BlindEncoder:
    """Every text on the same vector: a dense side that knows nothing, so only the lexical signals rank."""

    name = "blind/1"
    dim = 8

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.tile(np.eye(1, self.dim, dtype=np.float32), (len(texts), 1))

    encode_passages = encode_queries


def test_hybrid_ranks_an_attached_form_by_its_character_grams(tmp_path: Path, news: list[Document]) -> None:
    archive = Archive.build(news, tmp_path / "index", procs=1, encoder=_BlindEncoder())
    # "بخاركيف" (in Kharkiv) is one unknown word to BM25F and the dense side is blind:
    # the 3-gram signal alone finds the Kharkiv article among the candidates
    assert archive.search("بخاركيف", mode="lexical") == []
    hits = archive.search("بخاركيف", mode="hybrid")
    assert hits[0].id == "war-1"
    assert hits[0].score > hits[1].score
    archive.scoring = Scoring(gram_share=0.0)  # without grams: a tie, broken by id
    assert [h.id for h in archive.search("بخاركيف", mode="hybrid")][:2] == ["econ-1", "health-1"]
    archive.close()


def test_searches_on_many_threads_over_one_archive_equal_serial_ones(tmp_path: Path, news: list[Document],
                                                                      seed_document: Document) -> None:
    """One open Archive serves concurrent searches (``archive serve`` answers on worker threads):
    phrases went through one shared Whoosh searcher and failed as "damaged lexical index"."""
    from concurrent.futures import ThreadPoolExecutor

    with Archive.build([seed_document, *news], tmp_path / "index", encoder="hashing", procs=1) as archive:
        queries = [('"منظمة الصحة العالمية"', "lexical"), ('"قوات كورية"', "lexical"), ('"كوريا الشمالية"', "hybrid"),
                   ("قوات كورية في كورسك", "hybrid"), ("أسعار النفط", "semantic"), ("روسيا -كورسك", "lexical")]

        def run(item: tuple[str, str]) -> list[str]:
            query, mode = item
            return [h.id for h in archive.search(query, mode=mode)]

        serial = [run(item) for item in queries]
        assert serial[0] == ["health-1"] and serial[1] == [seed_document.id]
        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(run, queries * 50)) == serial * 50


# ------------------------------------------------------------------ the articles' own days
DAYS = [  # three reports of 2018-05-04 by their own clocks, one of the 3rd; UTC would put the first on the 3rd
    Document(id="dubai-night", title="حريق في مستودع بدبي", body="اندلع حريق في مستودع قرب ميناء جبل علي فجرا.",
             published=datetime(2018, 5, 4, 1, 42, 36, tzinfo=timezone(timedelta(hours=4))), source="Alarabia"),
    Document(id="london-late", title="حريق في مستودع بلندن", body="اندلع حريق في مستودع شرق لندن مساء.",
             published=datetime(2018, 5, 3, 23, 30, tzinfo=timezone.utc), source="BBC"),
    Document(id="lima-evening", title="حريق في مستودع بليما", body="اندلع حريق في مستودع في ليما مساء.",
             published=datetime(2018, 5, 4, 23, 30, tzinfo=timezone(timedelta(hours=-5))), source="CNN"),
    Document(id="cairo-noon", title="حريق في مستودع بالقاهرة", body="اندلع حريق في مستودع بالقاهرة ظهرا.",
             published=datetime(2018, 5, 4, 12, 0, tzinfo=timezone(timedelta(hours=2))), source="Masrawy"),
    Document(id="june-first", title="حريق في مستودع بمسقط", body="اندلع حريق في مستودع بمسقط بعد منتصف الليل.",
             published=datetime(2018, 6, 1, 0, 30, tzinfo=timezone(timedelta(hours=4))), source="Alarabia"),
]


@pytest.fixture(scope="module")
def days_archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    return Archive.build(DAYS, tmp_path_factory.mktemp("days") / "index", encoder="none", procs=1)


def test_a_day_is_each_articles_own_day(days_archive: Archive) -> None:
    """`since/until 2018-05-04` finds what every listing dates the 4th, whatever its zone; a moment stays a moment."""
    ids = lambda **f: sorted(h.id for h in days_archive.search("حريق مستودع", k=20, **f))  # noqa: E731
    fourth = ["cairo-noon", "dubai-night", "lima-evening"]
    assert ids(since="2018-05-04", until="2018-05-04") == fourth
    assert ids(since=date(2018, 5, 4), until=date(2018, 5, 4)) == fourth
    assert ids(until="2018-05-03") == ["london-late"]
    assert ids(since="2018-05") == sorted([*fourth, "june-first", "london-late"])
    assert ids(until="2018-05") == sorted([*fourth, "london-late"])  # Muscat's 00:30 of 1 June is June's
    assert ids(since="2018-06") == ["june-first"]
    assert ids(until="2018-05-03T23:59:59+00:00") == ["dubai-night", "london-late"]  # a moment: 21:42 UTC
    assert ids(since=datetime(2018, 5, 4, tzinfo=timezone.utc), until="2018-05-04") == ["cairo-noon", "lima-evening"]
    assert ids(since="2018-05-04", until="2018-05-04T02:00:00+04:00") == ["dubai-night"]  # a day and a moment
    with pytest.raises(QueryError, match="after until"):
        ids(since="2018-05-06", until="2018-05-04T02:00:00+04:00")
    months = days_archive.search("حريق مستودع", facets=True).facets.months
    assert months == {"2018-05": 4, "2018-06": 1}
    for hit in days_archive.search("حريق مستودع", k=20, since="2018-05-04", until="2018-05-04"):
        assert f"{hit.published:%Y-%m-%d}" == "2018-05-04"  # what is shown is what was asked for


def test_columns_written_before_the_offsets_count_utc_days_and_say_so(tmp_path: Path, days_archive: Archive) -> None:
    """Format 1 (no offset.npy) still opens: its days are UTC days, as it was built; appending to it keeps
    saying so, and a fresh write counts each article's own day."""
    import json

    from archive.index.columns import Columns, ColumnsBuilder, Filters

    builder = ColumnsBuilder()
    for doc in DAYS:
        builder.add(doc)
    builder.write(tmp_path / "v2")
    old = tmp_path / "v1"
    shutil.copytree(tmp_path / "v2", old)
    (old / "offset.npy").unlink()
    meta = json.loads((old / "columns.json").read_text(encoding="utf-8"))
    meta["format"] = 1
    del meta["own_days"]
    (old / "columns.json").write_text(json.dumps(meta), encoding="utf-8")
    fourth = Filters(since=date(2018, 5, 4), until=date(2018, 5, 4))
    new, legacy = Columns(tmp_path / "v2"), Columns(old)
    assert new.own_days and not legacy.own_days
    assert [DAYS[i].id for i in np.flatnonzero(new.mask(fourth))] == ["dubai-night", "lima-evening", "cairo-noon"]
    assert [DAYS[i].id for i in np.flatnonzero(legacy.mask(fourth))] == ["cairo-noon"]  # 4 May in UTC
    legacy.appended(tmp_path / "v1-more", [DAYS[0]])
    more = Columns(tmp_path / "v1-more")
    assert not more.own_days  # one rule for every row, as stats says: UTC days until a full build
    assert [i for i in np.flatnonzero(more.mask(fourth))] == [3]  # Dubai's night report, added again: the 3rd in UTC
    assert days_archive.stats().own_days

"""The judged ANT news set (eval/ant-news): its files are complete and balanced, its halves fixed,
its scoring counts copies once; the judged ids are ANT's (with the shared data only)."""

from __future__ import annotations

import collections
import csv
import re
import sys
import tarfile
from pathlib import Path

import pytest

from archive import Document

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))

import ant_news  # noqa: E402
import snn_news  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ANT_TAR = DATA / "ant-multisource-v2.1.tar.xz"
DOCNO = re.compile(r"^(AL|BB|CN|FR|SK)-[A-Za-z]+-\d+-\d{8}$")  # ANT's <DOCNO>: source, category, number, date


def _qrels() -> dict[str, dict[str, int]]:
    return snn_news.read_qrels(ant_news.JUDGED_DIR / "qrels.tsv")


def test_every_query_has_an_id_a_kind_a_half_and_a_relevant_article():
    queries = ant_news.read_queries()
    qrels = _qrels()
    assert len(queries) >= 100 and len({q.id for q in queries}) == len(queries)
    assert {q.id for q in queries} == set(qrels)  # every query judged, no judgments for unknown queries
    for query in queries:
        assert query.kind in snn_news.KINDS and query.half in ant_news.HALVES and query.text.strip()
        assert any(grade > 0 for grade in qrels[query.id].values()), f"{query.id} has no relevant article"
        assert set(qrels[query.id].values()) <= {0, 1, 2}


def test_kinds_and_halves_are_balanced():
    queries = ant_news.read_queries()
    kinds = collections.Counter(q.kind for q in queries)
    assert set(kinds) == set(snn_news.KINDS) and min(kinds.values()) >= 25
    assert max(kinds.values()) - min(kinds.values()) <= 2
    halves = collections.Counter((q.kind, q.half) for q in queries)
    for kind in snn_news.KINDS:
        assert abs(halves[kind, "dev"] - halves[kind, "test"]) <= 1


def test_judged_ids_look_like_ant_docnos_and_every_pooled_article_is_judged():
    qrels = _qrels()
    assert all(DOCNO.match(doc) for judged in qrels.values() for doc in judged)
    with (ant_news.JUDGED_DIR / "pool.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    pooled = {(row["qid"], row["docid"]) for row in rows}
    assert pooled == {(q, doc) for q, judged in qrels.items() for doc in judged}
    assert all(re.fullmatch(r"[lsh]\d+(,[lsh]\d+)*", row["runs"]) for row in rows)  # mode letter + rank


def test_the_half_rule_is_by_number_within_the_kind():
    assert [ant_news.half_of(q) for q in ("k01", "k02", "p25", "q26", "v13")] == ["dev", "test", "dev", "test", "dev"]
    with pytest.raises(snn_news.JudgedSetError, match="'x01'"):
        ant_news.half_of("x01")


def test_a_query_id_must_match_its_kind(tmp_path):
    (tmp_path / "queries.tsv").write_text("id\tkind\tquery\nk01\tparaphrase\tتهاوي عملة أنقرة\n", encoding="utf-8")
    with pytest.raises(snn_news.JudgedSetError, match="'k01' of kind 'paraphrase'"):
        ant_news.read_queries(tmp_path)


def test_recall_at_100_counts_copies_once_and_ignores_unjudged():
    docs = [
        Document(id="a", title="انهيار الليرة التركية", body="هبطت الليرة التركية إلى مستوى قياسي أمام الدولار."),
        Document(id="a2", title="الليرة تهوي", body="هبطت الليرة التركية إلى مستوى قياسي أمام الدولار."),
        Document(id="b", title="أردوغان والفائدة", body="دعا أردوغان إلى خفض أسعار الفائدة."),
        Document(id="c", title="الذهب", body="تراجعت أسعار الذهب."),
    ]
    group_of = {d.id: d.body_key for d in docs}
    grades = {group_of["a"]: 2, group_of["b"]: 1, group_of["c"]: 0}
    row = ant_news.score(["a2", "a", "c", "x"], grades, group_of)
    assert row["R@100"] == pytest.approx(1 / 2)  # the copy a2 found a's story; b was not found
    assert row["judged@10"] == pytest.approx(2 / 3)  # a2 (= a), c judged; x not
    assert ant_news.score(["b", "a"], grades, group_of)["R@100"] == 1.0


@pytest.mark.skipif(not ANT_TAR.is_file(), reason="shared ANT data not found at ../shared/data")
def test_judged_ids_are_ant_articles():
    with tarfile.open(ANT_TAR) as tar:
        docnos = {Path(name).stem for name in tar.getnames() if name.endswith(".txt")}
    judged = {doc for grades in _qrels().values() for doc in grades}
    assert judged <= docnos


# The held-out questions (eval/ant-questions): report-only, never tuned on.

def test_the_held_out_questions_are_forty_judged_questions_in_the_report_half():
    queries = ant_news.read_queries(ant_news.QUESTIONS_DIR)
    qrels = snn_news.read_qrels(ant_news.QUESTIONS_DIR / "qrels.tsv")
    assert [q.id for q in queries] == [f"aq{i:02d}" for i in range(1, 41)]
    assert {q.kind for q in queries} == {"question"} and {q.half for q in queries} == {ant_news.REPORT}
    assert {q.id for q in queries} == set(qrels)
    for query in queries:
        assert any(grade == 2 for grade in qrels[query.id].values()), f"{query.id} has no answering article"
        assert set(qrels[query.id].values()) <= {0, 1, 2}
    # New questions: none repeats a query of the tuning set.
    tuned = {q.text for q in ant_news.read_queries()}
    assert not tuned & {q.text for q in queries}


def test_the_held_out_pool_is_fully_judged_with_urls_and_ant_ids():
    with (ant_news.QUESTIONS_DIR / "qrels.tsv").open(encoding="utf-8", newline="") as handle:
        lines = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert all(len(line) == 5 and line[1] == "0" and DOCNO.match(line[2]) for line in lines)
    assert all(line[4].startswith("http") for line in lines)  # the url kept beside each id
    with (ant_news.QUESTIONS_DIR / "pool.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert {(row["qid"], row["docid"]) for row in rows} == {(line[0], line[2]) for line in lines}
    assert len(rows) == len(lines)
    assert all(re.fullmatch(r"[lsh]([1-9]|10)(,[lsh]([1-9]|10))*", row["runs"]) for row in rows)  # top 10 only


def test_a_held_out_id_is_in_the_report_half_and_still_matches_its_kind(tmp_path):
    assert [ant_news.half_of(q) for q in ("aq01", "aq02", "ak07")] == [ant_news.REPORT] * 3
    with pytest.raises(snn_news.JudgedSetError, match="'bq01'"):
        ant_news.half_of("bq01")
    (tmp_path / "queries.tsv").write_text("id\tkind\tquery\naq01\tkeyword\tمن هداف كأس العالم 2018\n", encoding="utf-8")
    with pytest.raises(snn_news.JudgedSetError, match="'aq01' of kind 'keyword'"):
        ant_news.read_queries(tmp_path)


def test_the_paired_comparison_counts_wins_and_tests_them():
    first = {"aq01": 1.0, "aq02": 1.0, "aq03": 0.5}
    second = {"aq01": 0.0, "aq02": 0.5, "aq03": 0.5}
    result = ant_news.paired(first, second)
    assert (result["wins"], result["ties"], result["losses"]) == (2, 1, 0)
    assert result["mean"] == pytest.approx(0.5)
    assert result["sign_p"] == pytest.approx(0.5)  # two wins, no loss: 2 * (1/2)**2
    assert 0.0 <= result["ci_low"] <= result["mean"] <= result["ci_high"] <= 1.0
    # A resample is <= 0 only when it draws aq03 three times (1/27): p near 2/27.
    assert result["bootstrap_p"] == pytest.approx(2 / 27, abs=0.02)
    assert ant_news.paired(first, second) == result  # seeded: the same on every run
    assert ant_news.paired(second, first)["losses"] == 2
    with pytest.raises(ValueError, match="aq03"):
        ant_news.paired(first, {"aq01": 0.0, "aq02": 0.5})

"""The judged SaudiNewsNet set (eval/snn-news) and its scoring; the Lucene peer's skip reasons."""

from __future__ import annotations

import collections
import sys
from pathlib import Path

import pytest

from archive import Document

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))

import lucene_peer  # noqa: E402
import snn_news  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_copies_of_one_article_count_once():
    # Two wire copies of the same story (bodies equal after normalization) and one other story.
    docs = [
        Document(id="a", title="تفجير مسجد قوات الطوارئ في أبها", body="فجر انتحاري نفسه داخل مسجد في أبها."),
        Document(id="a2", title="تفجير أبها", body="فجر انتحاري نفسه داخل مسجد في أبها."),
        Document(id="b", title="الذهب", body="تراجعت أسعار الذهب إلى أدنى مستوى."),
        Document(id="c", title="أمير عسير", body="تفقد أمير منطقة عسير موقع التفجير في مسجد الطوارئ."),
    ]
    group_of = {d.id: d.body_key for d in docs}
    grades = {group_of["a"]: 2, group_of["c"]: 1, group_of["b"]: 0}
    once = snn_news.score_graded(["a", "c", "b"], grades, group_of)
    twice = snn_news.score_graded(["a", "a2", "c", "b"], grades, group_of)
    assert once == twice  # the copy is skipped, not paid a second time
    assert once["nDCG@10"] == pytest.approx(1.0)
    worse = snn_news.score_graded(["b", "c", "a"], grades, group_of)
    assert 0 < worse["nDCG@10"] < once["nDCG@10"]
    assert worse["MRR@10"] == pytest.approx(1 / 2)  # grade 1 counts as relevant for MRR
    assert snn_news.score_graded(["x", "y"], grades, group_of)["judged@10"] == 0.0
    assert snn_news.score_graded(["a", "x"], grades, group_of)["judged@10"] == 0.5
    assert snn_news.score_graded([], grades, group_of) == {"nDCG@10": 0.0, "MRR@10": 0.0, "R@10": 0.0, "judged@10": 1.0}


def test_bad_queries_file_names_file_and_line(tmp_path):
    path = tmp_path / "queries.tsv"
    path.write_text("id\tkind\tquery\nk01\tkeyword\tتفجير مسجد أبها\nk02\ttopic\tأسعار الذهب\n", encoding="utf-8")
    with pytest.raises(snn_news.JudgedSetError, match=r"queries\.tsv:3: kind 'topic'"):
        snn_news.read_queries(path)


def test_bad_qrels_line_names_file_and_line(tmp_path):
    path = tmp_path / "qrels.tsv"
    path.write_text("k01\t0\th-1\t2\thttp://x\nk01\t0\th-2\t3\thttp://y\n", encoding="utf-8")
    with pytest.raises(snn_news.JudgedSetError, match=r"qrels\.tsv:2:"):
        snn_news.read_qrels(path)


def test_the_committed_set_is_complete():
    queries = snn_news.read_queries(snn_news.JUDGED_DIR / "queries.tsv")
    kinds = collections.Counter(kind for _, kind, _ in queries)
    assert len(queries) >= 120 and len({q for q, _, _ in queries}) == len(queries)
    assert kinds["keyword"] >= 45 and min(kinds[k] for k in snn_news.KINDS) >= 20
    qrels = snn_news.read_qrels(snn_news.JUDGED_DIR / "qrels.tsv")
    assert set(qrels) == {q for q, _, _ in queries}  # every query judged
    keyword_relevant = [sum(g > 0 for g in qrels[q].values()) for q, kind, _ in queries if kind == "keyword"]
    assert min(keyword_relevant) >= 3  # keyword topics have several relevant articles
    assert all(any(g > 0 for g in qrels[q].values()) for q, _, _ in queries)  # no query without an answer


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "saudinewsnet").is_dir(), reason="shared SaudiNewsNet data not found at ../shared/data")
def test_judged_ids_are_the_readers_ids():
    from archive.files.readers import read_documents

    ids = {d.id for d in read_documents(DATA / "saudinewsnet", on_error=lambda e: None)}
    qrels = snn_news.read_qrels(snn_news.JUDGED_DIR / "qrels.tsv")
    assert {doc for judged in qrels.values() for doc in judged} <= ids


def test_lucene_without_jar_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv("ANSERINI_JAR", raising=False)
    monkeypatch.setitem(sys.modules, "pyserini", None)  # not importable
    with pytest.raises(lucene_peer.LuceneUnavailable, match="--lucene-jar"):
        lucene_peer.find_jar(tmp_path / "missing.jar")


def test_lucene_without_java_says_so(monkeypatch):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(lucene_peer.LuceneUnavailable, match="no `java` on PATH"):
        lucene_peer.java_version()


def _jar_or_skip() -> Path:
    try:
        lucene_peer.java_version()
        return lucene_peer.find_jar()
    except lucene_peer.LuceneUnavailable as exc:
        pytest.skip(f"Lucene peer unavailable: {exc}")


def test_lucene_peer_ranks_with_the_arabic_analyzer(tmp_path):
    jar = _jar_or_skip()  # set ANSERINI_JAR to the Pyserini 0.25 fat jar to run this
    docs = [
        Document(id="abha", title="تفجير مسجد قوات الطوارئ في أبها", body="فجر انتحاري نفسه داخل مسجد في أبها أثناء صلاة الظهر."),
        Document(id="gold", title="الذهب يتراجع", body="تراجعت أسعار الذهب إلى أدنى مستوى منذ خمس سنوات."),
        Document(id="suez", title="افتتاح قناة السويس الجديدة", body="افتتح الرئيس المصري قناة السويس الجديدة أمس الخميس."),
    ]
    # "بالذهب" meets "الذهب" only through the ArabicAnalyzer's prefix stripping (بال / ال).
    search = lucene_peer.lucene_search(docs, ["بالذهب", "تفجير أبها"], tmp_path, jar)
    assert search("بالذهب") == ["gold"]
    assert search("تفجير أبها")[0] == "abha"
    assert search("سؤال لم يطرح") == []

"""Vectors that grow without rebuilding: add appends to the HNSW graph, delete marks rows dead, compaction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import archive.index.vectors as vectors_module
from archive import Archive, BuildReport, Document
from archive.index.dense import DEAD, DenseIndex
from archive.encoders.hashing import HashingEncoder
from archive.index.layout import current_generation

TOPICS = [
    ("أسعار النفط", "ارتفعت أسعار النفط في الأسواق العالمية بعد قرار منظمة أوبك خفض الإنتاج"),
    ("الانتخابات البرلمانية", "أدلى الناخبون بأصواتهم في الانتخابات البرلمانية وسط إقبال متوسط"),
    ("كرة القدم", "فاز المنتخب الوطني لكرة القدم في مباراة ودية استعدادا للبطولة القارية"),
    ("الزلزال", "ضرب زلزال بقوة ست درجات المنطقة الجبلية وفرق الإغاثة تبحث عن ناجين"),
    ("الذكاء الاصطناعي", "أطلقت شركة ناشئة نموذجا للذكاء الاصطناعي يفهم اللهجات العربية"),
    ("المياه", "حذر خبراء من أزمة مياه حادة بسبب قلة الأمطار وارتفاع درجات الحرارة"),
    ("السياحة", "سجل قطاع السياحة أرقاما قياسية في عدد الزوار خلال موسم الصيف"),
    ("التعليم", "أعلنت وزارة التعليم خطة لتطوير المناهج وتدريب المعلمين في المدارس"),
]
CITIES = ["الرياض", "القاهرة", "بغداد", "دمشق", "عمان", "بيروت", "تونس", "الرباط", "الجزائر", "الدوحة", "مسقط"]


def _articles(n: int, first: int = 0) -> list[Document]:
    out = []
    for i in range(first, first + n):
        topic, sentence = TOPICS[i % len(TOPICS)]
        city = CITIES[(i // len(TOPICS)) % len(CITIES)]
        out.append(Document(id=f"a{i}", title=f"{topic} في {city} رقم {i}",
                            body=f"{sentence} في {city}، بحسب التقرير رقم {i} الصادر اليوم."))
    return out


@pytest.fixture()
def graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An archive of 1,100 one-passage articles whose vectors are an HNSW graph (exact only up to 500)."""
    monkeypatch.setattr(vectors_module, "EXACT_MAX", 500)
    monkeypatch.setattr(vectors_module, "CALIBRATION_RECALL", 0.85)  # these templated texts have many near-ties
    root = tmp_path / "index"
    Archive.build(_articles(1100), root, encoder=HashingEncoder(), procs=1).close()
    return root


def _dense(root: Path) -> DenseIndex:
    return DenseIndex(current_generation(root) / "dense")


@pytest.mark.slow
def test_add_appends_new_vectors_to_the_graph(graph: Path) -> None:
    before = _dense(graph)
    assert before.kind == "hnsw" and len(before) == 1100
    old_vectors = np.array(before.vectors())
    report = BuildReport()
    added = _articles(30, first=5000)
    archive = Archive.update(graph, add=added, report=report)
    after = _dense(graph)
    assert after.kind == "hnsw" and len(after) == 1130 and after.dead == 0
    assert after._vectors.params["appended"] == 30  # noqa: SLF001 - inserted, not rebuilt
    assert np.array_equal(np.array(after.vectors())[:1100], old_vectors)  # old rows untouched, in place
    assert report.embedded == 30 and report.compacted == 0
    for doc in added[:5]:
        assert archive.search(doc.title, mode="semantic", k=3)[0].id == doc.id
    assert Archive.check(graph).healthy
    archive.close()


def test_delete_marks_rows_dead_and_a_large_delete_compacts(graph: Path) -> None:
    gone = [f"a{i}" for i in range(0, 40)]
    archive = Archive.update(graph, delete=gone)
    dense = _dense(graph)
    assert dense.dead == 40 and len(dense) == 1100 and archive.manifest.passages == 1060
    assert int(np.count_nonzero(dense.rows.doc == DEAD)) == 40
    for doc in _articles(40)[:8]:  # a deleted article is never returned, even to its own title
        hits = archive.search(doc.title, mode="semantic", k=20)
        assert doc.id not in {h.id for h in hits} and len(hits) == 20
        assert doc.id not in {h.id for h in archive.search(doc.title, k=20)}
    assert Archive.check(graph).healthy
    archive.close()
    report = BuildReport()
    many = [f"a{i}" for i in range(40, 300)]  # dead rows would pass 20 % of the graph: rebuilt without them
    archive = Archive.update(graph, delete=many, report=report)
    dense = _dense(graph)
    assert report.compacted == 300 and dense.dead == 0 and len(dense) == 800
    assert archive.search(_articles(1, first=500)[0].title, mode="semantic", k=1)[0].id == "a500"
    assert Archive.check(graph).healthy
    archive.close()


def _recall(index: vectors_module.VectorIndex, vectors: np.ndarray, queries: np.ndarray) -> float:
    """Recall@10 against exact search, a tie with the exact 10th score counting as found."""
    found = 0
    for query in queries:
        sims = vectors @ query
        tenth = np.sort(sims)[-10]
        _, rows = index.search(query, 10)
        found += int(np.count_nonzero(sims[rows[0][rows[0] >= 0]] >= tenth - 1e-6))
    return found / (10 * len(queries))


@pytest.mark.slow
def test_appended_graph_finds_what_a_rebuilt_one_finds(graph: Path) -> None:
    Archive.update(graph, add=_articles(100, first=7000)).close()
    dense = _dense(graph)
    vectors = np.array(dense.vectors())
    rng = np.random.default_rng(7)
    queries = vectors[-100:] + 0.05 * rng.standard_normal((100, vectors.shape[1])).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    appended = _recall(dense._vectors, vectors, queries)  # noqa: SLF001 - the graph under test
    rebuilt = vectors_module.VectorIndex.build(vectors, exact_max=500)
    assert rebuilt.kind == "hnsw"
    rebuilt.params["efSearch"] = dense._vectors.ef_search  # noqa: SLF001 - compared at the same search effort
    assert appended >= _recall(rebuilt, vectors, queries) - 0.03 and appended >= 0.9

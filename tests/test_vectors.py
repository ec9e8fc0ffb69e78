"""The vector index: exact search against numpy, HNSW recall, filters, save/load, bad files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import archive.index.vectors as vectors_module
from archive.errors import IndexFormatError
from archive.index.vectors import VectorIndex


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _clustered(rng: np.random.Generator, n: int, dim: int, centres: int = 50) -> np.ndarray:
    middle = rng.standard_normal((centres, dim))
    x = middle[rng.integers(0, centres, n)] + 0.6 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _truth(data: np.ndarray, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
    rows = np.arange(len(data)) if allowed is None else allowed
    sims = queries @ data[rows].T
    return rows[np.argsort(-sims, axis=1, kind="stable")[:, :k]]


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f.tolist()) & set(t.tolist())) / len(t) for f, t in zip(found, truth)]))


@pytest.fixture(scope="module")
def random_hnsw() -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    """20k random unit vectors (dim 32) forced into HNSW, and 200 new queries."""
    rng = np.random.default_rng(1)
    data, queries = _unit(rng, 20_000, 32), _unit(rng, 200, 32)
    index = VectorIndex.build(data, exact_max=1_000)
    assert index.kind == "hnsw"
    return index, data, queries


# --------------------------------------------------------------------- exact
def test_exact_search_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    data, queries = _unit(rng, 3_000, 64), _unit(rng, 7, 64)
    index = VectorIndex.build(data)
    assert (index.kind, index.dim, len(index)) == ("flat", 64, 3_000)
    scores, rows = index.search(queries, 10)
    assert scores.shape == rows.shape == (7, 10) and rows.dtype == np.int64 and scores.dtype == np.float32
    assert (rows == _truth(data, queries, 10)).all()
    assert np.allclose(scores, np.take_along_axis(queries @ data.T, rows, axis=1), atol=1e-5)
    one_scores, one_rows = index.search(queries[0], 10)  # a single 1-D query
    assert (one_rows[0] == rows[0]).all() and np.allclose(one_scores[0], scores[0])


def test_fewer_rows_than_k_are_padded() -> None:
    rng = np.random.default_rng(0)
    index = VectorIndex.build(_unit(rng, 3, 8))
    scores, rows = index.search(_unit(rng, 2, 8), 5)
    assert (rows[:, 3:] == -1).all() and np.isneginf(scores[:, 3:]).all()
    assert sorted(rows[0, :3].tolist()) == [0, 1, 2]
    empty = VectorIndex.build(np.zeros((0, 8), dtype=np.float32))
    scores, rows = empty.search(_unit(rng, 1, 8), 4)
    assert len(empty) == 0 and (rows == -1).all() and np.isneginf(scores).all()


def test_bad_arguments() -> None:
    rng = np.random.default_rng(0)
    index = VectorIndex.build(_unit(rng, 10, 8))
    with pytest.raises(ValueError, match="queries"):
        index.search(_unit(rng, 1, 9), 3)
    with pytest.raises(ValueError, match="k must"):
        index.search(_unit(rng, 1, 8), 0)
    with pytest.raises(ValueError, match="allowed"):
        index.search(_unit(rng, 1, 8), 3, allowed=np.array([3, 10]))
    with pytest.raises(ValueError, match="vectors"):
        VectorIndex.build(np.zeros(8, dtype=np.float32))


# ---------------------------------------------------------------------- HNSW
@pytest.mark.slow
def test_hnsw_recall_against_exact_on_random_vectors(random_hnsw: tuple[VectorIndex, np.ndarray, np.ndarray]) -> None:
    index, data, queries = random_hnsw
    assert index.params["efSearch"] in vectors_module.EF_LADDER
    assert index.params["calibrationRecall"] >= vectors_module.CALIBRATION_RECALL
    _, rows = index.search(queries, 10)
    assert _recall(rows, _truth(data, queries, 10)) >= 0.98
    _, single = index.search(queries[0], 10)
    assert (single[0] == rows[0]).all()


@pytest.mark.slow
def test_hnsw_recall_against_exact_on_clustered_vectors() -> None:
    rng = np.random.default_rng(2)
    data = _clustered(rng, 8_000, 64)
    queries = _clustered(np.random.default_rng(2), 8_100, 64)[-100:]  # same centres, new points
    index = VectorIndex.build(data, exact_max=1_000)
    assert index.kind == "hnsw"
    _, rows = index.search(queries, 10)
    assert _recall(rows, _truth(data, queries, 10)) >= 0.98


@pytest.mark.slow
def test_hnsw_that_cannot_reach_the_recall_stays_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vectors_module, "CALIBRATION_RECALL", 1.01)  # no efSearch can reach it
    rng = np.random.default_rng(3)
    data = _unit(rng, 2_000, 16)
    index = VectorIndex.build(data, exact_max=100)
    assert index.kind == "flat" and len(index) == 2_000
    queries = _unit(rng, 5, 16)
    assert (index.search(queries, 5)[1] == _truth(data, queries, 5)).all()


def test_small_inputs_are_always_exact() -> None:
    index = VectorIndex.build(_unit(np.random.default_rng(4), vectors_module.HNSW_MIN, 8), exact_max=0)
    assert index.kind == "flat"


# -------------------------------------------------------------------- filter
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_filter_returns_only_allowed_rows_and_finds_them_all(
    kind: str, random_hnsw: tuple[VectorIndex, np.ndarray, np.ndarray]
) -> None:
    hnsw, data, queries = random_hnsw
    index = hnsw if kind == "hnsw" else VectorIndex.build(data)
    assert index.kind == kind
    allowed = np.array([5, 17, 999, 12_500, 19_999], dtype=np.int64)  # very selective: 5 of 20k
    scores, rows = index.search(queries[:20], 10, allowed=allowed)
    for q, (s, r) in enumerate(zip(scores, rows)):
        assert sorted(r[:5].tolist()) == allowed.tolist() and (r[5:] == -1).all()
        assert r[0] == allowed[np.argmax(data[allowed] @ queries[q])]
        assert (np.diff(s[:5]) <= 0).all() and np.isneginf(s[5:]).all()


@pytest.mark.slow
def test_filtered_hnsw_walk_matches_exact(
    monkeypatch: pytest.MonkeyPatch, random_hnsw: tuple[VectorIndex, np.ndarray, np.ndarray]
) -> None:
    index, data, queries = random_hnsw
    monkeypatch.setattr(vectors_module, "FILTER_EXACT_MAX", 0)  # force the graph walk with a selector
    rng = np.random.default_rng(5)
    for share in (0.5, 0.05):
        allowed = np.sort(rng.choice(len(data), int(len(data) * share), replace=False))
        _, rows = index.search(queries[:50], 10, allowed=allowed)
        assert np.isin(rows, allowed).all()  # complete: no -1
        assert _recall(rows, _truth(data, queries[:50], 10, allowed)) >= 0.95


@pytest.mark.slow
def test_filter_too_selective_for_the_walk_is_redone_exactly(
    monkeypatch: pytest.MonkeyPatch, random_hnsw: tuple[VectorIndex, np.ndarray, np.ndarray]
) -> None:
    index, data, queries = random_hnsw
    monkeypatch.setattr(vectors_module, "FILTER_EXACT_MAX", 0)
    monkeypatch.setattr(vectors_module, "FILTER_EF_MAX", 10)  # a walk too narrow to meet 40 allowed rows
    allowed = np.arange(0, 20_000, 500)
    _, rows = index.search(queries[:10], 10, allowed=allowed)
    assert (rows == _truth(data, queries[:10], 10, allowed)).all()


def test_unsorted_allowed_rows_are_accepted() -> None:
    rng = np.random.default_rng(6)
    data, query = _unit(rng, 100, 8), _unit(rng, 1, 8)
    index = VectorIndex.build(data)
    a = index.search(query, 3, allowed=np.array([50, 3, 3, 70, 9]))
    b = index.search(query, 3, allowed=np.array([3, 9, 50, 70]))
    assert (a[1] == b[1]).all()
    assert (index.search(query, 3, allowed=np.array([], dtype=np.int64))[1] == -1).all()


# ----------------------------------------------------------------- save/load
@pytest.mark.parametrize("mmap", [True, False])
def test_flat_round_trip(tmp_path: Path, mmap: bool) -> None:
    rng = np.random.default_rng(7)
    data, queries = _unit(rng, 500, 16), _unit(rng, 5, 16)
    index = VectorIndex.build(data)
    index.save(tmp_path / "v")
    meta = json.loads((tmp_path / "v" / "index.json").read_text())
    assert meta == {"format": vectors_module.VECTORS_FORMAT, "kind": "flat", "dim": 16, "count": 500, "params": {}}
    again = VectorIndex.load(tmp_path / "v", mmap=mmap)
    assert (again.kind, again.dim, len(again)) == ("flat", 16, 500)
    allowed = np.arange(0, 500, 7)
    for kwargs in ({}, {"allowed": allowed}):
        before, after = index.search(queries, 10, **kwargs), again.search(queries, 10, **kwargs)
        assert (before[1] == after[1]).all() and (before[0] == after[0]).all()


@pytest.mark.slow
@pytest.mark.parametrize("mmap", [True, False])
def test_hnsw_round_trip(
    tmp_path: Path, random_hnsw: tuple[VectorIndex, np.ndarray, np.ndarray], mmap: bool
) -> None:
    index, _, queries = random_hnsw
    index.save(tmp_path / "v")
    meta = json.loads((tmp_path / "v" / "index.json").read_text())
    assert meta["kind"] == "hnsw" and meta["count"] == 20_000 and meta["params"] == index.params
    again = VectorIndex.load(tmp_path / "v", mmap=mmap)
    assert (again.kind, again.dim, len(again), again.params) == ("hnsw", 32, 20_000, index.params)
    # An open index outlives its files: a newer generation may replace (delete) them meanwhile.
    shutil.rmtree(tmp_path / "v")
    allowed = np.arange(0, 20_000, 3)
    for kwargs in ({}, {"allowed": allowed}, {"allowed": allowed[:100]}):
        before, after = index.search(queries, 10, **kwargs), again.search(queries, 10, **kwargs)
        assert (before[1] == after[1]).all() and np.allclose(before[0], after[0])


def test_empty_round_trip(tmp_path: Path) -> None:
    VectorIndex.build(np.zeros((0, 12), dtype=np.float32)).save(tmp_path / "v")
    again = VectorIndex.load(tmp_path / "v")
    assert (len(again), again.dim) == (0, 12)


def test_save_replaces_an_old_index_and_leaves_no_temporaries(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    VectorIndex.build(_unit(rng, 10, 8)).save(tmp_path / "v")
    old = VectorIndex.load(tmp_path / "v")  # memory-mapped: the old file must stay readable
    VectorIndex.build(_unit(rng, 20, 4)).save(tmp_path / "v")
    assert [p.name for p in tmp_path.iterdir()] == ["v"]
    assert (len(VectorIndex.load(tmp_path / "v")), VectorIndex.load(tmp_path / "v").dim) == (20, 4)
    assert old.search(_unit(rng, 1, 8), 3)[1].shape == (1, 3)


# ------------------------------------------------------------------ bad files
def _saved(tmp_path: Path, kind: str) -> Path:
    rng = np.random.default_rng(9)
    index = VectorIndex.build(_unit(rng, 1_500, 8), exact_max=100 if kind == "hnsw" else 10_000)
    assert index.kind == kind
    index.save(tmp_path / "v")
    return tmp_path / "v"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["flat", "hnsw"])
@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "missing"])
def test_corrupt_data_file_is_a_format_error(tmp_path: Path, kind: str, damage: str) -> None:
    directory = _saved(tmp_path, kind)
    data = directory / ("vectors.npy" if kind == "flat" else "index.faiss")
    if damage == "missing":
        data.unlink()
    else:
        content = {"garbage": b"not an index" * 10, "truncated": data.read_bytes()[:-100], "empty": b""}[damage]
        data.write_bytes(content)
    for mmap in (True, False):
        with pytest.raises(IndexFormatError, match="archive build --full"):
            VectorIndex.load(directory, mmap=mmap)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": 1}, "format 1, expected"),
        ({"kind": "ivf"}, "unknown vector index kind"),
        ({"count": 7}, "metadata says 7"),
        ({"dim": 9}, "metadata says"),
        ({"params": {}}, "efSearch"),
    ],
)
def test_metadata_that_does_not_match_is_a_format_error(tmp_path: Path, change: dict, message: str) -> None:
    directory = _saved(tmp_path, "hnsw")
    meta = json.loads((directory / "index.json").read_text())
    (directory / "index.json").write_text(json.dumps({**meta, **change}))
    with pytest.raises(IndexFormatError, match=message):
        VectorIndex.load(directory)


@pytest.mark.parametrize("text", [None, "", "{not json", "[1, 2]", '{"format": 2}'])
def test_missing_or_unreadable_metadata_is_a_format_error(tmp_path: Path, text: str | None) -> None:
    directory = _saved(tmp_path, "flat")
    if text is None:
        (directory / "index.json").unlink()
    else:
        (directory / "index.json").write_text(text)
    with pytest.raises(IndexFormatError, match="metadata unreadable"):
        VectorIndex.load(directory)
    with pytest.raises(IndexFormatError):
        VectorIndex.load(tmp_path / "nowhere")


_OUTLIVE = """
import gc, sys
import numpy as np
import archive.index.vectors as vectors
rng = np.random.default_rng(3)
data = rng.standard_normal((1200, 16)).astype(np.float32)
data /= np.linalg.norm(data, axis=1, keepdims=True)
vectors.CALIBRATION_RECALL = 0.5
index = vectors.VectorIndex.build(data, exact_max=100)
assert index.kind == "hnsw"
index.save(sys.argv[1])
loaded = vectors.VectorIndex.load(sys.argv[1])  # memory-mapped
matrix = loaded.matrix()
del index, loaded
gc.collect()
assert np.array_equal(matrix, data)
"""


@pytest.mark.slow
def test_hnsw_vectors_stay_readable_after_their_index_is_dropped(tmp_path: Path) -> None:
    # The matrix of a loaded graph was a bare view of FAISS memory: once the index was collected,
    # reading it hit unmapped memory and the process died (SIGSEGV), as in a helper keeping
    # ``DenseIndex.vectors()`` rows after the handle went out of scope.
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", _OUTLIVE, str(tmp_path / "graph")], check=False,
                            env={"PYTHONPATH": str(root)},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


_MAPPED = """
import sys
import numpy as np
import archive.index.vectors as vectors
loaded = vectors.VectorIndex.load(sys.argv[1])
assert loaded.kind == "hnsw" and "faiss" not in sys.modules, "opening an HNSW index imported FAISS"
matrix = np.array(loaded.matrix())
np.save(sys.argv[2], matrix)
scores, rows = loaded.search(matrix[:3], 1)  # a graph search reads the graph now
assert "faiss" in sys.modules and rows[:, 0].tolist() == [0, 1, 2], rows
"""


@pytest.mark.slow
def test_hnsw_vectors_are_mapped_without_faiss_and_the_graph_read_when_searched(tmp_path: Path) -> None:
    # A cold semantic query needs only the vectors (its nearest articles come from every article's
    # exact best cosine): they are mapped from the end of the FAISS file, FAISS is not imported.
    import subprocess
    import sys

    directory = _saved(tmp_path, "hnsw")
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", _MAPPED, str(directory), str(tmp_path / "m.npy")], check=False,
                            env={"PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert np.array_equal(np.load(tmp_path / "m.npy"), VectorIndex.load(directory, mmap=False).matrix())


@pytest.mark.slow
def test_a_damaged_graph_behind_sound_vectors_is_a_format_error_when_read(tmp_path: Path) -> None:
    directory = _saved(tmp_path, "hnsw")
    data = directory / "index.faiss"
    content = bytearray(data.read_bytes())
    content[16:64] = b"\xff" * 48  # the graph's first fields, after the header the mapping checks
    data.write_bytes(bytes(content))
    loaded = VectorIndex.load(directory)  # the vectors at the end are intact: they map
    assert loaded.matrix().shape == (1_500, 8)
    with pytest.raises(IndexFormatError, match="archive build --full"):
        loaded.graph()


@pytest.mark.parametrize("change", ["fourcc", "count"])
def test_an_unexpected_layout_is_read_by_faiss_instead(tmp_path: Path, change: str) -> None:
    from archive.index.vectors import _tail_vectors

    directory = _saved(tmp_path, "hnsw")
    data = directory / "index.faiss"
    assert _tail_vectors(data, 1_500, 8) is not None
    if change == "fourcc":
        data.write_bytes(b"IHNx" + data.read_bytes()[4:])
        assert _tail_vectors(data, 1_500, 8) is None
        with pytest.raises(IndexFormatError):
            VectorIndex.load(directory)
    else:
        assert _tail_vectors(data, 1_499, 8) is None and _tail_vectors(data, 1_500, 9) is None

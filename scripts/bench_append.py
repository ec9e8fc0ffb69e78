"""Recall of a vector graph that grew by appends, against exact search and against a rebuilt graph.

    python scripts/bench_append.py INDEX [--queries FILE.json] [--rebuild]

Encodes the queries (a JSON list of strings, e.g. the benchmark queries scripts/bench.py writes,
``n62199-queries.json``) with the archive's encoder, and measures recall@10 of the index's
passage search (HNSW, at its calibrated efSearch) against exact search over the same vectors,
over the queries as written and over the vectors of the last appended rows (queries that land
where the appended rows are). ``--rebuild`` also builds a fresh graph over the same vectors
and measures it the same way, for comparison at the same efSearch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archive import Archive  # noqa: E402
from archive.index.vectors import VectorIndex, _exact  # noqa: E402


def recall(index: VectorIndex, vectors: np.ndarray, queries: np.ndarray, live: np.ndarray | None) -> float:
    """Mean recall@10 of ``index`` against exact search over the ``live`` rows (all when None)."""
    _, truth = _exact(vectors, queries, 10, live)
    _, found = index.search(queries, 10, allowed=live)
    return float(np.mean([len(np.intersect1d(f[f >= 0], t)) / 10 for f, t in zip(found, truth)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index", type=Path)
    parser.add_argument("--queries", type=Path, default=Path.home() / ".cache/news-archive/bench/n62199-queries.json")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    with Archive.open(args.index) as archive:
        dense = archive._searcher.dense  # noqa: SLF001 - the vector side under test
        index = dense._vectors  # noqa: SLF001
        vectors = np.array(dense.vectors())
        live = np.flatnonzero(dense.rows.doc >= 0) if dense.dead else None
        texts = json.loads(args.queries.read_text(encoding="utf-8"))
        written = archive._query_encoder().encode_queries(texts)  # noqa: SLF001
    appended = int(index.params.get("appended", 0))
    rng = np.random.default_rng(0)
    near = vectors[-max(appended, 1):][rng.choice(max(appended, 1), size=min(200, max(appended, 1)), replace=False)]
    near = near + 0.02 * rng.standard_normal(near.shape).astype(np.float32)
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    result = {"rows": len(vectors), "dead": dense.dead, "appended": appended, "kind": index.kind,
              "efSearch": index.ef_search, "recall@10 queries": recall(index, vectors, written, live),
              "recall@10 near appended rows": recall(index, vectors, near, live)}
    if args.rebuild and index.kind == "hnsw":
        started = time.perf_counter()
        fresh = VectorIndex.build(vectors if live is None else vectors[live])
        result["rebuild_s"] = round(time.perf_counter() - started, 1)
        fresh.params["efSearch"] = index.ef_search
        kept = vectors if live is None else vectors[live]
        result["rebuilt recall@10 queries"] = recall(fresh, kept, written, None)
        result["rebuilt recall@10 near appended rows"] = recall(fresh, kept, near, None)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

"""Recall and latency of the approximate (HNSW) vector index against exact search.

    python scripts/bench_vectors.py [--n 100000] [--dim 384] [--queries 200]

Two kinds of unit vectors: uniform random (the hardest case for HNSW) and
clustered (closer to real embeddings: 200 centres plus noise). Reports
recall@10 of HNSW against exact inner-product search, single-query latency
(median over the queries) of both, build time and cold load time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive.index.vectors import EF_LADDER, HNSW_EF_CONSTRUCTION, HNSW_M, VectorIndex  # noqa: E402


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def datasets(n: int, dim: int, queries: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((200, dim))
    clustered = centres[rng.integers(0, 200, n + queries)] + 0.6 * rng.standard_normal((n + queries, dim))
    uniform = rng.standard_normal((n + queries, dim))
    return {
        "uniform": (unit(uniform[:n]), unit(uniform[n:])),
        "clustered": (unit(clustered[:n]), unit(clustered[n:])),
    }


def latency_ms(index: VectorIndex, queries: np.ndarray) -> float:
    times = []
    for q in queries:
        started = time.perf_counter()
        index.search(q[None, :], 10)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    print(f"n={args.n} dim={args.dim}; HNSW M={HNSW_M} efConstruction={HNSW_EF_CONSTRUCTION} efSearch calibrated from {EF_LADDER}\n")
    print("| vectors | kind | efSearch | recall@10 | exact ms | index ms | build s | cold load ms |")
    print("|---|---|---|---|---|---|---|---|")
    for name, (data, queries) in datasets(args.n, args.dim, args.queries).items():
        exact = VectorIndex.build(data, exact_max=args.n)
        started = time.perf_counter()
        hnsw = VectorIndex.build(data, exact_max=0)
        build_s = time.perf_counter() - started
        _, truth = exact.search(queries, 10)
        _, approx = hnsw.search(queries, 10)
        recall = np.mean([len(set(a) & set(t)) / 10 for a, t in zip(approx, truth)])
        with tempfile.TemporaryDirectory() as tmp:
            hnsw.save(Path(tmp) / "v")
            started = time.perf_counter()
            VectorIndex.load(Path(tmp) / "v")
            load_ms = (time.perf_counter() - started) * 1000
        print(f"| {name} | {hnsw.kind} | {hnsw.ef_search or '-'} | {recall:.3f} | {latency_ms(exact, queries):.2f} | {latency_ms(hnsw, queries):.2f} | "
              f"{build_s:.1f} | {load_ms:.0f} |", flush=True)


if __name__ == "__main__":
    main()

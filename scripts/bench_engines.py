"""e5-small's engines side by side: speed, agreement with float32, retrieval, per engine.

    python scripts/bench_engines.py speed [--passages 512] [--rounds 5] [--engines numpy,bf16,int8]
    python scripts/bench_engines.py agreement [--passages 1000] [--engines bf16,int8]
    python scripts/bench_engines.py retrieval [--engines numpy,bf16,int8]

``speed``: the same real passages (SaudiNewsNet and ANT articles, cut as the archive cuts
them) encoded by each engine in turn, the engines alternating round after round so that
other load on the machine hits them alike; reported are each engine's median passages/s
and the median of its per-round ratios to the numpy engine (the float32 forward pass,
which the default ran on before the engines), plus one short query's median latency, warm.

``agreement``: the cosine of each engine's vectors with the numpy engine's on the same
passages: minimum, 1st percentile, mean.

``retrieval``: MRR@10 of dense retrieval on ARCD test and XQuAD (each paragraph a document
scored by its best passage, each question a query), with passages and queries encoded by
every pair of engines: the passages of an archive may come from one engine and its queries
from another (a cold ``archive search`` encodes its query on numpy; a warm server on the
fast engine), so the pairs say whether vectors of different engines may share an index.

ANT must be unpacked under ``--ant`` (``tar -xJf ../shared/data/ant-multisource-v2.1.tar.xz -C /tmp/ant``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive.encoders import get_encoder  # noqa: E402
from archive.files.readers import list_source_files, read_file  # noqa: E402
from archive.index.dense import MAX_PASSAGES, plan_passages  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
QUERY = "قوات كورية في كورسك"


def real_passages(count: int, ant: Path) -> list[str]:
    """``count`` passages, half from SaudiNewsNet articles, half from ANT, cut as the archive cuts them."""
    rng = random.Random(0)
    snn = [d for z in sorted((DATA / "saudinewsnet").glob("*.zip"))[:3]
           for d in read_file(z, on_error=lambda _: None)]
    rng.shuffle(snn)
    texts = plan_passages(snn[:count], 0, MAX_PASSAGES)[1]
    rng.shuffle(texts)
    half = texts[: count // 2]
    if not ant.is_dir():
        raise SystemExit(f"ANT is not unpacked at {ant}: tar -xJf {DATA}/ant-multisource-v2.1.tar.xz -C {ant}")
    files = list_source_files(ant)
    rng.shuffle(files)
    docs = [d for path in files[:count] for d in read_file(path, on_error=lambda _: None)]
    ant_texts = plan_passages(docs, 0, MAX_PASSAGES)[1]
    rng.shuffle(ant_texts)
    return half + ant_texts[: count - len(half)]


def encoders(names: list[str], threads: int | None):
    out = {}
    for name in names:
        encoder = get_encoder("e5-small", threads=threads, engine=name)
        encoder.warm()
        out[name] = encoder
    return out


def speed(args: argparse.Namespace) -> None:
    texts = real_passages(args.passages, args.ant)
    engines = encoders(["numpy", *[e for e in args.engines if e != "numpy"]], args.threads)
    pieces = sum(len(p) + 2 for p in engines["numpy"].pieces(texts, False))
    print(f"{len(texts)} passages, {pieces} pieces; load before: {os.getloadavg()[0]:.1f}")
    for encoder in engines.values():  # compile every shape once before timing
        encoder.encode_passages(texts[:64])
    rates: dict[str, list[float]] = {name: [] for name in engines}
    ratios: dict[str, list[float]] = {name: [] for name in engines}
    order = list(engines)
    for round_ in range(args.rounds):
        seconds = {}
        for name in (order if round_ % 2 == 0 else order[::-1]):
            started = time.perf_counter()
            engines[name].encode_passages(texts)
            seconds[name] = time.perf_counter() - started
            rates[name].append(len(texts) / seconds[name])
        for name in engines:
            ratios[name].append(seconds["numpy"] / seconds[name])
        print(f"round {round_ + 1}: " + ", ".join(f"{n} {rates[n][-1]:.1f}/s" for n in engines), flush=True)
    print(f"load after: {os.getloadavg()[0]:.1f}")
    print("| engine | passages/s (median) | x numpy (median of rounds) | query, warm (ms) |")
    print("|---|---|---|---|")
    for name, encoder in engines.items():
        latency = []
        for _ in range(21):
            started = time.perf_counter()
            encoder.encode_queries([QUERY])
            latency.append(time.perf_counter() - started)
        print(f"| {encoder.engine_runtime} | {statistics.median(rates[name]):.1f} | "
              f"{statistics.median(ratios[name]):.2f} | {1000 * statistics.median(latency):.1f} |")


def agreement(args: argparse.Namespace) -> None:
    texts = real_passages(args.passages, args.ant)
    engines = encoders(["numpy", *[e for e in args.engines if e != "numpy"]], args.threads)
    reference = engines.pop("numpy").encode_passages(texts)
    print(f"| engine | passages | min cosine | 1st percentile | mean |")
    print("|---|---|---|---|---|")
    for name, encoder in engines.items():
        cosines = np.einsum("ij,ij->i", encoder.encode_passages(texts), reference)
        print(f"| {encoder.engine_runtime} | {len(texts)} | {cosines.min():.5f} | "
              f"{np.percentile(cosines, 1):.5f} | {cosines.mean():.6f} |", flush=True)


def _squad(path: Path) -> tuple[list[str], list[tuple[str, int]]]:
    paragraphs, questions = [], []
    for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
        for p in article["paragraphs"]:
            paragraphs.append(p["context"])
            questions.extend((q["question"], len(paragraphs) - 1) for q in p["qas"])
    return paragraphs, questions


def _mrr(passage_vectors: np.ndarray, owner: np.ndarray, queries: np.ndarray, truth: np.ndarray, docs: int) -> float:
    scores = queries @ passage_vectors.T
    best = np.full((len(queries), docs), -np.inf, dtype=np.float32)
    for column, doc in enumerate(owner):
        np.maximum(best[:, doc], scores[:, column], out=best[:, doc])
    ranks = (best > best[np.arange(len(truth)), truth][:, None]).sum(axis=1)
    return float(np.where(ranks < 10, 1.0 / (ranks + 1), 0.0).mean())


def retrieval(args: argparse.Namespace) -> None:
    from archive.document import Document

    engines = encoders(["numpy", *[e for e in args.engines if e != "numpy"]], args.threads)
    sets = {"ARCD test": DATA / "arcd" / "arcd-test.json", "XQuAD": DATA / "xquad" / "xquad.ar.json"}
    print("| set | passages by | queries by | MRR@10 |")
    print("|---|---|---|---|")
    for label, path in sets.items():
        paragraphs, questions = _squad(path)
        rows, texts = plan_passages([Document(id=str(i), title="", body=p) for i, p in enumerate(paragraphs)],
                                    0, MAX_PASSAGES)
        owner = np.asarray(rows.doc)
        truth = np.array([t for _, t in questions])
        passages = {n: e.encode_passages(texts) for n, e in engines.items()}
        queries = {n: e.encode_queries([q for q, _ in questions]) for n, e in engines.items()}
        for p_name, p_vectors in passages.items():
            for q_name, q_vectors in queries.items():
                mrr = _mrr(p_vectors, owner, q_vectors, truth, len(paragraphs))
                print(f"| {label} | {engines[p_name].engine_runtime} | {engines[q_name].engine_runtime} | "
                      f"{mrr:.4f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["speed", "agreement", "retrieval"])
    parser.add_argument("--passages", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--engines", type=lambda s: s.split(","), default=["numpy", "bf16", "int8"])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--ant", type=Path, default=Path("/tmp/ant"))
    args = parser.parse_args()
    {"speed": speed, "agreement": agreement, "retrieval": retrieval}[args.what](args)


if __name__ == "__main__":
    main()

"""Calibrate the similarity floor of each encoder: how near by meaning an article must be to count.

A search by meaning always has a nearest article; the floor
(:mod:`archive.search.floor`) says when the nearest is still not near. For each
encoder this script builds (or reuses, under ``--cache``) an archive of each
SQuAD-style benchmark (every paragraph an article, every question a query with
one relevant paragraph), encodes every question, and records:

* the relevant paragraph's cosine (its best passage), whatever its rank: a floor
  above it would drop a real answer;
* the best cosine of any article, for off-topic queries (``OFF_TOPIC``: typing
  noise and news topics the archive has no article on) over the same archives,
  and over an archive of ANT sport articles (news of other topics).

The floor is chosen on the dev sets only (ARCD train and XQuAD, pooled): the
highest cosine (in steps of 0.005) at which a semantic search still finds at
least ``--keep`` (default 0.95) of the answers. A hybrid search, the default
mode, loses fewer: an answer is lost there only when it is below the floor
and holds none of the question's words. Both losses are checked on ARCD test
(never tuned on), with the share of off-topic queries that find nothing,
along a curve of floors around the chosen one: e5-small's cosines sit in a
narrow band, and no floor keeps 99% of the answers while turning most
off-topic queries away (docs/evaluation.md). Figures go to ``--json``.

    python scripts/calibrate_floor.py --data ../shared/data --encoder e5-small --encoder use-multilingual \\
        --encoder hashing --json docs/floor-calibration.json
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaluate  # noqa: E402
from archive import Archive, Document  # noqa: E402

TUNE = ("arcd-train", "xquad")
CHECK = ("arcd-test",)
OFF_TOPIC = (
    "qwertyuiop", "asdfghjkl zxcvbnm", "oil prices", "أسعار النفط", "xkcd 12345 lorem ipsum",
    "وصفة الكبسة باللحم والأرز", "حجز تذاكر طيران رخيصة", "سعر هاتف آيفون الجديد",
    "لقاح فيروس كورونا", "best pizza recipe", "how to fix a car engine", "عروض تخفيضات الجمعة البيضاء",
)
"""Queries no article of the benchmarks (Wikipedia paragraphs) or of the sport archive is about.
``oil prices`` is off-topic for ARCD and the sport archive; XQuAD holds the "1973 oil crisis"
paragraphs, so there it is a real query (its rows say so)."""
SPORT_ARTICLES = 300
"""ANT sport articles in the archive of other topics (the first of the category, sorted by file)."""


def article_scores(archive: Archive, queries: list[str]) -> np.ndarray:
    """``[queries, articles]`` best passage cosine of every article (by ordinal) for each query."""
    searcher = archive._searcher  # noqa: SLF001 - a measurement of the index itself
    vectors = archive._query_encoder().encode_queries(queries)  # noqa: SLF001
    return np.stack([searcher.dense.article_scores(v) for v in vectors])


def word_matches(archive: Archive, query: str) -> set[str]:
    """Ids of the articles holding the query's words (what hybrid keeps whatever the floor)."""
    return {h.id for h in archive.search(query, k=1000, mode="lexical")}


def measure(archive: Archive, bench: evaluate.Benchmark) -> dict[str, list[float]]:
    """The relevant paragraph's cosine and the best cosine, for every question of ``bench``."""
    ordinal = {doc_id: i for i, doc_id in enumerate(archive._searcher.lexical.ids)}  # noqa: SLF001
    texts = [evaluate.as_keywords(q) for _, q, _ in bench.queries]
    relevant, best, word_hit = [], [], []
    for start in range(0, len(texts), 64):
        scores = article_scores(archive, texts[start : start + 64])
        for row, (_, _, rel) in zip(scores, bench.queries[start : start + 64]):
            relevant.append(float(max(row[ordinal[r]] for r in rel)))
            best.append(float(row.max()))
    for text, (_, _, rel) in zip(texts, bench.queries):
        word_hit.append(float(bool(word_matches(archive, text) & rel)))
    return {"relevant": relevant, "best": best, "word_hit": word_hit}


GRID = [round(x, 3) for x in np.arange(0.0, 1.0, 0.005)]
"""The floors tried (cosines)."""


def pooled(runs: dict[str, dict[str, list[float]]], names: tuple[str, ...]) -> dict[str, list[float]]:
    return {key: [v for name in names for v in runs[name][key]] for key in ("relevant", "best", "word_hit")}


def choose_floor(dev: dict[str, list[float]], keep: float) -> float:
    """The highest floor of :data:`GRID` at which a semantic search still finds ``keep`` of the dev
    answers (a hybrid search loses fewer: it keeps every article holding the query's words)."""
    best = 0.0
    for floor in GRID:
        if 1.0 - lost(dev, floor)["semantic"] >= keep:
            best = floor
    return best


def lost(run: dict[str, list[float]], floor: float) -> dict[str, float]:
    """Shares of answers a floor drops: by meaning alone, and in hybrid (no word match either)."""
    n = len(run["relevant"])
    below = [r < floor for r in run["relevant"]]
    return {
        "semantic": round(sum(below) / n, 4),
        "hybrid": round(sum(b and not w for b, w in zip(below, run["word_hit"])) / n, 4),
        "queries": n,
    }


def sport_archive(data: Path, cache: Path, encoder: str) -> Archive:
    """An archive of ANT sport articles: news, none about the off-topic queries' subjects."""
    root = cache / "ant-unpacked"
    if not root.is_dir():
        evaluate._ant_articles(data, cache)  # noqa: SLF001 - unpacks the corpus once
    docs = []
    for path in sorted(root.glob("*/sport/*.txt"))[:SPORT_ARTICLES]:
        raw = path.read_text(encoding="utf-8", errors="replace")
        title = (re.search(r"<TITLE>(.*?)</TITLE>", raw, re.S) or [None, ""])[1].strip()
        body = (re.search(r"<TEXT>(.*?)</TEXT>", raw, re.S) or [None, ""])[1].strip()
        if body:
            docs.append(Document(id=path.stem, title=title, body=body))
    name = f"ant-sport-{encoder.replace('/', '_').replace(':', '_')}"
    return Archive.build(docs, cache / name, procs=1, encoder=encoder, prune=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=evaluate.DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=evaluate.DEFAULT_CACHE)
    parser.add_argument("--encoder", action="append", help="encoders to calibrate (default: e5-small)")
    parser.add_argument("--keep", type=float, default=0.95,
                        help="share of dev answers a semantic search must still find at the floor")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    out: dict[str, object] = {"keep": args.keep, "tuned_on": list(TUNE), "checked_on": list(CHECK),
                              "off_topic_queries": list(OFF_TOPIC), "encoders": {}}
    for encoder in args.encoder or ["e5-small"]:
        runs, off = {}, {}
        for name in (*TUNE, *CHECK):
            archive = evaluate.build_cached(evaluate.load_benchmark(name, args.data, args.cache), encoder, args.cache)
            runs[name] = measure(archive, evaluate.load_benchmark(name, args.data, args.cache))
            off[name] = article_scores(archive, list(OFF_TOPIC)).max(axis=1).tolist()
            archive.close()
        with sport_archive(args.data, args.cache, encoder) as archive:
            off["ant-sport"] = article_scores(archive, list(OFF_TOPIC)).max(axis=1).tolist()
            off["ant-sport-size"] = len(archive)
        dev = pooled(runs, TUNE)
        floor = choose_floor(dev, args.keep)
        offs = [v for name, vals in off.items() if isinstance(vals, list) for v in vals]
        curve = {f"{f:.3f}": {"dev": lost(dev, f), "arcd-test": lost(runs["arcd-test"], f),
                              "off_topic_rejected": round(sum(v < f for v in offs) / len(offs), 3)}
                 for f in GRID if floor - 0.04 <= f <= floor + 0.04}
        quantiles = {name: {q: round(float(np.quantile(run["relevant"], q)), 4) for q in (0.01, 0.05, 0.5)}
                     for name, run in runs.items()}
        result = {
            "floor": floor,
            "lost_at_floor": {**{name: lost(run, floor) for name, run in runs.items()}, "dev": lost(dev, floor)},
            "curve": curve,
            "relevant_cosine_quantiles": quantiles,
            "median_best_cosine": {name: round(statistics.median(run["best"]), 4) for name, run in runs.items()},
            "off_topic_best": {k: [round(v, 4) for v in vals] if isinstance(vals, list) else vals
                               for k, vals in off.items()},
            "off_topic_answered_nothing": {k: f"{sum(v < floor for v in vals)}/{len(vals)}"
                                           for k, vals in off.items() if isinstance(vals, list)},
        }
        out["encoders"][encoder] = result  # type: ignore[index]
        print(json.dumps({encoder: result}, ensure_ascii=False, indent=1), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

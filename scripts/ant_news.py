"""The judged ANT news set (``eval/ant-news``): nDCG@10 per search mode and query kind, dev and test halves.

    python scripts/ant_news.py --index /tmp/antonly/index --json docs/evaluation-ant-news.json
    python scripts/ant_news.py --index DIR --mode hybrid --alpha 0.4    # one hybrid setting
    python scripts/ant_news.py --index /tmp/antonly/index --set eval/ant-questions   # the held-out questions

The set is 104 hand-written news queries over the ANT corpus (AlArabiya, BBC, CNN,
France24, SkyNews Arabic, Feb-Oct 2018), 26 of each kind (keyword topic, paraphrase,
question, spelling variant / English), with graded judgments (0, 1, 2) of the top 10 of
the archive's lexical, semantic and hybrid runs; see eval/ant-news/README.md. Only ids,
urls and our own queries live in the repository: the articles are read from an archive
built from ANT (``archive build /tmp/ant --encoder e5-small``), opened read-only.

Halves: a query whose number is odd (``k01``, ``p03``) is in the dev half, even in the
test half, so each half holds 13 queries of each kind. Tune on dev; report test.

``--set eval/ant-questions`` scores the held-out set of 40 questions instead (ids ``aq01``..:
an ``a`` before the kind letter marks a held-out query, all in the ``report`` half: never
tuned on, reported only; see eval/ant-questions/README.md). When hybrid and semantic are
both run, each half also gets their paired comparison (per-query nDCG@10 differences, a
sign test and a paired bootstrap); ``--per-query`` lists the differences query by query.

Scoring reuses scripts/snn_news.py: graded nDCG@10 (gain = grade), MRR@10 and R@10 with
grade >= 1 relevant, judged@10; copies with an identical body count once. R@100 is added
here; it is measured against the pool (depth 10 of three runs), so it says how much of
what the pooled runs found a ranking keeps in its first 100, not recall over the corpus.
Searches run with ``fold=False`` (every copy of a story listed, as when pooling) unless
``--fold`` is given.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from archive import Archive  # noqa: E402
import snn_news  # noqa: E402

JUDGED_DIR = Path(__file__).resolve().parents[1] / "eval" / "ant-news"
QUESTIONS_DIR = Path(__file__).resolve().parents[1] / "eval" / "ant-questions"
MODES = ("lexical", "semantic", "hybrid")
HALVES = ("dev", "test")
REPORT = "report"
"""The half of every held-out query (an id starting with ``a``): scored, never tuned on."""
DEEP_K = 100
"""Hits asked of every search: R@100 needs the first 100."""
BOOTSTRAP_SAMPLES = 10_000
"""Resamples of the paired bootstrap; seeded, so the p-value is the same on every run."""
_QUERY_ID = re.compile(r"^(a?)([kpqv])(\d{2,})$")
_PREFIX = {"keyword": "k", "paraphrase": "p", "question": "q", "variant": "v"}


@dataclass(frozen=True)
class Query:
    """One judged query: its id, kind, half and text."""

    id: str
    kind: str
    half: str
    text: str


def half_of(query_id: str) -> str:
    """``"dev"`` for an odd query number (``k01``), ``"test"`` for an even one (``k02``), ``"report"`` for a held-out id (``aq01``).

    The rule is fixed and per kind (ids are numbered within their kind), so each half has
    the same share of every kind; a held-out query (``a`` before the kind letter) is in no
    tuning half at all. A malformed id is refused, naming it.
    """
    match = _QUERY_ID.match(query_id)
    if not match:
        raise snn_news.JudgedSetError(f"query id {query_id!r} is not an optional 'a', a kind letter (k, p, q, v) and a number")
    if match.group(1):
        return REPORT
    return "dev" if int(match.group(3)) % 2 else "test"


def read_queries(directory: Path = JUDGED_DIR) -> list[Query]:
    """The queries of ``directory/queries.tsv`` with their halves; an id whose letter does not match its kind is refused."""
    queries = []
    for qid, kind, text in snn_news.read_queries(directory / "queries.tsv"):
        if not qid.removeprefix("a").startswith(_PREFIX[kind]):
            raise snn_news.JudgedSetError(f"{directory / 'queries.tsv'}: query {qid!r} of kind {kind!r} must start with {_PREFIX[kind]!r}")
        queries.append(Query(qid, kind, half_of(qid), text))
    return queries


def score(ranked: list[str], grades: dict[str, int], group_of: dict[str, str]) -> dict[str, float]:
    """snn_news.score_graded of ``ranked`` plus R@100 (grade >= 1 relevant, copies counted once)."""
    row = snn_news.score_graded(ranked, grades, group_of)
    relevant = {key for key, grade in grades.items() if grade > 0}
    top = set(snn_news.collapse(ranked, group_of)[:DEEP_K])
    row["R@100"] = len(relevant & top) / len(relevant) if relevant else 0.0
    return row


def mean_rows(rows: list[dict[str, float]]) -> dict[str, float]:
    """The mean of every metric over ``rows``, and how many there were."""
    out = {key: statistics.fmean(r[key] for r in rows) for key in rows[0]}
    out["queries"] = len(rows)
    return out


def paired(first: dict[str, float], second: dict[str, float], *, seed: int = 0) -> dict[str, float]:
    """How ``first`` compares with ``second`` over the same queries (per-query scores, e.g. nDCG@10).

    The mean difference, wins, ties and losses, a two-sided exact sign test (ties dropped)
    and a paired bootstrap: the queries' differences resampled ``BOOTSTRAP_SAMPLES`` times
    (seeded), giving a 95% interval of the mean difference and a two-sided p-value (twice
    the share of resampled means on the far side of zero, capped at 1). Queries missing
    from either side are refused, naming them.
    """
    if set(first) != set(second) or not first:
        raise ValueError(f"paired scores need the same non-empty queries; differ on {sorted(set(first) ^ set(second))[:5]}")
    diffs = [first[q] - second[q] for q in sorted(first)]
    wins, losses = sum(d > 0 for d in diffs), sum(d < 0 for d in diffs)
    n = wins + losses
    tail = sum(math.comb(n, i) for i in range(min(wins, losses) + 1)) / 2**n if n else 1.0
    rng = random.Random(seed)
    means = sorted(statistics.fmean(rng.choices(diffs, k=len(diffs))) for _ in range(BOOTSTRAP_SAMPLES))
    below = sum(m <= 0 for m in means) / len(means)
    above = sum(m >= 0 for m in means) / len(means)
    return {"mean": statistics.fmean(diffs), "wins": wins, "ties": len(diffs) - n, "losses": losses,
            "sign_p": min(1.0, 2 * tail), "ci_low": means[int(0.025 * len(means))],
            "ci_high": means[int(0.975 * len(means)) - 1], "bootstrap_p": min(1.0, 2 * min(below, above))}


def evaluate(archive: Archive, queries: list[Query], judged: snn_news.Judged, mode: str, *, fold: bool = False,
             alpha: float | None = None, variants: bool = True,
             ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Mean metrics of one mode per half and kind (``"dev"``, ``"dev keyword"``, ..., ``"all"``), and per query."""
    per_query: dict[str, dict[str, float]] = {}
    options = {"alpha": alpha} if mode == "hybrid" and alpha is not None else {}
    for query in queries:
        hits = archive.search(query.text, k=DEEP_K, mode=mode, fold=fold, variants=variants, **options)
        per_query[query.id] = score([h.id for h in hits], judged.grades.get(query.id, {}), judged.group_of)
    groups: dict[str, list[dict[str, float]]] = {"all": list(per_query.values())}
    for query in queries:
        for key in (query.half, f"{query.half} {query.kind}", query.kind):
            groups.setdefault(key, []).append(per_query[query.id])
    return {key: mean_rows(rows) for key, rows in groups.items()}, per_query


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True, help="an archive built from ANT (opened read-only)")
    parser.add_argument("--mode", action="append", choices=MODES, help="mode(s) to evaluate (default: all three)")
    parser.add_argument("--fold", action="store_true", help="search with folding on (default: off, as pooled)")
    parser.add_argument("--alpha", type=float, help="hybrid lexical weight (default: the archive's)")
    parser.add_argument("--json", type=Path, help="also write the results (and per-query nDCG@10) to this JSON file")
    parser.add_argument("--set", type=Path, default=JUDGED_DIR,
                        help="the judged set's folder (default eval/ant-news; eval/ant-questions is the held-out questions)")
    parser.add_argument("--scoring", help="another scoring setting, 'name=value,...' (e.g. words_alone=0.5)")
    parser.add_argument("--no-variants", action="store_true",
                        help="search every word as written (no learned spelling variants)")
    parser.add_argument("--per-query", action="store_true", help="list hybrid minus semantic nDCG@10 query by query")
    args = parser.parse_args()
    queries = read_queries(args.set)
    archive = Archive.open(args.index)
    if args.scoring:
        archive.scoring = archive.scoring.with_options(args.scoring)
    judged = snn_news.load(list(archive.documents(duplicates=True)), args.set)
    unknown = sorted({doc for grades in snn_news.read_qrels(args.set / "qrels.tsv").values() for doc in grades}
                     - set(judged.group_of))
    if unknown:
        sys.exit(f"{len(unknown)} judged articles are not in {args.index} (first: {unknown[:3]}): is it built from ANT?")
    manifest = archive.manifest
    coverage = {"passages": manifest.passages, "pending": manifest.pending, "documents": manifest.documents}
    results = {"index": str(args.index), "set": str(args.set), "coverage": coverage, "fold": args.fold, "alpha": args.alpha,
               "modes": {}}
    for mode in args.mode or MODES:
        started = time.perf_counter()
        summary, per_query = evaluate(archive, queries, judged, mode, fold=args.fold, alpha=args.alpha,
                                      variants=not args.no_variants)
        results["modes"][mode] = {"summary": summary, "per_query_nDCG@10": {q: r["nDCG@10"] for q, r in per_query.items()},
                                  "seconds": round(time.perf_counter() - started, 1)}
    archive.close()
    kinds = [k for k in snn_news.KINDS if any(q.kind == k for q in queries)]
    halves = [h for h in (*HALVES, REPORT) if any(q.half == h for q in queries)]
    print(f"{coverage['passages']:,} passages embedded, {coverage['pending']:,} pending; fold={'on' if args.fold else 'off'}\n")
    print("| half | mode | nDCG@10 | " + " | ".join(kinds) + " | MRR@10 | R@100 | judged@10 |")
    print("|---|---|---|" + "---|" * len(kinds) + "---|---|---|")
    for half in halves:
        for mode, result in results["modes"].items():
            s = result["summary"]
            per_kind = " | ".join(f"{s[f'{half} {k}']['nDCG@10']:.3f}" if f"{half} {k}" in s else "-" for k in kinds)
            print(f"| {half} | {mode} | {s[half]['nDCG@10']:.3f} | {per_kind} | {s[half]['MRR@10']:.3f} | "
                  f"{s[half]['R@100']:.3f} | {s[half]['judged@10']:.3f} |")
    if {"hybrid", "semantic"} <= set(results["modes"]):
        hybrid, semantic = (results["modes"][m]["per_query_nDCG@10"] for m in ("hybrid", "semantic"))
        results["hybrid_vs_semantic"] = {}
        print("\nhybrid minus semantic, nDCG@10 per query:")
        for half in halves:
            ids = [q.id for q in queries if q.half == half]
            test = paired({q: hybrid[q] for q in ids}, {q: semantic[q] for q in ids})
            results["hybrid_vs_semantic"][half] = test
            print(f"- {half} ({len(ids)} queries): mean {test['mean']:+.3f} (95% bootstrap interval {test['ci_low']:+.3f} "
                  f"to {test['ci_high']:+.3f}, p = {test['bootstrap_p']:.3f}); {test['wins']} better, {test['ties']} tied, "
                  f"{test['losses']} worse (sign test p = {test['sign_p']:.3f})")
        if args.per_query:
            for query in sorted(queries, key=lambda q: hybrid[q.id] - semantic[q.id]):
                print(f"| {query.id} | {hybrid[query.id] - semantic[query.id]:+.3f} | {semantic[query.id]:.3f} | "
                      f"{hybrid[query.id]:.3f} | {query.text} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

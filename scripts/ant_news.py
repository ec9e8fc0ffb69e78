"""The judged ANT news set (``eval/ant-news``): nDCG@10 per search mode and query kind, dev and test halves.

    python scripts/ant_news.py --index /tmp/antonly/index --json docs/evaluation-ant-news.json
    python scripts/ant_news.py --index DIR --mode hybrid --alpha 0.4    # one hybrid setting

The set is 104 hand-written news queries over the ANT corpus (AlArabiya, BBC, CNN,
France24, SkyNews Arabic, Feb-Oct 2018), 26 of each kind (keyword topic, paraphrase,
question, spelling variant / English), with graded judgments (0, 1, 2) of the top 10 of
the archive's lexical, semantic and hybrid runs; see eval/ant-news/README.md. Only ids,
urls and our own queries live in the repository: the articles are read from an archive
built from ANT (``archive build /tmp/ant --encoder e5-small``), opened read-only.

Halves: a query whose number is odd (``k01``, ``p03``) is in the dev half, even in the
test half, so each half holds 13 queries of each kind. Tune on dev; report test.

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
MODES = ("lexical", "semantic", "hybrid")
HALVES = ("dev", "test")
DEEP_K = 100
"""Hits asked of every search: R@100 needs the first 100."""
_QUERY_ID = re.compile(r"^[kpqv](\d{2,})$")
_PREFIX = {"keyword": "k", "paraphrase": "p", "question": "q", "variant": "v"}


@dataclass(frozen=True)
class Query:
    """One judged query: its id, kind, half and text."""

    id: str
    kind: str
    half: str
    text: str


def half_of(query_id: str) -> str:
    """``"dev"`` for an odd query number (``k01``), ``"test"`` for an even one (``k02``).

    The rule is fixed and per kind (ids are numbered within their kind), so each half has
    the same share of every kind; a malformed id is refused, naming it.
    """
    match = _QUERY_ID.match(query_id)
    if not match:
        raise snn_news.JudgedSetError(f"query id {query_id!r} is not a kind letter (k, p, q, v) and a number")
    return "dev" if int(match.group(1)) % 2 else "test"


def read_queries(directory: Path = JUDGED_DIR) -> list[Query]:
    """The queries of ``directory/queries.tsv`` with their halves; an id whose letter does not match its kind is refused."""
    queries = []
    for qid, kind, text in snn_news.read_queries(directory / "queries.tsv"):
        if not qid.startswith(_PREFIX[kind]):
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


def evaluate(archive: Archive, queries: list[Query], judged: snn_news.Judged, mode: str, *, fold: bool = False,
             alpha: float | None = None) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Mean metrics of one mode per half and kind (``"dev"``, ``"dev keyword"``, ..., ``"all"``), and per query."""
    per_query: dict[str, dict[str, float]] = {}
    options = {"alpha": alpha} if mode == "hybrid" and alpha is not None else {}
    for query in queries:
        hits = archive.search(query.text, k=DEEP_K, mode=mode, fold=fold, **options)
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
    args = parser.parse_args()
    queries = read_queries()
    archive = Archive.open(args.index)
    judged = snn_news.load(list(archive.documents(duplicates=True)), JUDGED_DIR)
    unknown = sorted({doc for grades in snn_news.read_qrels(JUDGED_DIR / "qrels.tsv").values() for doc in grades}
                     - set(judged.group_of))
    if unknown:
        sys.exit(f"{len(unknown)} judged articles are not in {args.index} (first: {unknown[:3]}): is it built from ANT?")
    manifest = archive.manifest
    coverage = {"passages": manifest.passages, "pending": manifest.pending, "documents": manifest.documents}
    results = {"index": str(args.index), "coverage": coverage, "fold": args.fold, "alpha": args.alpha, "modes": {}}
    for mode in args.mode or MODES:
        started = time.perf_counter()
        summary, per_query = evaluate(archive, queries, judged, mode, fold=args.fold, alpha=args.alpha)
        results["modes"][mode] = {"summary": summary, "per_query_nDCG@10": {q: r["nDCG@10"] for q, r in per_query.items()},
                                  "seconds": round(time.perf_counter() - started, 1)}
    archive.close()
    kinds = snn_news.KINDS
    print(f"{coverage['passages']:,} passages embedded, {coverage['pending']:,} pending; fold={'on' if args.fold else 'off'}\n")
    print("| half | mode | nDCG@10 | " + " | ".join(kinds) + " | MRR@10 | R@100 | judged@10 |")
    print("|---|---|---|" + "---|" * len(kinds) + "---|---|---|")
    for half in HALVES:
        for mode, result in results["modes"].items():
            s = result["summary"]
            per_kind = " | ".join(f"{s[f'{half} {k}']['nDCG@10']:.3f}" for k in kinds)
            print(f"| {half} | {mode} | {s[half]['nDCG@10']:.3f} | {per_kind} | {s[half]['MRR@10']:.3f} | "
                  f"{s[half]['R@100']:.3f} | {s[half]['judged@10']:.3f} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""Lexical tuning grid over the dev sets: one term index per analysis setting, scoring varied in memory.

    python scripts/tune.py --k1 0.9 --k1 1.2 --b 0.75 --b 0.9 --title-weight 2 --title-weight 5 \\
        --combine sum --combine bm25f --json /tmp/grid.json           # a grid, the analyzer as it is
    python scripts/tune.py --analysis an4/current --k1 0.9 --b 0.75   # one point, another stemmer rule

Dev sets only (never a test half): ARCD train, XQuAD, the ANT and SaudiNewsNet
headline dev halves (MRR@10; their articles are indexed without titles, so
only k1, b and the analysis move them) and the judged news set ``snn-news``
(graded nDCG@10 over all SaudiNewsNet articles, with titles: the one set where
the title weight, the title's b and how fields combine matter). A point is
judged by the mean of the five main figures. The analysis variants (stemmer
rules, stop lists) are patched into :mod:`archive.text.analysis` here, for the grid
only; the chosen one is then written into that module.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaluate  # noqa: E402
import snn_news  # noqa: E402
from arabicstopwords.arabicstopwords import stopwords_list  # noqa: E402

from archive.text import analysis  # noqa: E402
from archive.index import terms as terms_module  # noqa: E402
from archive.search.query import MAX_QUERY_TERMS  # noqa: E402
from archive.index.scoring import DEFAULT_SCORING, Scoring  # noqa: E402

DEV = ("arcd-train", "xquad", "ant-dev", "snn-dev", "snn-news")
CURRENT_STOPWORDS = analysis.STOPWORDS


def _stem_rule(min_stem: int, name_suffixes: tuple[str, ...] = (), name_min: int = 0) -> Callable[[str], str]:
    """Lucene's light stemmer, but a suffix leaves at least ``min_stem`` letters, and the suffixes
    ``name_suffixes`` (ان ين ون: duals and plurals, and the endings of names such as ايران, زيدان)
    at least ``name_min``."""

    def stem(word: str) -> str:
        for prefix in analysis._PREFIXES:  # noqa: SLF001
            needed = 4 if len(prefix) == 1 else len(prefix) + 2
            if len(word) >= needed and word.startswith(prefix):
                word = word[len(prefix):]
                break
        for suffix in analysis._SUFFIXES:  # noqa: SLF001
            least = max(min_stem, name_min) if suffix in name_suffixes else min_stem
            if word.endswith(suffix) and len(word) >= len(suffix) + least:
                word = word[: -len(suffix)]
        return word

    return stem


NAME_SUFFIXES = ("ان", "ين", "ون")
STEMMERS: dict[str, Callable[[str], str]] = {
    "current": analysis.stem,
    "lucene": _stem_rule(2),
    "min3": _stem_rule(3),
    "names4": _stem_rule(2, NAME_SUFFIXES, 4),
    "min3-names4": _stem_rule(3, NAME_SUFFIXES, 4),
    "an4": _stem_rule(2, ("ان",), 4),
    "an4-in4": _stem_rule(2, ("ان", "ين"), 4),
}


def _stoplists() -> dict[str, frozenset[str]]:
    base = {analysis.normalize(w) for w in analysis._BASE_STOPWORDS} - analysis._KEPT_WORDS - {""}  # noqa: SLF001
    return {
        "current": CURRENT_STOPWORDS,
        "base": frozenset(base),
        "affixed10k": frozenset({analysis.normalize(w) for w in stopwords_list()} - analysis._KEPT_WORDS - {""}),  # noqa: SLF001
    }


def use_analysis(stemmer: str, stoplist: str) -> None:
    """Patch the analyzer (and clear its caches) for one grid variant."""
    analysis.stem = STEMMERS[stemmer]
    analysis.STOPWORDS = _stoplists()[stoplist]
    for cached in (analysis.term, analysis.folded, analysis.word_grams):
        cached.cache_clear()


class Prepared:
    """One dev set's term index (no grams: the lexical grid does not use them) and its queries' pairs."""

    def __init__(self, bench: evaluate.Benchmark, workdir: Path) -> None:
        self.bench = bench
        builder = terms_module.TermIndexBuilder()
        grams, terms_module.word_grams = terms_module.word_grams, lambda token: ()
        try:
            for doc in bench.documents:
                builder.add(doc)
        finally:
            terms_module.word_grams = grams
        directory = Path(tempfile.mkdtemp(dir=workdir)) / "terms"
        builder.write(directory)
        self.index = terms_module.TermIndex(directory)
        self.queries = []
        for qid, question, relevant in bench.queries:
            words = list(dict.fromkeys(analysis.terms(evaluate.as_keywords(question))))[:MAX_QUERY_TERMS]
            self.queries.append((qid, [(f, w) for w in words for f in terms_module.FIELDS], relevant))

    def score(self, scoring: Scoring) -> dict[str, float]:
        """The set's figures under ``scoring``: ``main`` is MRR@10, or nDCG@10 on the judged set."""
        ids = self.index.ids
        judged = self.bench.judged
        kind_of = {qid: kind for qid, kind, _ in judged.queries} if judged else {}
        rows, kinds = [], []
        for qid, pairs, relevant in self.queries:
            ranked, _ = self.index.rank(pairs, evaluate.DEEP_K, scoring=scoring, candidates=None)
            found = [ids[o] for o, _ in ranked]
            if judged:
                rows.append(snn_news.score_graded(found, judged.grades.get(qid, {}), judged.group_of))
                kinds.append(kind_of[qid])
            else:
                rows.append(evaluate.score_ranking(found, relevant))
        out = {key: statistics.fmean(r[key] for r in rows) for key in ("nDCG@10", "MRR@10")}
        for kind in dict.fromkeys(kinds):
            out[kind] = statistics.fmean(r["nDCG@10"] for r, k in zip(rows, kinds) if k == kind)
        out["main"] = out["nDCG@10"] if judged else out["MRR@10"]
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=evaluate.DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=evaluate.DEFAULT_CACHE)
    parser.add_argument("--bench", action="append", help=f"dev sets (default: {', '.join(DEV)})")
    parser.add_argument("--analysis", action="append",
                        help=f"STEMMER/STOPLIST (stemmers: {', '.join(STEMMERS)}; stop lists: current, base, "
                             "affixed10k); default: current/current, the analyzer as it is")
    parser.add_argument("--k1", type=float, action="append")
    parser.add_argument("--b", type=float, action="append")
    parser.add_argument("--title-weight", type=float, action="append")
    parser.add_argument("--title-b", type=float, action="append", help="default: the body's b")
    parser.add_argument("--combine", action="append")
    parser.add_argument("--json", type=Path, help="write every point's figures here")
    args = parser.parse_args()
    benches = [evaluate.load_benchmark(name, args.data, args.cache) for name in args.bench or DEV]
    d = DEFAULT_SCORING  # each knob not given stays at the archive's default
    k1s, bs = args.k1 or [d.k1], args.b or [d.b]
    weights, title_bs, combines = args.title_weight or [d.title_weight], args.title_b or [None], args.combine or [d.combine]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for variant in args.analysis or ["current/current"]:
            stemmer, _, stoplist = variant.partition("/")
            use_analysis(stemmer, stoplist or "current")
            started = time.perf_counter()
            prepared = [Prepared(bench, Path(tmp)) for bench in benches]
            print(f"# {variant}: indexed in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
            memo: dict[tuple, dict[str, float]] = {}
            for k1, b, weight, title_b, combine in itertools.product(k1s, bs, weights, title_bs, combines):
                scoring = Scoring(k1=k1, b=b, title_weight=weight, title_b=b if title_b is None else title_b,
                                  combine=combine)
                row = {"analysis": variant, "k1": k1, "b": b, "title_weight": weight, "title_b": scoring.title_b,
                       "combine": combine}
                for p in prepared:
                    # without titles only k1 and b (and the analysis) move a set: score it once per (k1, b)
                    key = (p.bench.name, k1, b) if p.bench.judged is None else (p.bench.name, scoring)
                    if key not in memo:
                        memo[key] = p.score(scoring)
                    row[p.bench.name] = memo[key]
                row["mean"] = statistics.fmean(row[p.bench.name]["main"] for p in prepared)
                results.append(row)
                print(json.dumps({k: (round(v["main"], 4) if isinstance(v, dict) else v) for k, v in row.items()}),
                      flush=True)
            for p in prepared:
                p.index.close()
    best = sorted(results, key=lambda r: -r["mean"])[:10]
    print("\nbest:", file=sys.stderr)
    for row in best:
        print(json.dumps({k: (round(v["main"], 4) if isinstance(v, dict) else v) for k, v in row.items()}),
              file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()

"""Fusion grid without re-ranking: dump every hybrid candidate's signals once, replay fusions in memory.

    python scripts/tune_fusion.py dump --encoder e5-small --bench arcd-train --bench xquad --bench snn-news-pool
    python scripts/tune_fusion.py grid --encoder e5-small --bench arcd-train --bench xquad --bench snn-news-pool

``dump`` runs each benchmark's queries through the archive's own hybrid path
(``Archive.search``, mode hybrid) with a deep candidate list (``--depth``, 300)
and records, for every candidate of either side, what any fusion could use:
its word score (per-field sum and BM25F proper), its character-gram BM25, its
best and second-best passage cosine (exact, over all of its passages), its
rank on each side, and which of the query's distinct terms it holds; plus each
query's term idfs. ``grid`` replays fusion variants over the dump (a smaller
depth is the union of the top ``d`` of each side, as the ranker would fetch),
checks that the default variant reproduces the archive's hybrid ranking, and
prints the main figure of each benchmark (MRR@10, graded nDCG@10 per kind on the
judged news set) for each variant. Dev sets only; ARCD test only to report a
choice made without it.
"""

from __future__ import annotations

import argparse
import math
import pickle
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaluate
import snn_news

DUMPS = Path.home() / ".cache" / "news-archive" / "tune-fusion"
"""This script's own dumps (pickled: written and read by it alone, in the user's cache, never in a
shared directory such as /tmp where another user could plant one)."""


@dataclass
class QueryDump:
    """One query's candidates and their signals (arrays aligned on the candidates, in id order)."""

    qid: str
    kind: str
    text: str
    ids: list[str]
    word_sum: np.ndarray  # per-field sum BM25 (the hybrid's word signal), real score of every candidate
    word_bm25f: np.ndarray
    grams: np.ndarray
    cos1: np.ndarray  # best passage cosine
    cos2: np.ndarray  # second-best passage cosine (= cos1 for a one-passage article)
    passages: np.ndarray  # passages of the article
    lex_rank: np.ndarray  # 0-based rank in the hybrid's word list (large: not in the top depth)
    dense_rank: np.ndarray  # 0-based rank by best passage cosine over all articles
    terms: list[str]  # distinct analyzed query terms
    idf: np.ndarray  # their idf
    holds: np.ndarray  # [candidates, terms] bool: the article holds the term (title or body)
    title_holds: np.ndarray  # [candidates, terms] bool: its title holds the term
    archive_top: list[str]  # the archive's own hybrid top 100 at the dump's depth (check)


def dump(bench_name: str, encoder: str, depth: int, data: Path, cache: Path) -> list[QueryDump]:
    bench = evaluate.load_benchmark(bench_name, data, cache)
    archive = evaluate.build_cached(bench, encoder, cache)
    ranker = archive._searcher.ranker
    lexical_index = archive._searcher.lexical
    terms_index = lexical_index._terms
    archive.scoring = archive.scoring.with_options(f"depth={depth}")
    dense = archive._searcher.dense
    vectors = dense.vectors()
    doc = np.asarray(dense._doc)
    live = doc >= 0
    n = len(lexical_index.ids)
    counts = np.bincount(doc[live], minlength=n)
    kind_of = {qid: kind for qid, kind, _ in bench.judged.queries} if bench.judged else {}
    captured: dict[str, object] = {}
    original = ranker._z_fusion

    def spy(request, vector, lexical, dense_run, spans, k):
        captured.update(request=request, vector=vector, lexical=list(lexical))
        return original(request, vector, lexical, dense_run, spans, k)

    ranker._z_fusion = spy
    out: list[QueryDump] = []
    ids = lexical_index.ids
    for qid, question, _relevant in bench.queries:
        text = evaluate.as_keywords(question)
        captured.clear()
        top = [h.id for h in archive.search(text, k=100, mode="hybrid")]
        if not captured:
            out.append(QueryDump(qid, kind_of.get(qid, ""), text, [], *([np.zeros(0)] * 8), [], np.zeros(0),
                                 np.zeros((0, 0), bool), np.zeros((0, 0), bool), top))
            continue
        request, vector, lexical = captured["request"], captured["vector"], captured["lexical"]
        sims = vectors @ vector
        sims_live = np.where(live, sims, -np.inf)
        # best and second-best cosine of every article
        srt = np.lexsort((-sims_live, doc))
        d_sorted, s_sorted = doc[srt], sims_live[srt]
        first = np.searchsorted(d_sorted, np.arange(n), side="left")
        has = counts > 0
        cos1 = np.full(n, -1.0)
        cos2 = np.full(n, -1.0)
        cos1[has] = s_sorted[first[has]]
        two = counts >= 2
        cos2[two] = s_sorted[first[two] + 1]
        cos2[has & ~two] = cos1[has & ~two]
        dense_order = np.lexsort((np.asarray(ids), -cos1))
        dense_rank = np.empty(n, dtype=np.int64)
        dense_rank[dense_order] = np.arange(n)
        lex_rank = np.full(n, 10**9, dtype=np.int64)
        for r, (o, _s) in enumerate(lexical):
            lex_rank[o] = r
        cand = np.flatnonzero((lex_rank < depth) | (dense_rank < depth))
        cand = cand[np.argsort(np.asarray(ids, dtype=object)[cand].astype(str))]
        pairs = request.match.pairs
        hybrid_scoring = lexical_index.scoring.for_hybrid()
        word_sum = np.asarray(terms_index.scores(pairs, cand, scoring=hybrid_scoring))
        word_bm25f = np.asarray(terms_index.scores(pairs, cand, scoring=lexical_index.scoring.with_options("combine=bm25f")))
        grams = np.asarray(lexical_index.gram_scores_at(request.text, cand.tolist()))
        distinct = list(dict.fromkeys(t for _, t in pairs))
        holds = np.zeros((len(cand), len(distinct)), dtype=bool)
        title_holds = np.zeros((len(cand), len(distinct)), dtype=bool)
        idf = np.zeros(len(distinct))
        for j, term in enumerate(distinct):
            mask = np.zeros(n, dtype=bool)
            for field in ("title", "body"):
                mask |= terms_index.term_mask(field, term)
            title_holds[:, j] = terms_index.term_mask("title", term)[cand]
            holds[:, j] = mask[cand]
            idf[j] = math.log(n / (mask.sum() + 1)) + 1.0
        out.append(QueryDump(
            qid, kind_of.get(qid, ""), text, [ids[o] for o in cand], word_sum, word_bm25f, grams,
            cos1[cand], cos2[cand], counts[cand], lex_rank[cand], dense_rank[cand], distinct, idf, holds, title_holds,
            top,
        ))
    archive.close()
    return out


# ------------------------------------------------------------------ replay
def zs(x: np.ndarray) -> np.ndarray:
    if len(x) == 0:
        return x
    std = x.std()
    return np.ones_like(x) if std <= 1e-12 else (x - x.mean()) / std


Fusion = Callable[[QueryDump, np.ndarray], np.ndarray]
"""(query, candidate mask at the depth) -> fused score of each candidate in the mask."""


def ranking(q: QueryDump, depth: int, fusion: Fusion, k: int = 100) -> list[str]:
    if not q.ids:
        return []
    sel = (q.lex_rank < depth) | (q.dense_rank < depth)
    scores = fusion(q, sel)
    idx = np.flatnonzero(sel)
    ids = [q.ids[i] for i in idx]
    order = sorted(range(len(idx)), key=lambda i: (-scores[i], ids[i]))
    return [ids[i] for i in order[:k]]


def title_coverage(q: QueryDump, sel: np.ndarray, depth: int, m: int = 10) -> float:
    """What :meth:`archive.search.ranking.Ranker._title_coverage` measures, from the dump."""
    idx = np.flatnonzero(sel & (q.lex_rank < depth))
    top = idx[np.argsort(q.lex_rank[idx])][:m]
    if not len(top) or not len(q.idf):
        return 0.0
    return float(((q.title_holds[top].astype(float) @ q.idf) / q.idf.sum()).max())


def z_fusion(alpha: float = 0.5, share: float = 0.8, word: str = "sum", dense2: float = 0.0,
             title_evidence: float = 0.0, depth: int = 100) -> Fusion:
    """The archive's convex-z fusion at ``depth``, with variants: the word signal (``sum`` or
    ``bm25f``), a share of the second-best passage's cosine, the title evidence."""

    def fuse(q: QueryDump, sel: np.ndarray) -> np.ndarray:
        w = (q.word_sum if word == "sum" else q.word_bm25f)[sel] * (q.lex_rank[sel] < depth)
        den = q.cos1[sel] + dense2 * q.cos2[sel]
        a = alpha + title_evidence * (1 - alpha) * title_coverage(q, sel, depth)
        return a * (1 - share) * zs(w) + a * share * zs(q.grams[sel]) + (1 - a) * zs(den)

    return fuse


def score(dumps: dict[str, list[QueryDump]], benches: dict[str, evaluate.Benchmark], depth: int,
          fusion: Fusion) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, queries in dumps.items():
        bench = benches[name]
        rows, kinds = [], []
        rel = {qid: r for qid, _, r in bench.queries}
        for q in queries:
            ranked = ranking(q, depth, fusion)
            if bench.judged:
                rows.append(snn_news.score_graded(ranked, bench.judged.grades.get(q.qid, {}), bench.judged.group_of))
                kinds.append(q.kind)
            else:
                rows.append(evaluate.score_ranking(ranked, rel[q.qid]))
        main = "nDCG@10" if bench.judged else "MRR@10"
        fig = {"main": statistics.fmean(r[main] for r in rows)}
        for kind in snn_news.KINDS if bench.judged else ():
            fig[kind] = statistics.fmean(r[main] for r, k in zip(rows, kinds) if k == kind)
        out[name] = fig
    return out


def load_dumps(names: list[str], encoder: str) -> dict[str, list[QueryDump]]:
    def made(q: dict) -> QueryDump:
        q.setdefault("title_holds", np.zeros_like(q["holds"]))  # dumps of title-less sets made before it
        return QueryDump(**q)

    return {n: [made(q) for q in pickle.loads((DUMPS / f"{n}-{encoder}.pkl").read_bytes())] for n in names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["dump", "grid"])
    parser.add_argument("--data", type=Path, default=evaluate.DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=evaluate.DEFAULT_CACHE)
    parser.add_argument("--encoder", default="e5-small")
    parser.add_argument("--bench", action="append", required=True)
    parser.add_argument("--depth", type=int, default=300, help="candidates per side in the dump")
    parser.add_argument("--alpha", type=float, default=0.5, help="the encoder's lexical weight (USE: 0.8)")
    args = parser.parse_args()
    DUMPS.mkdir(parents=True, exist_ok=True)
    if args.command == "dump":
        for name in args.bench:
            dumps = dump(name, args.encoder, args.depth, args.data, args.cache)
            (DUMPS / f"{name}-{args.encoder}.pkl").write_bytes(pickle.dumps([vars(q) for q in dumps]))
            print(f"{name}: {len(dumps)} queries dumped", flush=True)
        return
    benches = {n: evaluate.load_benchmark(n, args.data, args.cache) for n in args.bench}
    dumps = load_dumps(args.bench, args.encoder)
    a = args.alpha
    variants: dict[str, tuple[int, Fusion]] = {"as before (title_evidence 0)": (100, z_fusion(a, title_evidence=0.0))}
    for depth in (50, 150, 200, 300):
        variants[f"depth {depth}"] = (depth, z_fusion(a, depth=depth))
    for alpha, share in ((a + 0.1, 0.5), (a + 0.1, 0.6), (a + 0.1, 0.8), (a, 0.5), (a, 0.6)):
        variants[f"alpha {alpha:.1f} share {share}"] = (100, z_fusion(alpha, share))
    variants["word signal bm25f"] = (100, z_fusion(a, word="bm25f"))
    variants["rrf"] = (100, lambda q, sel: sum(
        w / (60 + np.argsort(np.argsort(-col, kind="stable")) + 1) for w, col in
        ((a * 0.2, q.word_sum[sel] * (q.lex_rank[sel] < 100)), (a * 0.8, q.grams[sel]), (1 - a, q.cos1[sel]))))
    for d2 in (0.1, 0.2, 0.3):
        variants[f"cosine + {d2} x second passage"] = (100, z_fusion(a, dense2=d2))
    for te in (0.2, 0.4, 0.6, 0.8):
        variants[f"title_evidence {te}"] = (100, z_fusion(a, title_evidence=te))
    for name, (depth, fusion) in variants.items():
        figures = score(dumps, benches, depth, fusion)
        mean = statistics.fmean(f["main"] for f in figures.values())
        shown = "  ".join(f"{n}={f['main']:.4f}" + (" [" + " ".join(f"{k}={f[k]:.3f}" for k in snn_news.KINDS) + "]"
                          if "keyword" in f else "") for n, f in figures.items())
        print(f"{mean:.4f}  {name:32s} {shown}", flush=True)

if __name__ == "__main__":
    main()

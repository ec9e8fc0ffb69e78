"""Query-adaptive fusion and pseudo-relevance feedback, chosen by leave-one-set-out cross-validation.

    python scripts/fusion_cv.py dump --bench arcd-train --bench xquad --bench snn-news-pool --bench arcd-test \\
        --bench ant-news --bench ant-questions --ant-index /tmp/antonly/index --cache /tmp/fusion-work/eval \\
        --dumps /tmp/fusion-work/dumps
    python scripts/fusion_cv.py cv --dumps /tmp/fusion-work/dumps --json docs/evaluation-fusion-cv.json
    FUSION_FAMILIES="name|name" python scripts/fusion_cv.py cv ...   # only those families of scripts/fusion_rules.py

``dump`` runs each benchmark's queries once through the archive's own parts (the parsed
query and its match, the word list, the dense list, the honest "found" set, exactly as
:class:`archive.search.ranking.Ranker` fetches them at depth 100) and records, for every
candidate of either side, every signal a fusion could use: word BM25 (the hybrid's per-field
sum, spelling variants included, and lexical mode's BM25F proper), character-gram BM25, best
passage cosine, its rank on each side, which query terms it holds (title or body, and title
alone), whether the search would show it; and each query's term idfs and the top 100 cosines
over the whole archive. It also records the lexical and semantic modes' own top 100
(``Archive.search``), and the archive's hybrid top 100 to check the replay against. For
feedback it adds: Rocchio cosines (the query vector moved towards the best passages of the
default hybrid's top ``k`` articles) with their own top 100 as extra candidates, and RM3
expansion terms (drawn from the default hybrid's top 10 articles' words) with each
candidate's BM25 for each.

``cv`` replays fusions in memory over the dumps (no search is run again): the current
default, query-adaptive weight rules with a small grid each, and the feedback variants. A
rule's parameters are chosen leave-one-set-out over the dev sets (ARCD train, XQuAD, the
SaudiNewsNet judged pool, the ANT judged set's dev half): tuned on three, scored on the
fourth; a rule is adopted only if it beats the default on every held-out set. ARCD test and
the ANT test half are only reported, and so is ``ant-questions`` (the held-out questions of
eval/ant-questions, never tuned on). Figures: graded nDCG@10 (binary on ARCD/XQuAD), the mean
over a set's query kinds; every search unfolded (``fold=False``: every copy listed, as the
judged pools were made).

Benchmarks: ARCD (Mozannar et al., WANLP 2019; MIT), XQuAD (Artetxe et al., ACL 2020;
CC BY-SA 4.0), SaudiNewsNet (Alhagri 2015; CC BY-NC-SA 4.0), ANT v2.1 (Chouigui et al.,
AICCSA 2017; research use).
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import ant_news  # noqa: E402
import evaluate  # noqa: E402
import snn_news  # noqa: E402
from archive import Archive  # noqa: E402
from archive.search.fusion import FusionMethod  # noqa: E402
from archive.search.ranking import Request  # noqa: E402
from archive.text.analysis import terms as analyze  # noqa: E402

DEPTH = 100
DUMPS = Path.home() / ".cache" / "news-archive" / "fusion-cv"
"""Where dumps are kept by default (pickles this script alone writes and reads: keep them in a
directory only you can write)."""
DEV = ("arcd-train", "xquad", "snn-news-pool", "ant-dev")
REPORT = ("arcd-test", "ant-test", "ant-questions")
"""Only reported; ``ant-questions`` (eval/ant-questions, 40 questions over ANT) is the held-out check."""
ROCCHIO = ((3, 0.5), (3, 1.0), (5, 0.5), (5, 1.0))
"""(feedback articles, weight of their mean vector) of the Rocchio variants dumped."""
RM3_DOCS, RM3_TERMS = 10, 10


@dataclass
class QueryDump:
    """One query's candidates (in id order) and their signals."""

    qid: str
    kind: str
    text: str
    ids: list[str] = field(default_factory=list)
    base: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # in the default's candidate union
    shown: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # in the search's found set
    word: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bm25f: np.ndarray = field(default_factory=lambda: np.zeros(0))  # lexical mode's score (BM25F proper)
    grams: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cos: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lex_rank: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    dense_rank: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    idf: np.ndarray = field(default_factory=lambda: np.zeros(0))
    df: np.ndarray = field(default_factory=lambda: np.zeros(0))
    holds: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))
    title_holds: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))
    top_cos: np.ndarray = field(default_factory=lambda: np.zeros(0))  # the archive's 100 best article cosines
    bg_mean: float = 0.0  # the mean and spread of every article's cosine (the meaning side's background)
    bg_std: float = 0.0
    n_docs: int = 0
    rocchio: dict = field(default_factory=dict)  # (k, beta) -> cosine of every candidate
    rocchio_top: dict = field(default_factory=dict)  # (k, beta) -> bool: in that run's top 100
    rm3: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # [candidates, expansion terms] BM25
    rm3_weight: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lexical_top: list[str] = field(default_factory=list)
    semantic_top: list[str] = field(default_factory=list)
    archive_top: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ dump
def _z(x: np.ndarray) -> np.ndarray:
    if len(x) == 0:
        return x
    std = x.std()
    return np.ones_like(x) if std <= 1e-12 else (x - x.mean()) / std


def _default_order(ids: list[str], columns: list[np.ndarray], weights: list[float]) -> np.ndarray:
    fused = sum(w * _z(c) for w, c in zip(weights, columns))
    return np.asarray(sorted(range(len(ids)), key=lambda i: (-fused[i], ids[i])), dtype=np.int64)


def dump_queries(archive: Archive, queries: list[tuple[str, str, str]]) -> list[QueryDump]:
    """Every query's :class:`QueryDump` over ``archive`` (``queries``: ``(id, kind, text)``)."""
    searcher = archive._searcher
    ranker, lexical = searcher.ranker, searcher.lexical
    terms_index = lexical._terms
    dense = searcher.dense
    vectors = dense.vectors()
    order, bounds = dense._grouped()
    ids = lexical.ids
    n = lexical.live_count
    alpha = 0.5
    hybrid_scoring = lexical.scoring.for_hybrid()
    out = []
    for number, (qid, kind, question) in enumerate(queries):
        text = evaluate.as_keywords(question)
        q = QueryDump(qid, kind, text)
        q.lexical_top = [h.id for h in archive.search(text, k=DEPTH, mode="lexical", fold=False)]
        q.semantic_top = [h.id for h in archive.search(text, k=DEPTH, mode="semantic", fold=False)]
        q.archive_top = [h.id for h in archive.search(text, k=DEPTH, mode="hybrid", fold=False)]
        parsed, match = searcher._parse(text)
        if match is None:
            out.append(q)
            continue
        request = Request(text=parsed.words, match=match, within=None, k=DEPTH, mode="hybrid", sort="relevance",
                          fusion=FusionMethod.CONVEX_Z, alpha=alpha)
        vector, cosines = ranker._meaning(parsed.words)
        found = ranker._found(request, cosines)
        near = dense.search(vector, DEPTH)
        word_list, _ = lexical.rank(match, DEPTH, None, hybrid=True)
        finite = np.where(np.isfinite(cosines), cosines, -1.0)
        q.top_cos = np.sort(finite)[::-1][:DEPTH].astype(np.float64)
        every = cosines[np.isfinite(cosines)]
        q.bg_mean, q.bg_std = (float(every.mean()), float(every.std())) if len(every) else (0.0, 0.0)
        q.n_docs = n
        base = {o for o, _ in word_list} | {o for o, _, _ in near}
        # the default's own ranking, to draw feedback from (over the base union)
        cand = sorted(base, key=ids.__getitem__)
        word_of = dict(word_list)

        def signals(cands: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            word = np.asarray(terms_index.scores(match.pairs, np.asarray(cands), scoring=hybrid_scoring,
                                                 variants=match.variants)) if cands else np.zeros(0)
            word = np.where(np.isin(cands, list(word_of)), word, 0.0)  # outside the word list: 0, as the ranker
            grams = np.asarray(lexical.gram_scores_at(request.text, cands))
            return word, grams, finite[cands].astype(np.float64)

        word, grams, cos = signals(cand)
        te = lexical.scoring.title_evidence
        a = alpha + te * (1 - alpha) * lexical.title_coverage(match, [o for o, _ in word_list[:10]]) if word_list else alpha
        default = _default_order([ids[o] for o in cand], [word, grams, cos], [a * 0.2, a * 0.8, 1 - a])
        default = [cand[i] for i in default if found.mask[cand[i]]]
        # Rocchio: the query vector moved towards the best passages of the default's top k
        extra: set[int] = set()
        rocchio_cos: dict = {}
        for k, beta in ROCCHIO:
            fb = default[:k]
            if not fb:
                rocchio_cos[(k, beta)] = finite
                continue
            best_rows = []
            for o in fb:
                rows = order[bounds[o]:bounds[o + 1]]
                if len(rows):
                    best_rows.append(rows[int(np.argmax(vectors[rows] @ vector))])
            moved = vector + beta * (vectors[best_rows].mean(axis=0) if best_rows else 0.0)
            moved = moved / np.linalg.norm(moved)
            sc = dense.article_scores(moved)
            sc = np.where(np.isfinite(sc), sc, -1.0)
            rocchio_cos[(k, beta)] = sc
            extra |= set(np.argsort(-sc)[:DEPTH].tolist())
        # RM3: expansion terms from the default's top documents
        docs = searcher.store.get_many(ids[o] for o in default[:RM3_DOCS])
        weight: Counter = Counter()
        query_terms = {t for _, t in match.pairs}
        for o in default[:RM3_DOCS]:
            doc = docs[ids[o]]
            words = analyze(f"{doc.title or ''} {doc.body}")
            if not words:
                continue
            for term, count in Counter(words).items():
                weight[term] += count / len(words) / RM3_DOCS
        expansion = [(t, w) for t, w in weight.most_common(RM3_TERMS * 3) if t not in query_terms][:RM3_TERMS]
        if expansion:
            full = np.zeros(len(ids))
            exp_cols = []
            all_ordinals = np.arange(len(ids))
            for t, w in expansion:
                col = np.asarray(terms_index.scores((("title", t), ("body", t)), all_ordinals, scoring=hybrid_scoring))
                exp_cols.append(col)
                full += w * col
            extra |= set(np.argsort(-full)[:DEPTH].tolist())
        # every candidate: the base union and the feedback runs' tops
        allc = sorted(base | {o for o in extra if lexical._terms.live is None or lexical._terms.live[o]},
                      key=ids.__getitem__)
        word, grams, cos = signals(allc)
        lex_rank = np.full(len(ids), 10**9, dtype=np.int64)
        for r, (o, _) in enumerate(word_list):
            lex_rank[o] = r
        dense_rank = np.full(len(ids), 10**9, dtype=np.int64)
        for r, (o, _, _) in enumerate(near):
            dense_rank[o] = r
        q.ids = [ids[o] for o in allc]
        q.base = np.isin(allc, list(base))
        q.shown = found.mask[allc].copy()
        q.word, q.grams, q.cos = word, grams, cos
        q.bm25f = np.asarray(lexical.scores(match, np.asarray(allc, dtype=np.int64)))
        q.lex_rank, q.dense_rank = lex_rank[allc], dense_rank[allc]
        for key, sc in rocchio_cos.items():
            q.rocchio[key] = sc[allc].astype(np.float64)
            q.rocchio_top[key] = np.isin(allc, np.argsort(-sc)[:DEPTH])
        if expansion:
            q.rm3 = np.stack([c[allc] for c in exp_cols], axis=1)
            q.rm3_weight = np.asarray([w for _, w in expansion])
        distinct = list(dict.fromkeys(t for _, t in match.pairs))
        q.idf, q.df = np.zeros(len(distinct)), np.zeros(len(distinct))
        q.holds = np.zeros((len(allc), len(distinct)), bool)
        q.title_holds = np.zeros((len(allc), len(distinct)), bool)
        for j, term in enumerate(distinct):
            variants = match.variants.get(term, ())
            title = terms_index.term_mask("title", term, variants)
            anywhere = title | terms_index.term_mask("body", term, variants)
            q.holds[:, j] = anywhere[allc]
            q.title_holds[:, j] = title[allc]
            q.df[j] = anywhere.sum()
            q.idf[j] = math.log(n / (q.df[j] + 1)) + 1.0
        out.append(q)
        if number % 20 == 0:
            print(f"  {number}/{len(queries)}", flush=True)
    return out


def load_set(name: str, args: argparse.Namespace) -> tuple[Archive, list[tuple[str, str, str]], object]:
    """The archive, the queries ``(id, kind, text)`` and the judgments of a benchmark."""
    if name in ("ant-news", "ant-questions"):
        directory = ant_news.JUDGED_DIR if name == "ant-news" else ant_news.JUDGED_DIR.parent / name
        archive = Archive.open(args.ant_index)
        judged = snn_news.load(list(archive.documents(duplicates=True)), directory)
        return archive, [(q.id, q.kind, q.text) for q in ant_news.read_queries(directory)], judged
    bench = evaluate.load_benchmark(name, args.data, args.cache)
    archive = evaluate.build_cached(bench, "e5-small", args.cache)
    if bench.judged:
        kind = {qid: k for qid, k, _ in bench.judged.queries}
        return archive, [(qid, kind[qid], text) for qid, text, _ in bench.queries], bench.judged
    return archive, [(qid, "question", text) for qid, text, _ in bench.queries], {qid: r for qid, _, r in bench.queries}


# ------------------------------------------------------------------ replay
@dataclass
class Bench:
    """A dumped set: its queries and how a ranking of one is scored."""

    name: str
    queries: list[QueryDump]
    judge: Callable[[QueryDump, list[str]], float]


def judge_of(name: str, judged: object) -> Callable[[QueryDump, list[str]], float]:
    if isinstance(judged, snn_news.Judged):
        return lambda q, ranked: snn_news.score_graded(ranked, judged.grades.get(q.qid, {}), judged.group_of)["nDCG@10"]
    return lambda q, ranked: evaluate.score_ranking(ranked, judged[q.qid])["nDCG@10"]


Rule = Callable[[QueryDump, np.ndarray], np.ndarray]
"""(query, the candidates in play) -> fused score of each of them."""


def rank(q: QueryDump, rule: Rule, pool: str = "base") -> list[str]:
    if not q.ids:
        return []
    sel = q.base.copy() if pool == "base" else np.ones(len(q.ids), bool)
    if pool.startswith("rocchio"):
        key = tuple(json.loads(pool.split(":", 1)[1]))
        sel = q.base | q.rocchio_top[key]
    scores = rule(q, sel)
    idx = np.flatnonzero(sel)
    keep = q.shown[idx]
    idx, scores = idx[keep], scores[keep]
    order = sorted(range(len(idx)), key=lambda i: (-scores[i], q.ids[idx[i]]))
    return [q.ids[idx[i]] for i in order[:DEPTH]]


def word_coverage(q: QueryDump, sel: np.ndarray, m: int = 10, title: bool = False) -> float:
    """The largest idf-weighted share of the query's terms one of the word side's top ``m`` holds."""
    idx = np.flatnonzero(sel & (q.lex_rank < DEPTH))
    top = idx[np.argsort(q.lex_rank[idx])][:m]
    if not len(top) or not len(q.idf) or q.idf.sum() <= 0:
        return 0.0
    held = (q.title_holds if title else q.holds)[top].astype(float) @ q.idf
    return float(held.max() / q.idf.sum())


def fused(q: QueryDump, sel: np.ndarray, a: float, share: float = 0.8, word: np.ndarray | None = None,
          cos: np.ndarray | None = None) -> np.ndarray:
    w = (q.word if word is None else word)[sel]
    c = (q.cos if cos is None else cos)[sel]
    return a * (1 - share) * _z(w) + a * share * _z(q.grams[sel]) + (1 - a) * _z(c)


def default_rule(alpha: float = 0.5, te: float = 0.6) -> Rule:
    return lambda q, sel: fused(q, sel, alpha + te * (1 - alpha) * word_coverage(q, sel, title=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["dump", "cv"])
    parser.add_argument("--data", type=Path, default=evaluate.DEFAULT_DATA, help="the shared data directory")
    parser.add_argument("--cache", type=Path, default=evaluate.DEFAULT_CACHE,
                        help="where scripts/evaluate.py keeps its indexes and embeddings")
    parser.add_argument("--dumps", type=Path, default=DUMPS, help="where the dumps are written and read")
    parser.add_argument("--ant-index", type=Path, default=Path("/tmp/antonly/index"),
                        help="an ANT archive with every passage embedded (opened read-only), for --bench ant-news")
    parser.add_argument("--bench", action="append",
                        help="dump: benchmark(s) (arcd-train, xquad, snn-news-pool, arcd-test, ant-news, ant-questions)")
    parser.add_argument("--json", type=Path, help="cv: also write every figure to this JSON file")
    args = parser.parse_args()
    args.dumps.mkdir(parents=True, exist_ok=True, mode=0o700)
    if args.command == "dump":
        if not args.bench:
            parser.error("dump needs --bench")
        for name in args.bench:
            archive, queries, judged = load_set(name, args)
            dumps = dump_queries(archive, queries)
            archive.close()
            (args.dumps / f"{name}.pkl").write_bytes(pickle.dumps((dumps, judged)))
            print(f"{name}: {len(dumps)} queries dumped", flush=True)
        return
    import fusion_rules

    fusion_rules.run(args)


if __name__ == "__main__":
    main()

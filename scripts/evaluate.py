"""Retrieval evaluation on Arabic benchmarks, per search mode, with a bm25s peer.

    python scripts/evaluate.py                          # ARCD, lexical only (fast)
    python scripts/evaluate.py --encoder e5-small --mode lexical --mode semantic --mode hybrid --mode bm25s \\
        --bench arcd-train --bench arcd-test --bench arcd-all --bench xquad \\
        --bench ant-dev --bench ant-test --bench snn-dev --bench snn-test --json docs/evaluation.json
    python scripts/evaluate.py --bench snn-news --mode lexical --mode bm25s --mode lucene \\
        --lucene-jar /tmp/ps/lib/python3.11/site-packages/pyserini/resources/jars/anserini-0.25.0-fatjar.jar

Benchmarks (data read from ``../shared/data``, never copied into the repository):

* ``arcd-train`` / ``arcd-test`` / ``arcd-all``, ``xquad``: SQuAD-format QA sets; each
  distinct paragraph is a document, each question a query, its paragraph the one relevant
  document.
* ``ant-dev`` / ``ant-test``, ``snn-dev`` / ``snn-test``: headline → article. A fixed,
  seeded sample of 2,000 articles is the corpus, indexed WITHOUT titles (and, for ANT,
  without abstracts); 400 sampled articles whose title is unique in the sample are the
  queries (title → its article; articles with an identical body count as relevant too);
  the first 200 are the dev half, the last 200 the test half.
* ``snn-news``: the judged news set (eval/snn-news: 120 hand-written queries of four kinds,
  graded 0/1/2) over all 30,676 SaudiNewsNet articles, indexed with their titles.
  ``snn-news-pool``: the same queries over a smaller corpus, every judged article (and its
  copies) plus a fixed seeded sample of 2,000 articles of the collection (for encoders too
  slow to embed the whole collection).
  Metrics there: graded nDCG@10 overall and per kind, MRR@10 and R@10 (grade >= 1 is
  relevant), copies of one article counted once (scripts/snn_news.py).

``--passage-overlap N`` builds with N words shared by consecutive passages instead of the
archive's default (its indexes are kept apart under ``--cache``). ``--passages lead|N|all``
embeds only the first passage(s) of each article (the archive's passage policy; the index is
rewritten in place from the embedding cache, so comparing policies embeds nothing twice).

Metrics: nDCG@10, MRR@10, Recall@1/10/100 and the median query latency. Embeddings are
cached under ``--cache`` so only the first run pays for them. Modes: ``lexical``,
``semantic``, ``hybrid`` (through ``Archive.search``), ``bm25s`` (the bm25s package over
the very same analyzed tokens: the peer our Whoosh scoring is compared with) and
``lucene`` (Anserini/Lucene: ArabicAnalyzer, BM25 k1 0.9 b 0.4, title + body; needs Java
11+ and the Anserini jar of Pyserini 0.25, else skipped with the reason; scripts/lucene_peer.py).

Sources: ARCD (Mozannar et al., WANLP 2019; MIT), XQuAD (Artetxe et al., ACL 2020;
CC BY-SA 4.0), ANT corpus v2.1 (Chouigui et al., AICCSA 2017; research use),
SaudiNewsNet (Alhagri 2015; CC BY-NC-SA 4.0).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import statistics
import sys
import tarfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive import Archive, Document  # noqa: E402
from archive.index import dense  # noqa: E402
from archive.text.analysis import terms  # noqa: E402
from archive.text.normalize import normalize  # noqa: E402
from archive.index.scoring import DEFAULT_SCORING, Scoring  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import snn_news  # noqa: E402
from lucene_peer import LuceneUnavailable, lucene_search  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_CACHE = Path.home() / ".cache" / "news-archive" / "eval"
SEED = 20261125
CORPUS_SIZE = 2_000
QUERIES = 400
K = 10
DEEP_K = 100


@dataclass(frozen=True)
class Benchmark:
    """Documents, queries and the relevant document ids of each query."""

    name: str
    documents: list[Document]
    queries: list[tuple[str, str, frozenset[str]]]  # (query id, text, relevant ids)
    judged: snn_news.Judged | None = field(default=None)  # graded judgments (snn-news) instead of `relevant`


# ------------------------------------------------------------------ loaders
def load_squad(paths: list[Path], name: str) -> Benchmark:
    """A SQuAD-format file set as a retrieval benchmark (identical paragraphs merged)."""
    ids: dict[str, str] = {}
    documents: list[Document] = []
    queries: list[tuple[str, str, frozenset[str]]] = []
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        for article in data["data"]:
            for paragraph in article["paragraphs"]:
                context = paragraph["context"].strip()
                if context not in ids:
                    ids[context] = f"p{len(ids):05d}"
                    documents.append(Document(id=ids[context], body=context))
                for qa in paragraph["qas"]:
                    queries.append((qa["id"], qa["question"], frozenset([ids[context]])))
    return Benchmark(name, documents, queries)


def _ant_articles(data: Path, cache: Path) -> list[tuple[str, str, str]]:
    """``(id, title, text)`` of every ANT article: TEXT only, no abstract."""
    root = cache / "ant-unpacked"
    if not root.is_dir():
        tmp = cache / "ant-unpacking"
        tmp.mkdir(parents=True, exist_ok=True)
        with tarfile.open(data / "ant-multisource-v2.1.tar.xz") as tar:
            tar.extractall(tmp, filter="data")
        tmp.rename(root)
    articles = []
    for path in sorted(root.rglob("*.txt")):
        raw = path.read_text(encoding="utf-8", errors="replace")
        get = lambda tag: (re.search(rf"<{tag}>(.*?)</{tag}>", raw, re.S) or [None, ""])[1].strip()  # noqa: E731
        articles.append((get("DOCNO"), get("TITLE"), get("TEXT")))
    return articles


def _snn_articles(data: Path) -> list[tuple[str, str, str]]:
    from archive.files.readers import read_documents

    return [(d.id, d.title, d.body) for d in read_documents(data / "saudinewsnet", on_error=lambda e: None)]


def _snn_documents(data: Path) -> list[Document]:
    """Every SaudiNewsNet article as the archive's reader makes it (ids, titles, bodies)."""
    from archive.files.readers import read_documents

    return [Document(id=d.id, title=d.title, body=d.body)
            for d in read_documents(data / "saudinewsnet", on_error=lambda e: None)]


def load_judged(data: Path, name: str) -> Benchmark:
    """The judged news set over all SNN articles (``snn-news``) or over its pool plus distractors."""
    documents = _snn_documents(data)
    judged = snn_news.load(documents)
    if name == "snn-news-pool":
        # The distractors are drawn from the whole collection, not from what is left after the
        # judged articles: adding judgments later must not reshuffle the rest of the corpus.
        wanted = {key for grades in judged.grades.values() for key in grades}
        sample = {d.id for d in random.Random(SEED).sample(sorted(documents, key=lambda d: d.id), CORPUS_SIZE)}
        documents = sorted((d for d in documents if d.id in sample or judged.group_of[d.id] in wanted),
                           key=lambda d: d.id)
    queries = [(qid, text, frozenset()) for qid, _kind, text in judged.queries]
    return Benchmark(name, documents, queries, judged)


def load_headlines(articles: list[tuple[str, str, str]], name: str) -> tuple[Benchmark, Benchmark]:
    """Dev and test halves of a headline → article benchmark (see the module docstring)."""
    usable = sorted({a[0]: a for a in articles if a[0] and a[1].strip() and len(a[2].split()) >= 20}.values())
    rng = random.Random(SEED)
    sample = rng.sample(usable, CORPUS_SIZE)
    documents = [Document(id=doc_id, body=text) for doc_id, _, text in sample]
    by_body: dict[str, set[str]] = {}
    for doc_id, _, text in sample:
        by_body.setdefault(" ".join(normalize(text).split()), set()).add(doc_id)
    titles = Counter(" ".join(normalize(title).split()) for _, title, _ in sample)
    candidates = [a for a in sample if titles[" ".join(normalize(a[1]).split())] == 1]
    chosen = rng.sample(candidates, QUERIES)
    queries = [
        (doc_id, title, frozenset(by_body[" ".join(normalize(text).split())]))
        for doc_id, title, text in chosen
    ]
    half = QUERIES // 2
    return (Benchmark(f"{name}-dev", documents, queries[:half]), Benchmark(f"{name}-test", documents, queries[half:]))


def load_benchmark(name: str, data: Path, cache: Path) -> Benchmark:
    arcd = data / "arcd"
    squad = {
        "arcd-train": [arcd / "arcd-train.json"],
        "arcd-test": [arcd / "arcd-test.json"],
        "arcd-all": [arcd / "arcd-train.json", arcd / "arcd-test.json"],
        "xquad": [data / "xquad" / "xquad.ar.json"],
    }
    if name in squad:
        return load_squad(squad[name], name)
    if name in ("snn-news", "snn-news-pool"):
        return load_judged(data, name)
    family, _, half = name.partition("-")
    if family in ("ant", "snn") and half in ("dev", "test"):
        articles = _ant_articles(data, cache) if family == "ant" else _snn_articles(data)
        dev, test = load_headlines(articles, family)
        return dev if half == "dev" else test
    raise SystemExit(f"unknown benchmark {name!r}")


# ------------------------------------------------------------------ metrics
def score_ranking(ranked: list[str], relevant: frozenset[str]) -> dict[str, float]:
    """nDCG@10, reciprocal rank @10, Recall@1/10/100 of one ranking (binary relevance)."""
    first = next((i for i, doc in enumerate(ranked, 1) if doc in relevant), None)
    dcg = sum(1 / math.log2(i + 1) for i, doc in enumerate(ranked[:K], 1) if doc in relevant)
    ideal = sum(1 / math.log2(i + 1) for i in range(1, min(len(relevant), K) + 1))
    found = lambda n: len(relevant & set(ranked[:n])) / len(relevant)  # noqa: E731
    return {
        "nDCG@10": dcg / ideal,
        "MRR@10": 1 / first if first and first <= K else 0.0,
        "R@1": found(1),
        "R@10": found(K),
        "R@100": found(DEEP_K),
    }


def as_keywords(text: str) -> str:
    """A benchmark question or headline as typed keywords: its quotes and +/- signs are not operators."""
    return " ".join(re.sub(r'["“”«»]|(?:^|(?<=\s))[+-]', " ", text).split())


def evaluate(search: Callable[[str], list[str]], bench: Benchmark) -> dict[str, float | None]:
    """Mean metrics of ``search`` over the benchmark's queries, and the median latency in ms.

    On a judged benchmark the metrics are graded (scripts/snn_news.py) and nDCG@10 is also
    given per query kind (``nDCG@10 <kind>``).
    """
    rows, latency, kinds = [], [], []
    judged = bench.judged
    kind_of = {qid: kind for qid, kind, _ in judged.queries} if judged else {}
    for qid, question, relevant in bench.queries:
        text = as_keywords(question)
        started = time.perf_counter()
        ranked = search(text)
        latency.append((time.perf_counter() - started) * 1000)
        if judged:
            rows.append(snn_news.score_graded(ranked, judged.grades.get(qid, {}), judged.group_of))
            kinds.append(kind_of[qid])
        else:
            rows.append(score_ranking(ranked, relevant))
    result = {key: statistics.fmean(r[key] for r in rows) for key in rows[0]}
    for kind in dict.fromkeys(kinds):
        result[f"nDCG@10 {kind}"] = statistics.fmean(r["nDCG@10"] for r, k in zip(rows, kinds) if k == kind)
    batch = getattr(search, "batch", False)
    result["p50_ms"] = None if batch else statistics.median(latency)
    result["queries"] = len(bench.queries)
    result["documents"] = len(bench.documents)
    return result


def bm25s_search(bench: Benchmark) -> Callable[[str], list[str]]:
    """The bm25s peer over our analyzer's tokens, with our k1 and b."""
    import bm25s

    retriever = bm25s.BM25(k1=DEFAULT_SCORING.k1, b=DEFAULT_SCORING.b)
    retriever.index([terms(d.text) for d in bench.documents], show_progress=False)
    ids = [d.id for d in bench.documents]

    def search(text: str) -> list[str]:
        tokens = [t for t in terms(text) if t in retriever.vocab_dict]
        if not tokens:
            return []
        docs, _ = retriever.retrieve([tokens], k=min(DEEP_K, len(ids)), show_progress=False)
        return [ids[i] for i in docs[0]]

    return search


def build_cached(bench: Benchmark, encoder: str, cache: Path, suffix: str = "", passages: str = "all") -> Archive:
    """An index of exactly ``bench``'s documents under ``cache`` (``prune``: an earlier sample's
    articles must not stay in it); embeddings are reused across runs."""
    root = cache / f"{bench.name.replace('-dev', '').replace('-test', '')}-{encoder.replace('/', '_').replace(':', '_')}{suffix}"
    no_encoder = encoder == "none"
    return Archive.build(bench.documents, root, procs=1, encoder=None if no_encoder else encoder, prune=True,
                         passages=None if no_encoder else passages)


def _searcher(archive: Archive, scoring: Scoring, mode: str, options: dict) -> Callable[[str], list[str]]:
    """A search of ``archive`` in ``mode`` under ``scoring`` (set before each query: runs share the archive)."""

    def search(text: str) -> list[str]:
        archive.scoring = scoring
        return [h.id for h in archive.search(text, k=DEEP_K, mode=mode, **options)]

    return search


def _ms(value: float | None) -> str:
    """A latency for the table; batch runs (Lucene) have none."""
    return "–" if value is None else f"{value:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data directory")
    parser.add_argument("--bench", action="append", help="benchmark(s) (default: arcd-train, arcd-test, arcd-all)")
    parser.add_argument("--mode", action="append", choices=["lexical", "semantic", "hybrid", "bm25s", "lucene"],
                        help="mode(s) to evaluate (repeatable; default: lexical)")
    parser.add_argument("--encoder", default="none", help="encoder for semantic/hybrid (e.g. e5-small)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where indexes and embeddings are kept")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--fusion", help="hybrid fusion (default: the archive's)")
    parser.add_argument("--alpha", type=float, action="append",
                        help="hybrid lexical weight(s) to evaluate (repeatable; default: the archive's)")
    parser.add_argument("--gram-share", type=float,
                        help="share of the lexical weight given to character-gram BM25 (default: Scoring.gram_share)")
    parser.add_argument("--scoring", action="append",
                        help="scoring setting(s) to evaluate, each name=value[,name=value] over the defaults of "
                             "archive.index.scoring.Scoring, e.g. 'title_weight=1,b=0.4' (repeatable; default: the defaults)")
    parser.add_argument("--passage-overlap", type=int,
                        help="words shared by consecutive passages (default: the archive's PASSAGE_OVERLAP)")
    parser.add_argument("--passages", default="all",
                        help="passage policy: lead, N (the first N passages of each article) or all (default)")
    parser.add_argument("--lucene-jar", type=Path,
                        help="Anserini fat jar for --mode lucene (default: $ANSERINI_JAR or an importable pyserini)")
    args = parser.parse_args()
    suffix = ""
    if args.passage_overlap is not None:
        dense.PASSAGE_OVERLAP = args.passage_overlap
        suffix = f"-overlap{args.passage_overlap}"
    scoring_options = args.scoring or [""]
    if args.gram_share is not None:
        scoring_options = [",".join(filter(None, [o, f"gram_share={args.gram_share}"])) for o in scoring_options]
    if not (args.data / "arcd").is_dir():
        sys.exit(f"benchmark data not found at {args.data}: pass --data DIR (the shared data directory)")
    benches = args.bench or ["arcd-train", "arcd-test", "arcd-all"]
    modes = args.mode or ["lexical"]
    results = []
    print("| benchmark | mode | docs | queries | nDCG@10 | MRR@10 | R@1 | R@10 | R@100 | p50 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    judged_rows = []
    for name in benches:
        bench = load_benchmark(name, args.data, args.cache)
        archive = (build_cached(bench, args.encoder, args.cache, suffix, args.passages)
                   if set(modes) - {"bm25s", "lucene"} else None)
        base = archive.scoring if archive is not None else None  # the archive's own (its encoder's) scoring
        for mode in modes:
            if mode == "bm25s":
                search = bm25s_search(bench)
                runs = [(mode, search)]
            elif mode == "lucene":
                try:
                    search = lucene_search(bench.documents, [as_keywords(q) for _, q, _ in bench.queries], args.cache,
                                           args.lucene_jar)
                except LuceneUnavailable as exc:
                    print(f"lucene skipped on {name}: {exc}", file=sys.stderr, flush=True)
                    continue
                runs = [("lucene k1=0.9 b=0.4", search)]
            else:
                modes_options = [{}] if mode != "hybrid" or not args.alpha else [{"alpha": a} for a in args.alpha]
                if mode == "hybrid" and args.fusion:
                    modes_options = [{**o, "fusion": args.fusion} for o in modes_options]
                runs = [
                    (" ".join([mode, *(f"{key}={value}" for key, value in o.items()), *([text] if text else [])]),
                     _searcher(archive, scoring, mode, o))
                    for o in modes_options for text, scoring in
                    ((text, base.with_options(text)) for text in scoring_options)
                ]
            for label, search in runs:
                m = evaluate(search, bench)
                results.append({"benchmark": name, "mode": label, "encoder": args.encoder,
                                "passage_overlap": dense.PASSAGE_OVERLAP, "passages": args.passages, **m})
                if bench.judged:
                    judged_rows.append((name, label, m))
                    print(
                        f"| {name} | {label} | {m['documents']} | {m['queries']} | {m['nDCG@10']:.3f} | {m['MRR@10']:.3f} | "
                        f"– | {m['R@10']:.3f} | – | {_ms(m['p50_ms'])} |",
                        flush=True,
                    )
                    continue
                print(
                    f"| {name} | {label} | {m['documents']} | {m['queries']} | {m['nDCG@10']:.3f} | {m['MRR@10']:.3f} | "
                    f"{m['R@1']:.3f} | {m['R@10']:.3f} | {m['R@100']:.3f} | {_ms(m['p50_ms'])} |",
                    flush=True,
                )
        if archive is not None:
            archive.close()
    if judged_rows:
        print("\n| benchmark | mode | nDCG@10 all | " + " | ".join(snn_news.KINDS) + " | MRR@10 | R@10 | judged@10 |")
        print("|---|---|---|" + "---|" * len(snn_news.KINDS) + "---|---|---|")
        for name, label, m in judged_rows:
            per_kind = " | ".join(f"{m.get(f'nDCG@10 {k}', float('nan')):.3f}" for k in snn_news.KINDS)
            print(f"| {name} | {label} | {m['nDCG@10']:.3f} | {per_kind} | {m['MRR@10']:.3f} | {m['R@10']:.3f} | "
                  f"{m['judged@10']:.3f} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

"""Performance benchmark: how build time, size, memory and latency grow from 1k articles to the news corpus.

    python scripts/bench.py                                   # 1k, 10k and all 62.5k articles
    python scripts/bench.py --sizes 1000,10000 --runs 3 --dense-sizes 1000 --json /tmp/bench.json

The corpus is every article of ANT v2.1 and SaudiNewsNet (``../shared/data``,
read with the archive's own readers; ids deduplicated), shuffled with a fixed
seed; size N is its first N articles. For each size the script:

1. builds it lexical-only with the command line (``archive build --encoder
   none --full``, a new process each run): seconds, articles/s, CPU time over
   wall time (how many of the two cores the build kept busy), peak RSS;
2. indexes the same analyzed tokens with **bm25s** (the peer) and times it;
3. measures warm query latency through the library (``Archive.search``, k=10)
   in a separate process, over a fixed set of queries: headlines of sampled
   articles and 2-4 content words drawn from sampled articles' bodies; all
   queries ``--runs`` times, p50/p95/p99 over every timed call; that process's
   peak RSS is the "search process" memory; bm25s answers the same queries;
   the same with filters (``since=2015-01-01``, ``source=skynews``), sorted by
   date, and facet counts over a query's whole matching set;
4. times a cold ``archive search "قوات كورية في كورسك"`` as a new process
   (median of ``--cold-runs``, after one untimed run so the OS file cache is
   warm, as it is for a user who searches twice);
5. on the largest size, times ``archive add`` of 1,000 held-out articles (a
   day's intake) against that size minus them;
6. for ``--dense-sizes``, builds the dense side with ``--dense`` (default
   ``use-multilingual``, the fast encoder: e5-small would take hours per 10k
   articles here) over every passage of every article, and measures semantic
   and hybrid latency and the cold hybrid CLI. The first dense build of a size
   pays for the embeddings (cached under ``--work``); its embedding stage is
   timed separately.

It ends with the encoder roofline: float32 matrix-multiply GFLOP/s measured
with numpy (the machine's practical peak for dense math), against the FLOP/s
multilingual-e5-small achieves on 120-word passages (FLOPs counted from its
architecture: 12 layers, hidden 384, feed-forward 1536, and attention over
each passage's own token count).

Everything is medians over repeated runs, because the machine is shared and
noisy; the load average before each size is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archive import Archive, ArchiveError, Document, read_documents  # noqa: E402
from archive.text.analysis import iter_terms  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data"
DEFAULT_WORK = Path.home() / ".cache" / "news-archive" / "bench"
SEED = 2026
COLD_QUERY = "قوات كورية في كورسك"
DAY = 1_000


# ------------------------------------------------------------------ corpus
def load_corpus(data: Path, work: Path) -> list[Document]:
    """Every ANT and SaudiNewsNet article, ids unique, in a seeded random order."""
    ant = work / "ant-unpacked"
    if not ant.is_dir():
        tmp = work / "ant-unpacking"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        with tarfile.open(data / "ant-multisource-v2.1.tar.xz") as tar:
            tar.extractall(tmp, filter="data")
        tmp.rename(ant)
    seen: dict[str, Document] = {}
    for doc in read_documents([ant, data / "saudinewsnet"], on_error=lambda error: None):
        seen.setdefault(doc.id, doc)
    docs = sorted(seen.values(), key=lambda d: d.id)
    random.Random(SEED).shuffle(docs)
    return docs


def write_jsonl(docs: list[Document], path: Path) -> Path:
    """``docs`` as JSON Lines the archive's reader takes back unchanged."""
    with open(path, "w", encoding="utf-8") as fh:
        for d in docs:
            record = {"id": d.id, "title": d.title, "body": d.body, "source": d.source, "url": d.url,
                      "category": d.category, "published": d.published.isoformat() if d.published else ""}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def make_queries(docs: list[Document], count: int) -> list[str]:
    """Half headlines, half 2-4 content words of one article's body; fixed seed."""
    rng = random.Random(SEED + len(docs))
    titled = [d for d in docs if len(d.title.split()) >= 3]
    queries = [d.title for d in rng.sample(titled, count // 2)]
    while len(queries) < count:
        doc = rng.choice(docs)
        words = list(dict.fromkeys(w for w, *_ in _content_words(doc.body)))
        if len(words) >= 4:
            queries.append(" ".join(rng.sample(words, rng.randint(2, 4))))
    return queries


def _content_words(text: str) -> list[tuple[str, int, int]]:
    """Surface words of ``text`` the analyzer keeps (not stop words), at least 3 letters long."""
    return [(text[s:e], s, e) for term, s, e in iter_terms(text[:3000]) if len(term) >= 3 and e - s >= 3]


# --------------------------------------------------------------- processes
_LAUNCHER = """
import json, os, sys, time
started = time.perf_counter()
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
with open(sys.argv[1], "w") as fh:
    json.dump({"status": os.waitstatus_to_exitcode(status), "wall": wall,
               "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024}, fh)
"""
"""Runs a command and reports its wall time, CPU time and peak RSS. A child forked
from this (large) benchmark process would report this process's peak RSS as its
own (Linux carries the high-water mark across fork and exec), so a small
launcher process starts each measured command."""


def run_measured(cmd: list[str]) -> dict[str, object]:
    """Run ``cmd`` to completion: wall seconds, its CPU seconds and peak RSS (MB), its stdout.

    Output goes to temporary files, not pipes: a build's progress output
    could otherwise fill a pipe and stall the child.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(suffix=".json") as report:
        subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, report.name, *cmd], stdout=out, stderr=err, check=False)
        measured = json.loads(Path(report.name).read_text() or "{}")
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if measured.get("status") != 0:
        raise SystemExit(f"{' '.join(cmd[:5])}... failed ({measured.get('status')}):\n{stderr[-3000:]}")
    return {**measured, "stdout": stdout}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "archive", *args]


def worker(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--worker", *args]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def dir_mb(path: Path, *, skip: tuple[str, ...] = ()) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and p.name not in skip) / 2**20


def live_mb(index: Path) -> float:
    """Size of the live generation (the embedding cache beside it is not part of the index)."""
    name = (index / "CURRENT").read_text().strip()
    return dir_mb(index / name)


# ------------------------------------------------------------------ workers
VARIANTS: dict[str, dict[str, object]] = {
    "since": {"since": "2015-01-01"},
    "source": {"source": "skynews"},
    "date-sort": {"sort": "date"},
}
"""Filtered and sorted variants of every query (a news archive is searched with dates and
sources all the time): each is timed on the first ``VARIANT_QUERIES`` queries."""
VARIANT_QUERIES = 60
FACET_QUERY = "أسعار النفط"


def latency_worker(index: Path, queries_file: Path, modes: list[str], runs: int) -> None:
    """In its own process: warm latency of every query in every mode, plain, filtered and
    sorted, and of facet counts; prints JSON."""
    queries = json.loads(queries_file.read_text(encoding="utf-8"))
    archive = Archive.open(index)
    result: dict[str, object] = {}
    for mode in modes:
        for q in queries[:20]:  # warm-up: caches, lazy loads, the query encoder
            archive.search(q, k=10, mode=mode)
        for name, options in {"": {}, **VARIANTS}.items():
            times = []
            for _ in range(runs):
                for q in queries if not name else queries[:VARIANT_QUERIES]:
                    started = time.perf_counter()
                    archive.search(q, k=10, mode=mode, **options)  # type: ignore[arg-type]
                    times.append((time.perf_counter() - started) * 1000)
            result[f"{mode}+{name}" if name else mode] = times
    facets = []
    for query in [FACET_QUERY, *queries[:VARIANT_QUERIES]]:
        started = time.perf_counter()
        found = archive.facets(query, since="2015-01-01")
        facets.append(((time.perf_counter() - started) * 1000, found.total))
    result["facets"] = [t for t, _ in facets]
    result["facets_largest_match"] = [max(facets, key=lambda f: f[1])[1]]
    print(json.dumps(result))


def build_worker(source: Path, index: Path, encoder: str) -> None:
    """In its own process: a build with per-stage times; prints JSON."""
    stages: dict[str, list[float]] = {}

    def progress(stage: str, done: int, total: int | None) -> None:
        now = time.perf_counter()
        stages.setdefault(stage, [now, now])[1] = now

    from archive import BuildReport

    report = BuildReport()
    started = time.perf_counter()
    Archive.build(read_documents(source), index, encoder=encoder, full=True, prune=True, report=report,
                  progress=progress).close()
    wall = time.perf_counter() - started
    print(json.dumps({"wall": wall, "passages": report.passages, "embedded": report.embedded,
                      "stages": {k: v[1] - v[0] for k, v in stages.items()}}))


# --------------------------------------------------------------- measuring
def lexical_build(source: Path, index: Path, docs: int, runs: int) -> dict[str, float]:
    walls, cpus, rss = [], [], []
    for _ in range(runs):
        r = run_measured(cli("build", str(source), "--index", str(index), "--encoder", "none", "--full", "--prune"))
        walls.append(r["wall"])
        cpus.append(r["cpu"])
        rss.append(r["rss_mb"])
    wall = statistics.median(walls)
    return {"build_s": wall, "articles_per_s": docs / wall, "cores": statistics.median(c / w for c, w in zip(cpus, walls)),
            "build_rss_mb": max(rss), "size_mb": live_mb(index)}


def bm25s_peer(docs: list[Document], queries: list[str], runs: int) -> dict[str, float]:
    import bm25s

    started = time.perf_counter()
    corpus = [[t for t, _, _ in iter_terms(d.text)] for d in docs]
    tokenized = time.perf_counter()
    retriever = bm25s.BM25(k1=0.9, b=0.75)
    retriever.index(corpus, show_progress=False)
    indexed = time.perf_counter()
    token_lists = [[t for t, _, _ in iter_terms(q)] or ["_"] for q in queries]
    times = []
    for _ in range(runs):
        for tokens in token_lists:
            t0 = time.perf_counter()
            try:
                retriever.retrieve([tokens], k=10, show_progress=False)
            except ValueError:  # bm25s rejects queries with no known token
                pass
            times.append((time.perf_counter() - t0) * 1000)
    return {"tokenize_s": tokenized - started, "index_s": indexed - tokenized,
            "articles_per_s": len(docs) / (indexed - started), "p50": percentile(times, 50),
            "p95": percentile(times, 95), "p99": percentile(times, 99)}


def latency(index: Path, queries_file: Path, modes: list[str], runs: int) -> dict[str, object]:
    r = run_measured(worker("latency", str(index), str(queries_file), ",".join(modes), str(runs)))
    times = json.loads(str(r["stdout"]).strip().splitlines()[-1])
    out: dict[str, object] = {"search_rss_mb": r["rss_mb"]}
    for mode, values in times.items():
        if mode == "facets_largest_match":
            out[mode] = values[0]
            continue
        out[mode] = {"p50": percentile(values, 50), "p95": percentile(values, 95), "p99": percentile(values, 99)}
    return out


def cold(index: Path, mode: str, runs: int) -> dict[str, float]:
    cmd = cli("search", COLD_QUERY, "--index", str(index), "--mode", mode)
    run_measured(cmd)  # untimed: the OS file cache holds the index, as for any second search
    measured = [run_measured(cmd) for _ in range(runs)]
    return {"cold_s": statistics.median(float(m["wall"]) for m in measured),
            "cold_rss_mb": max(float(m["rss_mb"]) for m in measured)}


def _opens(index: Path) -> bool:
    """True when this code can open ``index`` (a base kept from an earlier run may be of an older format)."""
    try:
        Archive.open(index).close()
    except ArchiveError:
        return False
    return True


def add_day(base_source: Path, day_source: Path, work: Path, encoder: str, runs: int, docs: int,
            cache_from: Path | None = None) -> dict[str, float]:
    """Seconds to ``archive add`` a day's articles to an archive of ``docs`` articles (median of ``runs``).

    ``cache_from``: an index whose embedding cache already holds these articles' passages
    (copied in, so that building the base archive embeds nothing).
    """
    base = work / f"add-base-{encoder}"
    if base.exists() and not _opens(base):  # left by an older format: the add would refuse it
        shutil.rmtree(base)
    if not base.exists():
        if cache_from is not None and (cache_from / "embeddings.sqlite").exists():
            base.mkdir(parents=True)
            shutil.copy2(cache_from / "embeddings.sqlite", base / "embeddings.sqlite")
        run_measured(cli("build", str(base_source), "--index", str(base), "--encoder", encoder, "--prune"))
    walls, rss = [], []
    for _ in range(runs):
        target = work / f"add-target-{encoder}"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(base, target, symlinks=True)
        r = run_measured(cli("add", str(day_source), "--index", str(target)))
        walls.append(float(r["wall"]))
        rss.append(float(r["rss_mb"]))
        shutil.rmtree(target, ignore_errors=True)
    return {"add_s": statistics.median(walls), "add_rss_mb": max(rss), "base_docs": docs}


def roofline(corpus: list[Document], runs: int) -> dict[str, float]:
    """numpy float32 GEMM GFLOP/s against e5-small's achieved GFLOP/s on 64 passages of 120 words."""
    from archive.encoders import get_encoder

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_encoders import gemm_roofline  # one roofline measurement for both scripts

    gemm = gemm_roofline(runs)
    words = " ".join(d.body for d in corpus[:400]).split()
    passages = [" ".join(words[i : i + 120]) for i in range(0, 120 * 64, 120)]
    encoder = get_encoder("e5-small")
    tokens = [encoder.token_count(p) for p in passages]  # type: ignore[union-attr]
    layers, hidden, ffn = 12, 384, 1536
    flops = sum(layers * (2 * t * (4 * hidden * hidden + 2 * hidden * ffn) + 4 * t * t * hidden) for t in tokens)
    encoder.encode_passages(passages[:2])  # type: ignore[union-attr]
    seconds = []
    for _ in range(runs):
        t0 = time.perf_counter()
        encoder.encode_passages(passages)  # type: ignore[union-attr]
        seconds.append(time.perf_counter() - t0)
    achieved = flops / statistics.median(seconds) / 1e9
    peak = max(gemm.values())
    return {"gemm_gflops": gemm, "peak_gflops": peak, "e5_gflops": achieved, "e5_fraction": achieved / peak,
            "e5_tokens_per_s": sum(tokens) / statistics.median(seconds),
            "e5_passages_per_s": len(passages) / statistics.median(seconds)}


# -------------------------------------------------------------------- main
def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind, *rest = sys.argv[2:]
        if kind == "latency":
            latency_worker(Path(rest[0]), Path(rest[1]), rest[2].split(","), int(rest[3]))
        else:
            build_worker(Path(rest[0]), Path(rest[1]), rest[2])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="indexes, subsets and caches")
    parser.add_argument("--sizes", default="1000,10000,full")
    parser.add_argument("--dense-sizes", default="1000,10000,full", help="sizes that also get a dense side ('' for none)")
    parser.add_argument("--dense", default="use-multilingual", help="encoder of the dense side")
    parser.add_argument("--runs", type=int, default=3, help="repetitions of each build and of each query pass")
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-roofline", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--latency-only", type=Path, metavar="INDEX",
                        help="only time searches (plain, filtered, sorted, facets) on this built index of the "
                             "whole corpus, in every mode it has")
    parser.add_argument("--add-only", action="store_true",
                        help="only time `archive add` of a day's articles to the whole corpus less that day, "
                             "with the --dense encoder (its vectors taken from the whole corpus's dense index)")
    args = parser.parse_args()
    if not (args.data / "saudinewsnet").is_dir():
        sys.exit(f"benchmark data not found at {args.data}: pass --data DIR (the shared data directory)")
    args.work.mkdir(parents=True, exist_ok=True)
    corpus = load_corpus(args.data, args.work)
    if args.latency_only:
        queries_file = args.work / f"n{len(corpus)}-queries.json"
        queries_file.write_text(json.dumps(make_queries(corpus, args.queries), ensure_ascii=False), encoding="utf-8")
        with Archive.open(args.latency_only) as archive:
            modes = ["lexical", "semantic", "hybrid"] if archive.manifest.encoder else ["lexical"]
            size = len(archive)
        load = os.getloadavg()[0]
        lat = latency(args.latency_only, queries_file, modes, args.runs)
        result = {"rows": [{"articles": size, "load": load, "latency": lat}]}
        print(json.dumps(result, indent=1, default=float))
        print(render_latency(result))
        if args.json:
            args.json.write_text(json.dumps(result, indent=1, default=float), encoding="utf-8")
        return
    if args.add_only:
        tag = f"n{len(corpus)}"
        base = write_jsonl(corpus[:-DAY], args.work / f"{tag}-base.jsonl")
        day = write_jsonl(corpus[-DAY:], args.work / f"{tag}-day.jsonl")
        added = add_day(base, day, args.work / tag, args.dense, args.runs, len(corpus) - DAY,
                        cache_from=args.work / f"{tag}-{args.dense}")
        print(json.dumps({"add_dense": added, "load": os.getloadavg()[0]}, indent=1))
        if args.json:
            args.json.write_text(json.dumps({"add_dense": added}, indent=1), encoding="utf-8")
        return
    sizes = [len(corpus) if s == "full" else int(s) for s in args.sizes.split(",")]
    dense_sizes = {len(corpus) if s == "full" else int(s) for s in args.dense_sizes.split(",") if s}
    print(f"corpus: {len(corpus):,} articles (ANT + SaudiNewsNet); {os.cpu_count()} cores", flush=True)
    rows = []
    for size in sizes:
        load = os.getloadavg()[0]
        docs = corpus[:size]
        tag = f"n{size}"
        source = write_jsonl(docs, args.work / f"{tag}.jsonl")
        queries = make_queries(docs, args.queries)
        queries_file = args.work / f"{tag}-queries.json"
        queries_file.write_text(json.dumps(queries, ensure_ascii=False), encoding="utf-8")
        row: dict[str, object] = {"articles": size, "load": load}
        index = args.work / f"{tag}-lexical"
        row["lexical"] = lexical_build(source, index, size, args.runs)
        row["bm25s"] = bm25s_peer(docs, queries, args.runs)
        row["latency"] = latency(index, queries_file, ["lexical"], args.runs)
        row["cold_lexical"] = cold(index, "lexical", args.cold_runs)
        if size == max(sizes):
            base = write_jsonl(docs[:-DAY], args.work / f"{tag}-base.jsonl")
            day = write_jsonl(docs[-DAY:], args.work / f"{tag}-day.jsonl")
            row["add_lexical"] = add_day(base, day, args.work / tag, "none", args.runs, size - DAY)
        if size in dense_sizes:
            dindex = args.work / f"{tag}-{args.dense}"
            first = run_measured(worker("build", str(source), str(dindex), args.dense))
            again = run_measured(worker("build", str(source), str(dindex), args.dense))
            info = json.loads(str(first["stdout"]).strip().splitlines()[-1])
            row["dense"] = {
                "encoder": args.dense, "passages": info["passages"], "embedded": info["embedded"],
                "first_build_s": first["wall"], "embed_s": info["stages"].get("embed", 0.0),
                "cores": float(first["cpu"]) / float(first["wall"]), "build_rss_mb": first["rss_mb"],
                "cached_build_s": again["wall"], "size_mb": live_mb(dindex),
            }
            if info["embedded"] and info["stages"].get("embed"):
                row["dense"]["passages_per_s"] = info["embedded"] / info["stages"]["embed"]  # type: ignore[index]
            row["dense_latency"] = latency(dindex, queries_file, ["lexical", "semantic", "hybrid"], args.runs)
            row["cold_hybrid"] = cold(dindex, "hybrid", args.cold_runs)
            if size == max(sizes):
                row["add_dense"] = add_day(base, day, args.work / tag, args.dense, 1, size - DAY, cache_from=dindex)
        rows.append(row)
        print(json.dumps(row, indent=1, default=float), flush=True)
    result: dict[str, object] = {"rows": rows}
    if not args.no_roofline:
        result["roofline"] = roofline(corpus, args.runs)
        print(json.dumps(result["roofline"], indent=1), flush=True)
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=float), encoding="utf-8")


def render_latency(result: dict) -> str:
    """The table of plain, filtered and sorted query latency, and facet counts."""
    out = ["", "| articles | mode | plain p50/p95 ms | since=2015-01-01 | source=skynews | sort=date | facets p50/p95 ms |",
           "|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        for lat in (r["latency"], r.get("dense_latency")):
            for mode in ("lexical", "semantic", "hybrid"):
                if not lat or mode not in lat or f"{mode}+since" not in lat:
                    continue
                cells = [f"{lat[key]['p50']:.1f} / {lat[key]['p95']:.1f}"
                         for key in (mode, f"{mode}+since", f"{mode}+source", f"{mode}+date-sort")]
                facets = f"{lat['facets']['p50']:.1f} / {lat['facets']['p95']:.1f}"
                out.append(f"| {r['articles']:,} | {mode} | {' | '.join(cells)} | {facets} |")
    return "\n".join(out)


def render(result: dict) -> str:
    """The markdown tables of ``docs/performance.md``."""
    out = ["| articles | lexical build s | articles/s | cores | build RSS MB | index MB | bm25s index s (articles/s) |"
           " lexical p50/p95/p99 ms | bm25s p50/p95/p99 ms | search RSS MB | cold CLI s |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lx, bm, lat = r["lexical"], r["bm25s"], r["latency"]
        q = lat["lexical"]
        out.append(
            f"| {r['articles']:,} | {lx['build_s']:.1f} | {lx['articles_per_s']:.0f} | {lx['cores']:.2f} | "
            f"{lx['build_rss_mb']:.0f} | {lx['size_mb']:.0f} | {bm['tokenize_s'] + bm['index_s']:.1f} "
            f"({bm['articles_per_s']:.0f}) | {q['p50']:.1f} / {q['p95']:.1f} / {q['p99']:.1f} | "
            f"{bm['p50']:.2f} / {bm['p95']:.2f} / {bm['p99']:.2f} | {lat['search_rss_mb']:.0f} | "
            f"{r['cold_lexical']['cold_s']:.2f} |"
        )
    dense_rows = [r for r in result["rows"] if "dense" in r]
    if dense_rows:
        out += ["", "| articles | encoder | passages | embed passages/s | first build s | cached build s | cores |"
                " index MB | semantic p50/p95/p99 ms | hybrid p50/p95/p99 ms | search RSS MB | cold hybrid CLI s |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in dense_rows:
            d, lat = r["dense"], r["dense_latency"]
            s, h = lat["semantic"], lat["hybrid"]
            out.append(
                f"| {r['articles']:,} | {d['encoder']} | {d['passages']:,} | {d.get('passages_per_s', float('nan')):.0f} | "
                f"{d['first_build_s']:.0f} | {d['cached_build_s']:.0f} | {d['cores']:.2f} | {d['size_mb']:.0f} | "
                f"{s['p50']:.1f} / {s['p95']:.1f} / {s['p99']:.1f} | {h['p50']:.1f} / {h['p95']:.1f} / {h['p99']:.1f} | "
                f"{lat['search_rss_mb']:.0f} | {r['cold_hybrid']['cold_s']:.2f} |"
            )
    out.append(render_latency(result))
    for r in result["rows"]:
        for key in ("add_lexical", "add_dense"):
            if key in r:
                a = r[key]
                out.append(f"\n`archive add` of {DAY:,} articles to {a['base_docs']:,} ({key[4:]}): "
                           f"{a['add_s']:.1f} s, peak RSS {a['add_rss_mb']:.0f} MB")
    if "roofline" in result:
        rf = result["roofline"]
        out.append(f"\nfloat32 GEMM (numpy): {', '.join(f'{k}: {v:.1f}' for k, v in rf['gemm_gflops'].items())} GFLOP/s; "
                   f"e5-small: {rf['e5_gflops']:.1f} GFLOP/s = {rf['e5_fraction']:.0%} of {rf['peak_gflops']:.1f} "
                   f"({rf['e5_tokens_per_s']:.0f} tokens/s, {rf['e5_passages_per_s']:.1f} passages/s)")
    return "\n".join(out)


if __name__ == "__main__":
    main()

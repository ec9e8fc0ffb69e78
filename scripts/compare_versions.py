"""Two checkouts side by side on one lexical archive: build time, build output, search results.

    python scripts/compare_versions.py NEW_CHECKOUT OLD_CHECKOUT SOURCE WORKDIR [--articles 10000]
        [--runs 3] [--queries 200]

For a refactor that must change nothing: each checkout builds the same
articles (the first ``--articles`` files of ``SOURCE`` in sorted order, copied
once into ``WORKDIR/articles``) with ``--encoder none``, ``--runs`` times,
alternating new and old (the machine drifts: only neighbouring runs compare),
timed as wall seconds and as CPU seconds of the build and its indexing
processes (steadier than wall time on a shared machine).
Then it compares what the last builds wrote, file by file (``manifest.json``
without its timestamps and its Whoosh entries; Whoosh's segment names are
random, so its index is compared by content: every stored field, every
term with its document and total frequencies, and every posting's word
positions, by article id), and the top 10 ids and scores
of ``--queries`` lexical searches (titles' first words, some as phrases, some
with a date filter) run by each checkout on its own index. Then the same for
increments, on a copy of each index: ``archive add`` of the next 300 articles,
``archive delete`` of 50 (deleted ordinals marked dead), then of a quarter of
the articles (a compaction renumbers every store); the document store is
compared by its rows there (a delete stamps the time). Prints one JSON report;
exits 1 when anything differs.

Each checkout runs in its own interpreter with ``-S`` (no ``.pth`` files, so
no editable install decides which ``archive`` is imported) and
``PYTHONPATH=CHECKOUT:site-packages``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

TIMESTAMPS = ("built_at", "updated_at")

_SEARCH = r"""
import json, sys
from archive import Archive
archive = Archive.open(sys.argv[1])
out = []
for query, since in json.load(open(sys.argv[2], encoding="utf-8")):
    hits = archive.search(query, k=10, mode="lexical", since=since)
    out.append([[h.id, h.score] for h in hits] + [len(hits), hits.total])
json.dump(out, sys.stdout)
"""

_IDS = r"""
import json, sys
from archive import Archive
with Archive.open(sys.argv[1]) as archive:
    print(json.dumps([d.id for d in archive]))
"""

_WHOOSH = r"""
import hashlib, json, sys
from pathlib import Path
from archive.index.layout import current_generation
from archive.index.lexical import open_whoosh
ix = open_whoosh(current_generation(Path(sys.argv[1])) / "lexical")
reader = ix.reader()
stored = sorted(json.dumps(fields, sort_keys=True, default=str, ensure_ascii=False)
                for fields in reader.all_stored_fields())
ids = {n: fields["id"] for n, fields in reader.iter_docs()}
terms = hashlib.sha256()
count = positions = 0
for field, text in reader.all_terms():
    info = reader.term_info(field, text)
    terms.update(repr((field, text, info.doc_frequency(), info.weight())).encode())
    count += 1
    if field in ("title", "body"):  # every posting's positions, by article id (docnums vary with the workers)
        for docnum, where in reader.postings(field, text).items_as("positions"):
            if docnum not in ids:  # deleted
                continue
            item = repr((field, text, ids[docnum], tuple(where))).encode()
            positions = (positions + int.from_bytes(hashlib.blake2b(item, digest_size=8).digest(), "big")) % (1 << 64)
print(json.dumps({"docs": reader.doc_count(), "stored": hashlib.sha256("\n".join(stored).encode()).hexdigest(),
                  "terms": count, "term_stats": terms.hexdigest(), "positions": f"{positions:016x}"}))
"""


def run(checkout: Path, args: list[str], **kwargs: object) -> subprocess.CompletedProcess:
    """``python -S ARGS`` with ``checkout``'s ``archive`` first on the path (run from /tmp: not the cwd's)."""
    env = dict(os.environ, PYTHONPATH=f"{checkout}{os.pathsep}{sysconfig.get_paths()['purelib']}")
    return subprocess.run([sys.executable, "-S", *args], env=env, cwd="/tmp", check=True,
                          capture_output=True, text=True, **kwargs)


def prepare(source: Path, out: Path, count: int, skip: int = 0) -> None:
    """The article files ``skip`` to ``count`` of ``source`` (sorted), copied into ``out`` once."""
    if out.is_dir() and sum(1 for _ in out.rglob("*.txt")) == count - skip:
        return
    shutil.rmtree(out, ignore_errors=True)
    for path in sorted(source.rglob("*.txt"))[skip:count]:
        target = out / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def build(checkout: Path, articles: Path, index: Path) -> tuple[float, float]:
    """Seconds ``archive build`` of ``articles`` into a new ``index`` takes (lexical only): wall time, and
    CPU time (user + system) of the build and its Whoosh indexing processes."""
    shutil.rmtree(index, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    run(checkout, ["-m", "archive", "build", str(articles), "--index", str(index), "--encoder", "none"])
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def generation(index: Path) -> Path:
    return index / (index / "CURRENT").read_text().strip()


def increments(checkout: Path, index: Path, extra: Path, ids: list[str]) -> None:
    """``add`` of ``extra``, a small ``delete``, then a compacting one, on ``index``."""
    run(checkout, ["-m", "archive", "add", str(extra), "--index", str(index)])
    run(checkout, ["-m", "archive", "delete", *ids[:50], "--index", str(index)])
    run(checkout, ["-m", "archive", "delete", *ids[50:], "--index", str(index)])


def files_differing(new: Path, old: Path) -> list[str]:
    """Files of the two live generations whose contents differ (Whoosh's compared apart, timestamps ignored)."""
    a, b = generation(new), generation(old)
    names = {p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file()}
    names |= {p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file()}
    differing = []
    for name in sorted(names):
        if name.startswith("lexical/"):
            continue
        if name == "manifest.json":
            first, second = (_manifest(g / name) for g in (a, b))
        elif name == "docs.sqlite":
            first, second = (_rows(g / name) for g in (a, b))
        else:
            first, second = (_digest(g / name) for g in (a, b))
        if first != second:
            differing.append(name)
    return differing


def _manifest(path: Path) -> object:
    data = json.loads(path.read_text(encoding="utf-8"))
    for name in TIMESTAMPS:
        data.pop(name, None)
    data["files"] = {k: v for k, v in data.get("files", {}).items() if not k.startswith("lexical/")}
    if "docs.sqlite" in data["files"]:  # its bytes hold the deletes' times: compared by its rows instead
        data["files"]["docs.sqlite"] = {"size": data["files"]["docs.sqlite"]["size"]}
    return data


def _rows(path: Path) -> object:
    """The document store's articles and deleted ids (without when they were deleted)."""
    import sqlite3

    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT * FROM documents ORDER BY rowid").fetchall()
        tombstones = db.execute("SELECT id FROM tombstones ORDER BY id").fetchall()
    finally:
        db.close()
    return rows, tombstones


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def queries(articles: Path, count: int, seed: int = 7) -> list[tuple[str, str | None]]:
    """``count`` queries: a title's first two or three words, every fourth one a phrase, every fifth dated."""
    rng = random.Random(seed)
    titles = []
    for path in sorted(articles.rglob("*.txt")):
        text = path.read_text(encoding="utf-8", errors="replace")
        start = text.find("<TITLE>")
        if start >= 0:
            title = text[start + 7 : text.find("</TITLE>", start)].split()
            if len(title) >= 3:
                titles.append(title)
    out = []
    for n, title in enumerate(rng.sample(titles, min(count, len(titles)))):
        words = " ".join(title[: 2 + n % 2])
        query = f'"{words}"' if n % 4 == 3 else words
        out.append((query, "2017-01-01" if n % 5 == 4 else None))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("new", type=Path)
    parser.add_argument("old", type=Path)
    parser.add_argument("source", type=Path)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3, help="builds per checkout (0: compare the last ones)")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    articles = args.workdir / "articles"
    prepare(args.source, articles, args.articles)
    checkouts = {"new": args.new.resolve(), "old": args.old.resolve()}
    times: dict[str, list[float]] = {name: [] for name in checkouts}
    cpu: dict[str, list[float]] = {name: [] for name in checkouts}
    for _ in range(args.runs):
        for name, checkout in checkouts.items():
            wall, used = build(checkout, articles, args.workdir / f"index-{name}")
            times[name].append(wall)
            cpu[name].append(used)
    report: dict[str, object] = {"articles": args.articles}
    for key, seconds in (("build", times), ("build_cpu", cpu)) if args.runs else ():
        report[f"{key}_seconds"] = {name: [round(t, 2) for t in ts] for name, ts in seconds.items()}
        report[f"{key}_median"] = {name: round(statistics.median(ts), 2) for name, ts in seconds.items()}
        report[f"{key}_ratio_new_over_old"] = round(statistics.median(seconds["new"]) /
                                                    statistics.median(seconds["old"]), 3)
    new_index = args.workdir / "index-new"
    asked = queries(articles, args.queries)
    query_file = args.workdir / "queries.json"
    query_file.write_text(json.dumps(asked, ensure_ascii=False), encoding="utf-8")
    report["build"] = compared(checkouts, args.workdir, "index", query_file, asked)
    extra = args.workdir / "extra"
    prepare(args.source, extra, args.articles + 300, skip=args.articles)
    ids = sorted(json.loads(run(checkouts["old"], ["-c", _IDS, str(new_index)]).stdout))
    doomed = random.Random(3).sample(ids, len(ids) // 4)
    for name, checkout in checkouts.items():
        copy = args.workdir / f"changed-{name}"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(args.workdir / f"index-{name}", copy, symlinks=True)
        increments(checkout, copy, extra, doomed)
    report["increments"] = compared(checkouts, args.workdir, "changed", query_file, asked)
    failed = any(part["queries_differing"] or part["files_differing"] or not part["whoosh_same"]
                 for part in (report["build"], report["increments"]))
    print(json.dumps(report, ensure_ascii=False, indent=1))
    sys.exit(1 if failed else 0)


def compared(checkouts: dict[str, Path], workdir: Path, prefix: str, query_file: Path,
             asked: list[tuple[str, str | None]]) -> dict[str, object]:
    """Files, Whoosh content and search results of ``WORKDIR/PREFIX-new`` against ``PREFIX-old``."""
    indexes = {name: workdir / f"{prefix}-{name}" for name in checkouts}
    whoosh = {name: json.loads(run(c, ["-c", _WHOOSH, str(indexes[name])]).stdout) for name, c in checkouts.items()}
    results = {name: json.loads(run(c, ["-c", _SEARCH, str(indexes[name]), str(query_file)]).stdout)
               for name, c in checkouts.items()}
    return {
        "files_differing": files_differing(indexes["new"], indexes["old"]),
        "whoosh_same": whoosh["new"] == whoosh["old"],
        "whoosh": whoosh["new"],
        "queries": len(asked),
        "queries_with_hits": sum(1 for r in results["new"] if r[-2]),
        "queries_differing": [asked[i][0] for i, (a, b) in enumerate(zip(results["new"], results["old"])) if a != b],
    }


if __name__ == "__main__":
    main()

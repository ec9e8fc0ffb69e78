"""Two checkouts side by side on one lexical archive: build time, build output, search results.

    python scripts/compare_versions.py NEW_CHECKOUT OLD_CHECKOUT SOURCE WORKDIR [--articles 10000]
        [--runs 3] [--queries 200]

For a refactor that must change nothing: each checkout builds the same
articles (the first ``--articles`` files of ``SOURCE`` in sorted order, copied
once into ``WORKDIR/articles``) with ``--encoder none``, ``--runs`` times,
alternating new and old (the machine drifts: only neighbouring runs compare).
Then it compares what the last builds wrote, file by file (``manifest.json``
without its timestamps and its Whoosh entries; Whoosh's segment names are
random, so its index is compared by content: every stored field, and every
term with its document and total frequencies), and the top 10 ids and scores
of ``--queries`` lexical searches (titles' first words, some as phrases, some
with a date filter) run by each checkout on its own index. Prints one JSON
report; exits 1 when anything differs.

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

_WHOOSH = r"""
import hashlib, json, sys
from pathlib import Path
from archive.index.layout import current_generation
from archive.index.lexical import open_whoosh
ix = open_whoosh(current_generation(Path(sys.argv[1])) / "lexical")
reader = ix.reader()
stored = sorted(json.dumps(fields, sort_keys=True, default=str, ensure_ascii=False)
                for fields in reader.all_stored_fields())
terms = hashlib.sha256()
count = 0
for field, text in reader.all_terms():
    info = reader.term_info(field, text)
    terms.update(repr((field, text, info.doc_frequency(), info.weight())).encode())
    count += 1
print(json.dumps({"docs": reader.doc_count(), "stored": hashlib.sha256("\n".join(stored).encode()).hexdigest(),
                  "terms": count, "term_stats": terms.hexdigest()}))
"""


def run(checkout: Path, args: list[str], **kwargs: object) -> subprocess.CompletedProcess:
    """``python -S ARGS`` with ``checkout``'s ``archive`` first on the path (run from /tmp: not the cwd's)."""
    env = dict(os.environ, PYTHONPATH=f"{checkout}{os.pathsep}{sysconfig.get_paths()['purelib']}")
    return subprocess.run([sys.executable, "-S", *args], env=env, cwd="/tmp", check=True,
                          capture_output=True, text=True, **kwargs)


def prepare(source: Path, out: Path, count: int) -> None:
    """The first ``count`` article files of ``source`` (sorted), copied into ``out`` once."""
    if out.is_dir() and sum(1 for _ in out.rglob("*.txt")) == count:
        return
    shutil.rmtree(out, ignore_errors=True)
    for path in sorted(source.rglob("*.txt"))[:count]:
        target = out / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def build(checkout: Path, articles: Path, index: Path) -> float:
    """Seconds ``archive build`` of ``articles`` into a new ``index`` takes (lexical only)."""
    shutil.rmtree(index, ignore_errors=True)
    started = time.perf_counter()
    run(checkout, ["-m", "archive", "build", str(articles), "--index", str(index), "--encoder", "none"])
    return time.perf_counter() - started


def generation(index: Path) -> Path:
    return index / (index / "CURRENT").read_text().strip()


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
    return data


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
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    articles = args.workdir / "articles"
    prepare(args.source, articles, args.articles)
    checkouts = {"new": args.new.resolve(), "old": args.old.resolve()}
    times: dict[str, list[float]] = {name: [] for name in checkouts}
    for _ in range(args.runs):
        for name, checkout in checkouts.items():
            times[name].append(build(checkout, articles, args.workdir / f"index-{name}"))
    report: dict[str, object] = {
        "articles": args.articles,
        "build_seconds": {name: [round(t, 2) for t in ts] for name, ts in times.items()},
        "build_median": {name: round(statistics.median(ts), 2) for name, ts in times.items()},
    }
    report["build_ratio_new_over_old"] = round(statistics.median(times["new"]) / statistics.median(times["old"]), 3)
    new_index, old_index = args.workdir / "index-new", args.workdir / "index-old"
    report["files_differing"] = files_differing(new_index, old_index)
    whoosh = {name: json.loads(run(c, ["-c", _WHOOSH, str(args.workdir / f"index-{name}")]).stdout)
              for name, c in checkouts.items()}
    report["whoosh_same"] = whoosh["new"] == whoosh["old"]
    report["whoosh"] = whoosh["new"]
    asked = queries(articles, args.queries)
    query_file = args.workdir / "queries.json"
    query_file.write_text(json.dumps(asked, ensure_ascii=False), encoding="utf-8")
    results = {name: json.loads(run(c, ["-c", _SEARCH, str(args.workdir / f"index-{name}"), str(query_file)]).stdout)
               for name, c in checkouts.items()}
    differing = [asked[i][0] for i, (a, b) in enumerate(zip(results["new"], results["old"])) if a != b]
    report["queries"] = len(asked)
    report["queries_with_hits"] = sum(1 for r in results["new"] if r[-2])
    report["queries_differing"] = differing
    print(json.dumps(report, ensure_ascii=False, indent=1))
    sys.exit(1 if differing or report["files_differing"] or not report["whoosh_same"] else 0)


if __name__ == "__main__":
    main()

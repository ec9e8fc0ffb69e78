"""What a small change costs on a built archive: ``archive delete`` of 10 articles, ``archive add`` of 1,000.

    python scripts/bench_update.py SOURCE --side NAME=CHECKOUT:INDEX [--side ...] [--runs 3]

``SOURCE`` is what the indexes were built from (e.g. the unpacked ANT corpus,
``archive build SOURCE --encoder none``); each ``--side`` names a checkout of
this project and an index built by that checkout (an index format is read by
its own code only), so two versions can be compared side by side, e.g.
``--side old=/tmp/old:/tmp/idx/old --side new=.:/tmp/idx/new`` with the old
version exported by ``git archive COMMIT archive | tar -x -C /tmp/old``.

Every run starts from a copy of the built index (hard links: a change never
writes a file of a generation in place) and runs the command line as a new
process with ``PYTHONPATH=CHECKOUT``: the whole-process wall time is timed,
and the write's own seconds are read from its summary line (``... in X s``).
The sides alternate within each run, so the machine's drift hits them alike;
medians over ``--runs``. The 10 deleted articles are drawn with a fixed seed
among the source's articles whose text occurs once (so each is indexed, not
a folded copy); the 1,000 added ones are source articles under new ids with
a changed first line (so none folds into the article it came from).

``--lexical-only`` times the lexical side alone instead: Whoosh, the term
index and the filter columns (``archive.index.stores.apply_all``; ``update_index``
in code before it) of the same change into a scratch
directory, in a new process per run, the process's start and imports not
counted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archive import read_documents  # noqa: E402

SEED = 2026
SECONDS = re.compile(r" in (\d+(?:\.\d+)?) s ")


def _changes(source: Path, work: Path, deletes: int, adds: int) -> tuple[list[str], Path]:
    docs = list(read_documents([source], on_error=lambda *_: None))
    keys = Counter(d.body_key for d in docs)
    rng = random.Random(SEED)
    single = [d for d in docs if keys[d.body_key] == 1]
    gone = [d.id for d in rng.sample(single, deletes)]
    path = work / "add.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for n, doc in enumerate(rng.sample(docs, adds)):
            record = {"id": f"bench-{n}-{doc.id}", "title": doc.title, "body": f"تحديث {n}: {doc.body}",
                      "source": doc.source, "category": doc.category}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return gone, path


def _copy(index: Path, target: Path) -> None:
    shutil.copytree(index, target, copy_function=os.link, ignore=shutil.ignore_patterns("*.lock"))


LEXICAL = """
import json, sys, time
from pathlib import Path
from archive.document import Document
from archive.index.layout import current_generation
index, out, command = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
add, delete = [], []
if command[0] == "add":
    add = [Document(**json.loads(line)) for line in open(command[1], encoding="utf-8")]
else:
    delete = command[1:]
out.mkdir()
live = current_generation(index)
try:
    from archive.index.lexical import update_index  # the code before archive.index.stores
except ImportError:
    from archive.index.stores import Change, FilterColumns, Terms, Whoosh, apply_all, numbering

    def update_index(source, directory, add, delete):
        keep, dead, gone, compact = numbering(source.parent, delete, len(add))
        change = Change(source.parent, add, delete, keep, dead, gone, compact)
        apply_all(directory.parent, change, [Whoosh(), Terms(), FilterColumns()])
started = time.perf_counter()
update_index(live / "lexical", out / "lexical", add, delete)
print(f" in {time.perf_counter() - started:.3f} s ")
"""


def _lexical(checkout: Path, index: Path, args: list[str]) -> tuple[float, float]:
    """``(whole-process seconds, update_index seconds)`` of the lexical side of one change."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    out = index.parent / f"{index.name}-lexical"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", LEXICAL, str(index), str(out), *args], env=env, cwd=checkout,
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    shutil.rmtree(out, ignore_errors=True)
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: lexical {args[0]} failed:\n{done.stdout}\n{done.stderr}")
    return wall, float(SECONDS.search(done.stdout).group(1))


def _run(checkout: Path, index: Path, args: list[str]) -> tuple[float, float]:
    """``(whole-process seconds, the write's own seconds)`` of one command line run."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}  # and run there: "-c" puts the working directory first
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", "from archive.cli import app; app()", *args, "--index", str(index)],
                          env=env, cwd=checkout, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: {' '.join(args[:2])} failed:\n{done.stdout}\n{done.stderr}")
    found = SECONDS.search(done.stdout)
    return wall, float(found.group(1)) if found else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("--side", action="append", required=True, metavar="NAME=CHECKOUT:INDEX")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deletes", type=int, default=10)
    parser.add_argument("--adds", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--lexical-only", action="store_true", help="time update_index alone")
    args = parser.parse_args()
    sides = {}
    for spec in args.side:
        name, _, rest = spec.partition("=")
        checkout, _, index = rest.partition(":")
        sides[name] = (Path(checkout).resolve(), Path(index).resolve())
    work = Path(tempfile.mkdtemp(prefix="bench-update-", dir=args.work))
    try:
        gone, additions = _changes(args.source, work, args.deletes, args.adds)
        tasks = {f"delete {len(gone)}": ["delete", *gone], f"add {args.adds:,}": ["add", str(additions)]}
        print(f"deleting {', '.join(gone)}", file=sys.stderr)
        times: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for run in range(args.runs):
            print(f"run {run + 1}/{args.runs}, load {os.getloadavg()[0]:.1f}", file=sys.stderr)
            for task, command in tasks.items():
                for name, (checkout, index) in sides.items():
                    copy = work / f"{name}-{run}"
                    _copy(index, copy)
                    run_one = _lexical if args.lexical_only else _run
                    times.setdefault((task, name), []).append(run_one(checkout, copy, command))
                    shutil.rmtree(copy)
        result = {}
        for (task, name), found in times.items():
            walls, writes = [w for w, _ in found], [s for _, s in found]
            result[f"{task} / {name}"] = {"process s": statistics.median(walls), "write s": statistics.median(writes),
                                          "runs": found, "load": os.getloadavg()[0]}
            print(f"{task:>12} {name:>8}: process {statistics.median(walls):6.2f} s, "
                  f"write {statistics.median(writes):6.2f} s  (runs: "
                  + ", ".join(f"{w:.2f}/{s:.1f}" for w, s in found) + ")")
        if args.json:
            args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

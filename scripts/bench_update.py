"""What a small change costs on a built archive: ``archive delete`` of 10 articles, ``archive add`` of 1,000.

    python scripts/bench_update.py SOURCE --side NAME=CHECKOUT:INDEX [--side ...] [--runs 3]

``SOURCE`` is what the indexes were built from (e.g. the unpacked ANT corpus,
``archive build SOURCE --encoder none``); each ``--side`` names a checkout of
this project and an index built by that checkout (an index format is read by
its own code only), so two versions can be compared side by side, e.g.
``--side main=/work/main:/tmp/idx/main --side live=.:/tmp/idx/live``.

Every run starts from a copy of the built index (hard links: a change never
writes a file of a generation in place) and runs the command line as a new
process with ``PYTHONPATH=CHECKOUT``: the whole-process wall time is timed,
and the write's own seconds are read from its summary line (``... in X s``).
The sides alternate within each run, so the machine's drift hits them alike;
medians over ``--runs``. The 10 deleted articles are drawn with a fixed seed
among the source's articles whose text occurs once (so each is indexed, not
a folded copy); the 1,000 added ones are source articles under new ids with
a changed first line (so none folds into the article it came from).
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


def _run(checkout: Path, index: Path, args: list[str]) -> tuple[float, float]:
    """``(whole-process seconds, the write's own seconds)`` of one command line run."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", "from archive.cli import app; app()", *args, "--index", str(index)],
                          env=env, capture_output=True, text=True, check=False)
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
        times: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for run in range(args.runs):
            print(f"run {run + 1}/{args.runs}, load {os.getloadavg()[0]:.1f}", file=sys.stderr)
            for task, command in tasks.items():
                for name, (checkout, index) in sides.items():
                    copy = work / f"{name}-{run}"
                    _copy(index, copy)
                    times.setdefault((task, name), []).append(_run(checkout, copy, command))
                    shutil.rmtree(copy)
        result = {}
        for (task, name), found in times.items():
            walls, writes = [w for w, _ in found], [s for _, s in found]
            result[f"{task} / {name}"] = {"process s": statistics.median(walls), "write s": statistics.median(writes),
                                          "runs": found}
            print(f"{task:>12} {name:>8}: process {statistics.median(walls):6.2f} s, "
                  f"write {statistics.median(writes):6.2f} s  (runs: "
                  + ", ".join(f"{w:.2f}/{s:.1f}" for w, s in found) + ")")
        if args.json:
            args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

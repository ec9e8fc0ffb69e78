"""Cold start of ``archive search``: whole new processes, lexical against hybrid, side by side.

Each round runs every command once, in turn (A B A B ...), after one untimed run of each
that warms the file cache; prints each command's median and the load average. With
``--tree NAME=DIR`` a source checkout (a directory holding ``archive/``) runs too, so the
code before and after a change are timed in the same rounds::

    git worktree add /tmp/before <commit>   # or: git archive <commit> archive | tar -x -C /tmp/before
    NEWS_ARCHIVE_CACHE=/tmp/antbig/user-cache python scripts/bench_cold.py /tmp/antonly/index \\
        --runs 7 --tree before=/tmp/before

Figures and their conditions: docs/performance.md, "A cold start".
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

QUERY = "قوات كورية في كورسك"
_RUN_TREE = (
    "import sys; tree = sys.argv.pop(1); "
    "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]; "
    "sys.path.insert(0, tree); sys.argv[0] = 'archive'; "
    "from archive.cli import main; main()"
)


def commands(index: Path, query: str, trees: dict[str, Path]) -> dict[str, list[str]]:
    """name → argv: lexical and hybrid for this checkout's code and for each tree."""
    sides = {"this": [sys.executable, "-c", _RUN_TREE, str(Path(__file__).resolve().parents[1])]}
    sides.update({name: [sys.executable, "-c", _RUN_TREE, str(tree)] for name, tree in trees.items()})
    out = {}
    for side, argv in sides.items():
        for mode in ("lexical", "hybrid"):
            out[f"{side} {mode}"] = [*argv, "search", "-i", str(index), query, "--mode", mode]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--query", default=QUERY)
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=DIR",
                        help="another checkout to time in the same rounds")
    args = parser.parse_args()
    trees = dict(item.split("=", 1) for item in args.tree)
    runs = commands(args.index, args.query, {name: Path(d) for name, d in trees.items()})
    for argv in runs.values():  # warm the file cache
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.runs):
        for name, argv in runs.items():
            started = time.perf_counter()
            done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
            seconds[name].append(time.perf_counter() - started)
            if done.returncode:
                sys.exit(f"{name} failed: {done.stderr.decode(errors='replace')[-400:]}")
    for name, values in seconds.items():
        print(f"{name:24s} median {statistics.median(values):.3f} s  ({' '.join(f'{v:.2f}' for v in values)})")
    sides = {name.rsplit(" ", 1)[0] for name in runs}
    for side in sorted(sides):
        extra = statistics.median(seconds[f"{side} hybrid"]) - statistics.median(seconds[f"{side} lexical"])
        print(f"{side}: hybrid - lexical = {extra:+.3f} s")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

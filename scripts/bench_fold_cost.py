"""What near-copy folding costs a lexical build of ANT: the same build with and without it, side by side.

Builds ANT (``--ant``, unpacked: SOURCE/CATEGORY/*.txt) lexically (``encoder=None``, as
``archive build --encoder none``) into a fresh folder, ``--runs`` times each way, alternating so that
both see the same load: *with* folding is the build as it ships; *without*, the near-copies store is
written empty (:func:`archive.index.near_build.near_store` replaced by a store of no articles: no
shingle, signature, band or pair is computed, and no signature written; the folding process
(:func:`archive.index.near_build.start_near_store`) still starts, under ``fork``, and answers at once). Each build reads the articles from the files, as the
command does. Prints each run's wall and CPU time (this process's, every thread, and its worker processes'), the medians, their
ratio, and the load average before and after; ``--out`` writes them as JSON. ``--only with`` (or
``without``) builds one way only, for a driver alternating two versions of the code (a copy of this
script in each tree: it imports the ``archive`` beside it); ``--keep DIR`` copies each folded build's
near-copies store to ``DIR/run-N`` to compare the pairs of two versions.

    python scripts/bench_fold_cost.py --ant /tmp/ant --runs 3 --out /tmp/fold-cost.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archive import Archive  # noqa: E402
from archive.files.readers import read_documents  # noqa: E402
from archive.index.layout import current_generation  # noqa: E402
from archive.index.near import NEAR_DIR, NearStore  # noqa: E402
from archive.index import near_build as folding  # noqa: E402


def _no_folding(documents):  # noqa: ANN001, ANN202 - the signature of folding.near_store
    return NearStore.empty(folding.SETTINGS, folding.WIDTH)


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (a build's worker processes)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def build_once(ant: Path, fold: bool, scratch: Path, keep: Path | None = None) -> tuple[float, float]:
    """``(wall s, CPU s)`` of one lexical build of ``ant`` into a fresh folder under ``scratch``."""
    target = scratch / f"ant-{'fold' if fold else 'nofold'}"
    shutil.rmtree(target, ignore_errors=True)
    original = folding.near_store
    folding.near_store = original if fold else _no_folding
    try:
        started, cpu = time.perf_counter(), _cpu()
        docs = read_documents(ant, on_error=lambda e: None, on_warning=lambda m: None)
        Archive.build(docs, target, encoder=None, sources=[ant]).close()
        took = time.perf_counter() - started, _cpu() - cpu
        if keep is not None and fold:
            shutil.copytree(current_generation(target) / NEAR_DIR, keep)
        return took
    finally:
        folding.near_store = original
        shutil.rmtree(target, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ant", type=Path, default=Path("/tmp/ant"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--only", choices=("with", "without"), help="build one way only")
    parser.add_argument("--keep", type=Path, help="copy each folded build's near-copies store under this folder")
    args = parser.parse_args()
    load_before = os.getloadavg()
    runs: dict[str, list[tuple[float, float]]] = {"with": [], "without": []}
    for i in range(args.runs):
        ways = (("without", False), ("with", True)) if i % 2 else (("with", True), ("without", False))
        for name, fold in [(n, f) for n, f in ways if args.only in (None, n)]:
            keep = args.keep / f"run-{i + 1}" if args.keep is not None else None
            wall, cpu = build_once(args.ant, fold, args.scratch, keep)
            runs[name].append((wall, cpu))
            print(f"run {i + 1} {name:7s} folding: wall {wall:6.1f} s, cpu {cpu:6.1f} s, load {os.getloadavg()[0]:.1f}",
                  flush=True)
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in runs.items() if v}
    ratio_wall = ratio_cpu = None
    if len(med) == 2:
        ratio_wall = med["with"][0] / med["without"][0] - 1
        ratio_cpu = med["with"][1] / med["without"][1] - 1
        print(f"median wall: with {med['with'][0]:.1f} s, without {med['without'][0]:.1f} s: folding {ratio_wall:+.1%}")
        print(f"median cpu:  with {med['with'][1]:.1f} s, without {med['without'][1]:.1f} s: folding {ratio_cpu:+.1%}")
    print(f"load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f} (2 cores: {os.cpu_count()})")
    if args.out:
        args.out.write_text(json.dumps({
            "when": datetime.now(UTC).isoformat(timespec="seconds"), "runs": runs, "median": med,
            "folding_share_wall": ratio_wall, "folding_share_cpu": ratio_cpu, "settings": folding.SETTINGS,
            "load_before": load_before, "load_after": os.getloadavg(),
        }, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

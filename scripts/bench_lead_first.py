"""Time a whole build as a user lives it: when keyword search, lead passages and all passages are ready.

    python scripts/bench_lead_first.py --data ../shared/data --index /tmp/ant-e5 --json docs/lead-first.json
    python scripts/bench_lead_first.py --until leads ...      # stop (as Ctrl-C would) once the leads are in

Builds the whole ANT corpus (31,525 articles; ``--source DIR`` for another folder) with
``--encoder`` (default e5-small) into a fresh ``--index``, and records, from the start of the
build: when the words were committed (keyword search works), when every article's lead passage
had its vector committed, and when every passage had (or, with ``--until leads``, the rate and
the time left then). A thread reads the live manifest once a second, as a user running
``archive stats`` would; an interrupted run is resumed by running the script again with
``--resume`` (``Archive.embed``), which reports how many passages it embedded and how many
came from the cache.
"""

from __future__ import annotations

import _thread
import argparse
import json
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from archive import Archive, BuildReport, read_documents  # noqa: E402
from archive.index.layout import current_generation  # noqa: E402
from archive.index.manifest import Manifest  # noqa: E402


def watch(index: Path, started: float, marks: dict[str, float], until: str, stop: threading.Event) -> None:
    """Record when the live manifest first shows words, all leads, all passages; interrupt at ``until``."""
    while not stop.wait(1.0):
        try:
            manifest = Manifest.read(current_generation(index), check=False)
        except Exception:  # noqa: BLE001 - nothing committed yet
            continue
        now = time.perf_counter() - started
        marks.setdefault("words_s", now)
        marks["passages"], marks["pending"] = manifest.passages, manifest.pending
        if manifest.leads and manifest.leads_pending == 0:
            marks.setdefault("leads_s", now)
            marks.setdefault("passages_at_leads", manifest.passages)
        if manifest.encoder and manifest.pending == 0 and manifest.passages:
            marks.setdefault("all_s", now)
        if until == "leads" and "leads_s" in marks and manifest.pending:
            marks["interrupted_s"] = now
            _thread.interrupt_main()
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--source", type=Path, help="a folder of articles (default: ANT, unpacked under --cache)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "news-archive" / "eval")
    parser.add_argument("--index", type=Path, required=True, help="a fresh index directory (removed first)")
    parser.add_argument("--encoder", default="e5-small")
    parser.add_argument("--until", choices=["leads", "all"], default="all")
    parser.add_argument("--resume", action="store_true", help="run Archive.embed on --index instead of a build")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    # Started in the background by a shell, SIGINT is ignored, and Python then ignores
    # interrupt_main too: the watcher's stop at the leads needs the handler back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.source is None:
        args.source = args.cache / "ant-unpacked"
        if not args.source.is_dir():
            from evaluate import _ant_articles

            _ant_articles(args.data, args.cache)  # unpacks the tarball there
    report = BuildReport()
    marks: dict[str, float] = {}
    stop = threading.Event()
    if not args.resume:
        shutil.rmtree(args.index, ignore_errors=True)
    started = time.perf_counter()
    watcher = threading.Thread(target=watch, args=(args.index, started, marks, args.until, stop), daemon=True)
    watcher.start()
    interrupted = False
    try:
        if args.resume:
            Archive.embed(args.index, report=report).close()
        else:
            skipped: list[Exception] = []  # a few ANT files have no TEXT: skipped, as `archive build` does
            documents = read_documents([args.source], on_error=skipped.append)
            Archive.build(documents, args.index, encoder=args.encoder, report=report, sources=[args.source]).close()
    except KeyboardInterrupt:
        interrupted = True
    wall = time.perf_counter() - started
    stop.set()
    watcher.join()
    manifest = Manifest.read(current_generation(args.index), check=False)
    embedding_s = wall - marks.get("words_s", 0.0)
    rate = report.embedded / embedding_s if embedding_s > 0 and report.embedded else None
    result = {
        "source": str(args.source), "encoder": args.encoder, "resume": args.resume, "interrupted": interrupted,
        "documents": manifest.documents, "leads": manifest.leads, "passages": manifest.passages,
        "pending": manifest.pending, "embedded_now": report.embedded, "from_cache": report.reused,
        "checkpoints": report.checkpoints, "wall_s": round(wall, 1),
        **{k: round(v, 1) if isinstance(v, float) else v for k, v in marks.items()},
        "passages_per_s": round(rate, 2) if rate else None,
        "all_estimate_s": round(marks.get("words_s", 0) + (manifest.passages + manifest.pending) / rate, 1)
        if rate else None,
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""How long a story's timeline takes on a large archive, warm (the figures of docs/story.md).

Opens an existing archive read-only (default ``/tmp/antonly/index``: ANT with e5-small vectors for every
passage; ``--wait`` waits for the ``READY`` file beside it) and times :meth:`Archive.story` for

- articles: the best hit of each of :data:`TOPICS` (so the same stories are timed on any archive of ANT),
- queries: the topics themselves,

then the web's ``/story`` page and ``/api/story`` for the same cases, in this process through Starlette's
test client (the app's own cost: routing, the worker thread, the template; no network). Each case is
called once to warm it (vectors mapped, the query encoder loaded, the store's pages read), then ``--runs``
times; a case's figure is the median of its warm runs, and the summary is the median of those. The time
spent grouping (:func:`archive.search.story.timeline`) is measured inside the same calls, and the
library's CPU time (every thread of this process) apart from its wall time: on a loaded machine the
wall time also holds the waits for a core. Prints a table
and writes JSON (``--out``) with the load average before and after: on a shared machine the figures move
with the other work.

    python scripts/bench_story.py [--index DIR] [--wait] [--runs 7] [--limit 100] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archive import Archive
from archive.search import story as story_module

DEFAULT_INDEX = Path("/tmp/antonly/index")
TOPICS = [
    "القمة بين ترامب وكيم جونغ أون",
    "مقتل الصحفي جمال خاشقجي",
    "تسميم الجاسوس الروسي سكريبال",
    "انسحاب الولايات المتحدة من الاتفاق النووي مع إيران",
    "نقل السفارة الأمريكية إلى القدس",
    "الضربات الغربية على سوريا بعد هجوم دوما الكيماوي",
]


def _timed(call) -> float:  # noqa: ANN001 - any callable
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def _cpu(call) -> float:  # noqa: ANN001 - any callable
    """The CPU time of ``call`` in this process (every thread): what it costs, whatever else the machine runs."""
    started = time.process_time()
    call()
    return (time.process_time() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX)
    parser.add_argument("--wait", action="store_true", help="Wait (up to an hour) for READY beside the index.")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--limit", type=int, default=story_module.DEFAULT_LIMIT)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.wait:
        ready = args.index.parent / "READY"
        deadline = time.monotonic() + 3600
        while not ready.exists():
            if time.monotonic() > deadline:
                sys.exit(f"{ready} did not appear within an hour")
            time.sleep(20)
    load_before = os.getloadavg()
    grouping: list[float] = []
    original = story_module.timeline

    def measured_timeline(*a, **k):  # noqa: ANN002, ANN003, ANN202 - the same call, timed
        started = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            grouping.append((time.perf_counter() - started) * 1000)

    story_module.timeline = measured_timeline  # type: ignore[assignment]
    from fastapi.testclient import TestClient

    from archive.web.app import create_app

    rows = []
    with Archive.open(args.index) as archive, TestClient(create_app(archive)) as client:
        stats = archive.stats()
        cases: list[tuple[str, dict[str, str]]] = []
        for topic in TOPICS:
            best = archive.search(topic, k=1)
            if best:
                cases.append(("article", {"id": best[0].id}))
        cases += [("query", {"q": topic}) for topic in TOPICS]
        for kind, params in cases:
            arguments = {"doc_id": params.get("id"), "query": params.get("q"), "limit": args.limit}
            told = archive.story(**arguments)  # warm
            grouping.clear()
            library = [_timed(lambda: archive.story(**arguments)) for _ in range(args.runs)]
            grouped = list(grouping)
            cpu = [_cpu(lambda: archive.story(**arguments)) for _ in range(args.runs)]
            web = {"limit": str(args.limit), **params}
            for path in ("/story", "/api/story"):
                assert client.get(path, params=web).status_code == 200
            page = [_timed(lambda: client.get("/story", params=web)) for _ in range(args.runs)]
            api = [_timed(lambda: client.get("/api/story", params=web)) for _ in range(args.runs)]
            row = {"kind": kind, **params, "articles": told.considered, "events": len(told.events),
                   "library_ms": round(statistics.median(library), 1), "library_cpu_ms": round(statistics.median(cpu), 1),
                   "grouping_ms": round(statistics.median(grouped), 1),
                   "page_ms": round(statistics.median(page), 1), "api_ms": round(statistics.median(api), 1),
                   "library_max_ms": round(max(library), 1)}
            rows.append(row)
            print(f"{kind:7} {params.get('id') or params.get('q')!s:45.45} {row['articles']:4} art. "
                  f"{row['events']:3} events  library {row['library_ms']:6.1f} ms (cpu {row['library_cpu_ms']:5.1f}, "
                  f"grouping {row['grouping_ms']:5.1f})"
                  f"  /story {row['page_ms']:6.1f} ms  /api/story {row['api_ms']:6.1f} ms", flush=True)
    summary = {name: round(statistics.median(r[name] for r in rows), 1)
               for name in ("library_ms", "library_cpu_ms", "grouping_ms", "page_ms", "api_ms")}
    for kind in ("article", "query"):
        summary[f"{kind}_page_ms"] = round(statistics.median(r["page_ms"] for r in rows if r["kind"] == kind), 1)
    result = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "index": str(args.index),
              "documents": stats.documents, "passages": stats.passages, "pending": stats.pending,
              "encoder": stats.encoder, "runs": args.runs, "limit": args.limit, "cpus": os.cpu_count(),
              "load_before": load_before, "load_after": os.getloadavg(), "summary": summary, "cases": rows}
    print(json.dumps(summary))
    if args.out:
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

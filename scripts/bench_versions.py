"""Lexical latency through the library, for comparing two versions of the code side by side.

    python scripts/bench_versions.py INDEX ARTICLES.jsonl     # prints p50 ms per query kind as JSON

Run it from each checkout (``PYTHONPATH=CHECKOUT``), alternating, each on an index that
checkout built from the same articles: the machine drifts, so only ratios of neighbouring
runs mean anything. Queries: the first three words of the first 150 titles of
``ARTICLES.jsonl``; each kind (plain, ``since=2015-01-01``, ``sort="date"``, facets) three
passes over them, median of every timed call.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

from archive import Archive


def main() -> None:
    index, articles = sys.argv[1], sys.argv[2]
    archive = Archive.open(index)
    titles = []
    with open(articles, encoding="utf-8") as fh:
        for line in fh:
            title = json.loads(line).get("title") or ""
            if title:
                titles.append(" ".join(title.split()[:3]))
            if len(titles) >= 150:
                break
    kinds = {
        "plain": lambda q: archive.search(q, mode="lexical"),
        "since": lambda q: archive.search(q, mode="lexical", since="2015-01-01"),
        "sortdate": lambda q: archive.search(q, mode="lexical", sort="date"),
        "facets": lambda q: archive.facets(q),
    }
    result = {}
    for name, run in kinds.items():
        times = []
        for _ in range(3):
            for query in titles:
                started = time.perf_counter()
                run(query)
                times.append((time.perf_counter() - started) * 1000)
        result[name] = round(statistics.median(times), 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

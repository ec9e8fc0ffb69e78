"""A bounded load test of ``archive serve`` on loopback, beside the library's own latency.

Starts the real command (``python -m archive serve``) on a free 127.0.0.1
port over an existing archive (opened read-only: nothing is written to it),
then, for the same mixed queries (handwritten news queries and article
titles of the archive itself) in lexical and hybrid mode:

1. a warm-up pass of every query through the library and the server;
2. each query through the library (``Archive.search`` + ``Archive.facets`` in
   this process: what ``GET /api/search`` calls), then at once through the
   server with one client: the pairs see the same caches and the same machine
   load, and the median of their differences is the web layer's own cost;
3. the server under load: ``--clients`` threads with keep-alive connections
   for ``--seconds`` seconds (at most ``--max-requests`` each), modes mixed;
4. with ``--slow-query``: ``--slow-clients`` requests of that (slow) query at
   once, and meanwhile unrelated requests one after another (a search and
   ``/api/stats``): how long each unrelated one waited, and what the slow
   ones got (200, or 504 past the server's time limit). Last, because the
   server may still be finishing abandoned slow work after it.

Prints errors and p50/p95/p99 of each, and writes them as JSON (``--out``).
Every loop is bounded in count and time and stops by itself; all traffic goes
to 127.0.0.1. Latencies on a shared machine vary with its load: the JSON
records the load average before and after.

    python scripts/bench_web.py [--index DIR] [--clients 16] [--seconds 30] [--out FILE]
                                [--code CHECKOUT] [--slow-query Q --slow-clients 4]

``--code`` serves with another checkout's package (to compare two versions on one archive).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archive import Archive

DEFAULT_INDEX = Path.home() / ".cache" / "news-archive" / "bench" / "n62199-use-multilingual"
QUERIES = [
    "قوات كورية في كورسك", "أسعار النفط", "الانتخابات الرئاسية", "كأس العالم", "وزارة الصحة",
    "الهلال والنصر", "سوق الأسهم السعودية", "الأمم المتحدة سوريا", "\"مجلس الأمن\"", "التعليم العالي -جامعة",
    "رمضان", "الطاقة الشمسية", "ارتفاع درجات الحرارة", "أمطار غزيرة جدة", "البنك المركزي الفائدة",
    "oil prices", "football", "هجوم إرهابي", "معرض الكتاب", "حقوق الإنسان",
]
MODES = ("lexical", "hybrid")
ONE_BLAS_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""Both processes multiply on one BLAS thread: OpenBLAS's idle threads spin after each call, and on
two cores the library side's spinning threads took the server's CPU (hybrid looked 10 ms slower)."""
K = 10


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p95, p99 and mean in milliseconds (``values`` in seconds)."""
    if not values:
        return {}
    cuts = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else [values[0]] * 99
    return {"n": len(values), "p50_ms": round(cuts[49] * 1000, 2), "p95_ms": round(cuts[94] * 1000, 2),
            "p99_ms": round(cuts[98] * 1000, 2), "mean_ms": round(statistics.fmean(values) * 1000, 2)}


def workload(archive: Archive, titles: int, seed: int) -> list[str]:
    """The handwritten queries and the first words of ``titles`` article titles picked at random."""
    rng = random.Random(seed)
    docs = [doc for i, doc in enumerate(archive.documents()) if i % 97 == 0 and doc.title]
    picked = rng.sample(docs, min(titles, len(docs)))
    return QUERIES + [" ".join(doc.title.split()[:6]) for doc in picked]


def library_call(archive: Archive, query: str, mode: str) -> float:
    """Seconds of search + facets for one query (the library work of one /api/search)."""
    started = time.perf_counter()
    archive.search(query, k=K, mode=mode)  # type: ignore[arg-type]
    archive.facets(query)
    return time.perf_counter() - started


def path_of(query: str, mode: str) -> str:
    return "/api/search?" + urllib.parse.urlencode({"q": query, "mode": mode, "k": K})


class Client:
    """One keep-alive HTTP connection to the server."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, path: str) -> int:
        return self.fetch(path)[0]

    def fetch(self, path: str) -> tuple[int, float | None]:
        """The status and, for a search, the library time the server measured (``took_ms``)."""
        try:
            self.conn.request("GET", path)
            response = self.conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            return -1, None
        took = json.loads(body).get("took_ms") if response.status == 200 and path.startswith("/api/search") else None
        return response.status, took / 1000 if took is not None else None


def paired(archive: Archive, port: int, queries: list[str], mode: str) -> dict:
    """Each query through the library, then through the server (one client); their latencies."""
    client = Client(port)
    library, http, inside, errors = [], [], [], 0
    for query in queries:
        library.append(library_call(archive, query, mode))
        started = time.perf_counter()
        status, took = client.fetch(path_of(query, mode))
        http.append(time.perf_counter() - started)
        errors += status != 200
        if took is not None:
            inside.append(took)
    overhead = statistics.median(h - lib for h, lib in zip(http, library))
    return {"library": percentiles(library), "http": {**percentiles(http), "errors": errors},
            "library_in_server": percentiles(inside), "median_overhead_ms": round(overhead * 1000, 2)}


def load(port: int, queries: list[str], clients: int, seconds: float, max_requests: int, seed: int) -> dict:
    """``clients`` threads sending mixed lexical/hybrid searches until ``seconds`` pass."""
    results: dict[str, list[float]] = {mode: [] for mode in MODES}
    inside: dict[str, list[float]] = {mode: [] for mode in MODES}
    errors = {mode: 0 for mode in MODES}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def run(n: int) -> None:
        rng = random.Random(seed + n)
        client = Client(port)
        local: dict[str, list[float]] = {mode: [] for mode in MODES}
        took: dict[str, list[float]] = {mode: [] for mode in MODES}
        failed = {mode: 0 for mode in MODES}
        for _ in range(max_requests):
            if time.monotonic() >= deadline:
                break
            mode = MODES[rng.randrange(len(MODES))]
            started = time.perf_counter()
            status, seconds_inside = client.fetch(path_of(rng.choice(queries), mode))
            local[mode].append(time.perf_counter() - started)
            failed[mode] += status != 200
            if seconds_inside is not None:
                took[mode].append(seconds_inside)
        with lock:
            for mode in MODES:
                results[mode] += local[mode]
                inside[mode] += took[mode]
                errors[mode] += failed[mode]

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    total = sum(len(v) for v in results.values())
    return {"clients": clients, "seconds": round(elapsed, 1), "requests": total,
            "throughput_rps": round(total / elapsed, 1),
            "modes": {mode: {**percentiles(results[mode]), "errors": errors[mode],
                             "library_in_server": percentiles(inside[mode])} for mode in MODES}}


def slow_phase(port: int, slow_query: str, slow_clients: int, unrelated: list[str], wait: float = 1.5) -> dict:
    """``slow_clients`` requests of ``slow_query`` at once; after ``wait`` seconds, each of
    ``unrelated`` in turn (timed, 120 s at most each) while they run."""
    slow: list[tuple[int, float]] = []
    lock = threading.Lock()

    def one_slow() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        started = time.perf_counter()
        try:
            conn.request("GET", path_of(slow_query, "lexical"))
            status = conn.getresponse().status
        except (OSError, http.client.HTTPException):
            status = -1
        with lock:
            slow.append((status, round(time.perf_counter() - started, 2)))

    threads = [threading.Thread(target=one_slow, daemon=True) for _ in range(slow_clients)]
    for thread in threads:
        thread.start()
    time.sleep(wait)
    answered = []
    for path in unrelated:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        started = time.perf_counter()
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = -1
        answered.append({"path": path, "status": status, "seconds": round(time.perf_counter() - started, 3),
                         "slow_ones_done": len(slow)})
        conn.close()
    for thread in threads:
        thread.join(600)
    return {"slow_query": slow_query, "slow_clients": slow_clients, "slow": sorted(slow), "unrelated": answered}


def start_server(index: Path, code: Path = ROOT) -> tuple[subprocess.Popen, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(code), **ONE_BLAS_THREAD}
    proc = subprocess.Popen([sys.executable, "-m", "archive", "serve", "--index", str(index), "--port", str(port)],
                            env=env, cwd=code, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"archive serve exited ({proc.returncode}); run it by hand to see why")
        if Client(port).get("/api/stats") == 200:
            return proc, port
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit("archive serve did not answer within 180 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--max-requests", type=int, default=5_000, help="per client")
    parser.add_argument("--titles", type=int, default=40, help="article titles added to the queries")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose archive package serves")
    parser.add_argument("--slow-query", help="a query that is slow on this archive (phase 4)")
    parser.add_argument("--slow-clients", type=int, default=4)
    args = parser.parse_args()

    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # as ONE_BLAS_THREAD does for the server
    load_before = os.getloadavg()
    proc, port = start_server(args.index, args.code)
    try:
        with Archive.open(args.index) as archive:
            queries = workload(archive, args.titles, args.seed)
            info = {"documents": len(archive), "encoder": archive.manifest.encoder, "queries": len(queries)}
            client = Client(port)
            for mode in MODES:  # warm: encoder, vectors, the OS cache, both processes
                for query in queries:
                    library_call(archive, query, mode)
                    client.get(path_of(query, mode))
            serial = {mode: paired(archive, port, queries, mode) for mode in MODES}
        loaded = load(port, queries, args.clients, args.seconds, args.max_requests, args.seed)
        slowed = slow_phase(port, args.slow_query, args.slow_clients,
                            [path_of(q, "lexical") for q in QUERIES[:4]] + ["/api/stats"]) if args.slow_query else None
    finally:
        proc.terminate()
        proc.wait(30)
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "index": str(args.index), **info,
        "cores": os.cpu_count(), "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "code": str(args.code), "serial": serial, "http_load": loaded, "slow_phase": slowed,
    }
    print(f"{info['documents']} articles, {info['encoder']}, {len(queries)} queries; "
          f"load average before {report['load_average_before']}, after {report['load_average_after']}")
    print(f"{'':30}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for mode in MODES:
        rows = [("library search+facets", serial[mode]["library"], "-"),
                ("HTTP, 1 client", serial[mode]["http"], serial[mode]["http"]["errors"]),
                (f"HTTP, {args.clients} clients", loaded["modes"][mode], loaded["modes"][mode]["errors"])]
        rows += [("  library inside, 1 client", serial[mode]["library_in_server"], ""),
                 (f"  library inside, {args.clients} cl.", loaded["modes"][mode]["library_in_server"], "")]
        for name, row, errors in rows:
            print(f"{mode + ' ' + name:30}{row.get('p50_ms', 0):9.1f}{row.get('p95_ms', 0):9.1f}"
                  f"{row.get('p99_ms', 0):9.1f}{errors!s:>8}")
        print(f"{mode} web layer, median of paired differences: {serial[mode]['median_overhead_ms']} ms")
    print(f"under load: {loaded['requests']} requests in {loaded['seconds']} s ({loaded['throughput_rps']}/s)")
    if slowed:
        print(f"{args.slow_clients} x {args.slow_query!r}: " + ", ".join(f"{s} in {t} s" for s, t in slowed["slow"]))
        for row in slowed["unrelated"]:
            print(f"  meanwhile {row['path'][:60]}: {row['status']} in {row['seconds']} s "
                  f"({row['slow_ones_done']} slow ones done)")
    if args.out:
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

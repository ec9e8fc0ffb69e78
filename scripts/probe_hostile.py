"""probe.py's sections for hostile queries and input files, at full size (issue 21, items 8, 9, 12, 13, 15).

Each case runs the real command line in a subprocess and records its wall time and peak memory
(``ru_maxrss`` of the child, from ``wait4``) beside what it checks:

* ``hostile-query``: a range query and many phrases on a 30,000-article lexical archive
  (``--big-index DIR``, else built from SaudiNewsNet's zips under ``../shared/data`` into the
  work folder, which takes minutes; skipped, and said so, when neither exists), timed beside
  the same query without the range, and 90 distinct phrases;
* ``hostile-input``: a 1,000-line JSON Lines file with invalid UTF-8 on line 501 (and a
  ``.txt``), a zip with one 2.1 GB member, a zip inflating to 1 GB of one repeated JSON line,
  2,000 identical 1 MB members, 200,000 duplicate ids in a plain JSON Lines file, a CSV with a
  50 MB field, and an HTML page with 100,000 nested elements.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from probe import Run

if TYPE_CHECKING:
    from probe import Probe

ROOT = Path(__file__).resolve().parents[1]
SNN = ROOT.parent.parent / "shared" / "data" / "saudinewsnet"  # /work/shared/data from a worktree or checkout
RANGE_QUERY = "الهلال AND body:[ا TO ي]"
LINE = {"id": "dup", "title": "خبر مكرر عن سليم", "body": "قال سليم إن المعرض يفتح أبوابه غدا في جدة " * 4}


@dataclass
class Measured(Run):
    """A probe's run of a command, with its wall time and the child's peak memory."""

    seconds: float
    peak_mb: float

    def figures(self) -> str:
        return f"{self.seconds:.2f} s, peak {self.peak_mb:,.0f} MB"


def measured(*args: str | Path, timeout: float = 1800) -> Measured:
    """``python -m archive ARGS``, with its wall time and the peak resident memory of the process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    out_path, err_path = Path(os.environ["PROBE_WORK"]) / "out.txt", Path(os.environ["PROBE_WORK"]) / "err.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "archive", *map(str, args)], env=env, stdout=out, stderr=err)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    read = lambda p: p.read_bytes().decode("utf-8", "replace")  # noqa: E731
    return Measured(proc.returncode, read(out_path), read(err_path), seconds, usage.ru_maxrss / 1024)


def _lines(run: Measured) -> int:
    return len(run.text.splitlines())


def _size_mb(folder: Path) -> float:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder, followlinks=True)
               for f in files) / 2**20


def _count(index: Path) -> int | None:
    run = measured("stats", "--index", index)
    for line in run.out.splitlines():
        if line.startswith("documents:"):
            return int(line.split()[1])
    return None


# ------------------------------------------------------------------ queries
def big_index(probe: Probe, given: Path | None) -> Path | None:
    if given is not None:
        return given
    index = probe.work / "snn30k"
    if (index / "CURRENT").exists():
        return index
    zips = sorted(SNN.glob("*.zip"))
    if not zips:
        return None
    run = measured("build", *zips, "--index", index, "--encoder", "none", timeout=3600)
    return index if run.code == 0 else None


def hostile_queries(probe: Probe, given: Path | None = None) -> None:
    os.environ["PROBE_WORK"] = str(probe.work)
    index = big_index(probe, given)
    if index is None:
        probe.record("hostile query", "range query on 30k articles", True, f"skipped: no SaudiNewsNet zips at {SNN}")
        return
    n = _count(index)
    words = "المملكة العربية السعودية الرياض وزارة الداخلية الملك سلمان الأمير محمد".split()
    phrases = " ".join(f'"{a} {b}"' for a in words for b in words if a != b)  # 90 distinct phrases
    runs: dict[str, list[Measured]] = {"plain": [], "range": [], "phrases": []}
    for _ in range(3):  # alternated, medians compared: other work on the machine moves whole-process times
        runs["plain"].append(measured("search", "الهلال", "--mode", "lexical", "--index", index))
        runs["range"].append(measured("search", RANGE_QUERY, "--mode", "lexical", "--index", index))
        runs["phrases"].append(measured("search", phrases, "--mode", "lexical", "--index", index))
    median = {name: statistics.median(r.seconds for r in rs) for name, rs in runs.items()}
    peak = {name: max(r.peak_mb for r in rs) for name, rs in runs.items()}
    for name, expected, case in (("range", "error: range queries", f"range query on {n:,} articles"),
                                 ("phrases", "error: at most 4 quoted phrases", "90 phrases")):
        last = runs[name][-1]
        refused = last.code == 1 and last.err.strip().splitlines()[-1].startswith(expected)
        ok = refused and not last.traceback and median[name] <= median["plain"] + 1.0
        figures = (f"median {median[name]:.2f} s, peak {peak[name]:,.0f} MB (plain query: median "
                   f"{median['plain']:.2f} s, peak {peak['plain']:,.0f} MB; 3 runs each, alternated)")
        print(f"hostile query / {case}: {figures}; {last.err.strip()[:60]}", flush=True)
        probe.record("hostile query", case, ok, figures)


# ------------------------------------------------------------------- inputs
def _bad_utf8_jsonl(folder: Path) -> Path:
    path = folder / "feed.jsonl"
    lines = [json.dumps({"id": f"u{i}", "title": f"خبر {i}", "body": f"قال سليم في الخبر {i} إن المعرض يفتح غدا"},
                        ensure_ascii=False).encode() for i in range(1, 1001)]
    lines[500] = lines[500][:30] + b"\xff\xfe\xc3\x28" + lines[500][30:]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _bad_utf8_txt(folder: Path) -> Path:
    path = folder / "bad.txt"
    path.write_bytes("خبر عن سليم\nسطر أول\n".encode() + b"\xff\xfe\xc3\x28" + "\nسطر أخير".encode())
    return path


def _big_member(folder: Path) -> Path:
    path = folder / "bomb.zip"
    block = ("قال سليم إن المعرض يفتح أبوابه غدا في جدة. " * 1000).encode()  # ~75 KB
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("big.txt", "w", force_zip64=True) as out:
        out.write("خبر كبير\n".encode())
        for _ in range(int(2.1e9) // len(block)):
            out.write(block)
    return path


def _gigabyte_of_lines(folder: Path) -> Path:
    path = folder / "lines.zip"
    line = (json.dumps(LINE, ensure_ascii=False) + "\n").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("feed.jsonl", "w", force_zip64=True) as out:
        block = line * 1000
        for _ in range(int(1e9) // len(block)):
            out.write(block)
    return path


def _identical_members(folder: Path) -> Path:
    path = folder / "copies.zip"
    text = "خبر مكرر\n" + "قال سليم إن المعرض يفتح أبوابه غدا في جدة. " * 14_000  # ~1 MB
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(2000):
            zf.writestr(f"copy{i:04d}.txt", text)
    return path


def _duplicate_ids(folder: Path) -> Path:
    path = folder / "dups.jsonl"
    line = json.dumps(LINE, ensure_ascii=False) + "\n"
    path.write_text(line * 200_000, encoding="utf-8")
    return path


def _huge_field(folder: Path) -> Path:
    path = folder / "sheet.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("id,title,body\nsmall,خبر صغير,قال سليم إن المعرض يفتح غدا\nhuge,خبر ضخم,\"")
        chunk = "قال سليم إن المعرض يفتح أبوابه غدا في جدة. " * 10_000
        for _ in range(int(50e6) // len(chunk)):
            out.write(chunk)
        out.write("\"\n")
    return path


def _nested_page(folder: Path) -> Path:
    path = folder / "deep.html"
    para = "<p>افتتح معرض الكتاب الدولي في جدة بمشاركة أكثر من ألف دار نشر عربية وأجنبية هذا العام.</p>"
    path.write_text("<!DOCTYPE html><html><head><title>معرض الكتاب</title></head><body><article>" + para
                    + "<div>" * 100_000 + "<p>نص عميق عن سليم.</p>" + "</div>" * 100_000
                    + "<p>الفقرة الأخيرة من الخبر.</p></article></body></html>", encoding="utf-8")
    return path


def hostile_inputs(probe: Probe) -> None:
    os.environ["PROBE_WORK"] = str(probe.work)
    from probe import BASE_ARTICLES

    cases = [
        ("invalid UTF-8 on line 501 of 1,000", _bad_utf8_jsonl, 999, ":501: invalid UTF-8"),
        ("invalid UTF-8 inside a .txt", _bad_utf8_txt, 0, ":3: invalid UTF-8"),
        ("zip with one 2.1 GB member", _big_member, 0, "zip member"),
        ("zip inflating to 1 GB of JSON lines", _gigabyte_of_lines, 0, "not read"),
        ("2,000 identical 1 MB zip members", _identical_members, 0, "zip bomb"),
        ("200,000 duplicate ids", _duplicate_ids, 1, "more duplicate ids"),
        ("CSV field of 50 MB", _huge_field, 1, "1,000,000-character limit"),
        ("HTML nested 100,000 deep", _nested_page, 1, "deeper than 2,048 levels"),
    ]
    for name, make, added, said in cases:
        folder, index = probe.case_dir()
        started = time.perf_counter()
        source = make(folder)
        made = time.perf_counter() - started
        before = _size_mb(index)
        run = measured("add", source, "--index", index)
        after = _count(index)
        problems = []
        if run.traceback:
            problems.append("traceback")
        if after != BASE_ARTICLES + added:
            problems.append(f"expected {BASE_ARTICLES + added} articles, found {after}")
        if said not in run.text:
            problems.append(f"{said!r} not said")
        if _lines(run) > 100:
            problems.append(f"{_lines(run):,} lines of output")
        if run.peak_mb > 1024:
            problems.append(f"peak memory {run.peak_mb:,.0f} MB")
        if name.startswith("invalid UTF-8 on"):
            found = measured("search", "سليم", "--mode", "lexical", "--json", "-k", "1", "--index", index)
            last = found.out.strip().splitlines()[-1] if found.code == 0 and found.out.strip() else "{}"
            total = json.loads(last).get("summary", {}).get("total")
            if total != 999:
                problems.append(f"search سليم finds {total}, not 999")
        detail = (f"{run.figures()}, {_lines(run)} lines, store {before:,.1f} -> {_size_mb(index):,.1f} MB "
                  f"(input {source.stat().st_size / 2**20:,.1f} MB, made in {made:.0f} s)")
        print(f"hostile input / {name}: {detail}", flush=True)  # the table cuts details short
        probe.record("hostile input", name, not problems, "; ".join(problems) or detail)
        for path in folder.iterdir():  # the big inputs go at once: the probe's disk is shared
            if path.is_file():
                path.unlink()

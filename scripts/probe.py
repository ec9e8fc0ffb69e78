"""A hostile-use probe of the archive: bad inputs, index damage, kill -9, pickle gadgets, misuse.

Runs the real command line (``python -m archive``) in subprocesses against a
small real archive, the way a careless or a hostile user would, and checks
what a person who trusts the archive with years of work expects:

* no Python traceback, ever: a failure is one ``error: ...`` line with a fix;
* no article lost that the user did not ask to remove;
* no code run from a file planted in an index (a marker file stays absent);
* no stale lock or stray process after a killed writer (a new ``add`` works);
* library misuse raises a subclass of :class:`archive.ArchiveError`;
* the archive's choices stick (its encoder; a delete), and a write's counts add up;
* a full disk is named as one, with what was kept (on a small tmpfs: needs root).

Prints one row per case and a summary; exits 1 when any case fails.

    python scripts/probe.py [--only bad-input|damage|kill|pickle|misuse|results|choices|full-disk|hostile-query|hostile-input|web|web-writes]
                            [--keep DIR] [--big-index DIR] [--code DIR] [--writes-seconds 60]

``hostile-query`` and ``hostile-input`` (scripts/probe_hostile.py) run queries and input files of
unbounded cost at full size and print their time and peak memory.
The web sections (``scripts/probe_web.py``) serve with the package in ``--code``
(default: this checkout), so that another checkout can be compared.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

TOPICS = [
    ("الهلال يفوز على النصر", "حقق فريق الهلال فوزا ثمينا على النصر في ديربي الرياض"),
    ("ارتفاع أسعار النفط", "ارتفعت أسعار النفط بعد قرار أوبك خفض الإنتاج"),
    ("هجوم قرب خاركيف", "أعلن الجيش الأوكراني صد هجوم روسي قرب مدينة خاركيف"),
    ("صاروخ كوري شمالي", "أطلقت كوريا الشمالية صاروخا باليستيا باتجاه بحر اليابان"),
    ("موجة حر شديدة", "حذرت منظمة الصحة العالمية من موجة حر تضرب دولا عربية"),
]
BASE_ARTICLES = 20


@dataclass
class Row:
    category: str
    case: str
    ok: bool
    detail: str


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.text


def cli(*args: str | Path, cwd: Path | None = None, timeout: float = 300) -> Run:
    """``python -m archive ARGS`` with this checkout's package."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    proc = subprocess.run([sys.executable, "-m", "archive", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def articles(folder: Path, prefix: str, n: int, start: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        title, body = TOPICS[i % len(TOPICS)]
        words = " ".join(TOPICS[(i + j) % len(TOPICS)][1] for j in range(1, 8))
        text = f"{title} {i}\n{body} في التقرير {prefix} رقم {i}. {words}\n"
        (folder / f"{prefix}{i:04d}.txt").write_text(text, encoding="utf-8")
    return folder


def count(index: Path) -> int | None:
    """Articles in the archive at ``index`` (from ``archive stats``), None when it cannot be read."""
    run = cli("stats", "--index", index)
    for line in run.out.splitlines():
        if line.startswith("documents:"):
            return int(line.split()[1])
    return None


def one_line_error(run: Run) -> bool:
    lines = [line for line in run.err.splitlines() if line.strip()]
    return run.code in (1, 2) and bool(lines) and lines[-1].startswith("error: ") and not run.traceback


class Probe:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.rows: list[Row] = []
        self.src = articles(work / "src", "a", BASE_ARTICLES)
        self.base = work / "base"
        run = cli("build", self.src, "--index", self.base, "--encoder", "hashing", "--procs", "1")
        if run.code != 0:
            raise SystemExit(f"cannot build the probe's archive:\n{run.text}")
        self.n = 0

    def case_dir(self) -> tuple[Path, Path]:
        """A fresh copy of the base archive (and its own folder for inputs)."""
        self.n += 1
        folder = self.work / f"case{self.n:03d}"
        folder.mkdir()
        index = folder / "index"
        shutil.copytree(self.base, index, symlinks=True)
        return folder, index

    def record(self, category: str, case: str, ok: bool, detail: str = "") -> None:
        self.rows.append(Row(category, case, ok, detail.replace("\n", " ")[:110]))

    # ------------------------------------------------------------ bad inputs
    def bad_inputs(self) -> None:
        cases: list[tuple[str, Callable[[Path], Path], int | None]] = [
            ("empty folder", lambda d: _mkdir(d / "empty"), 0),
            ("FIFO", lambda d: _fifo(d / "pipe.txt"), 0),
            ("empty file", lambda d: _write(d / "e.txt", b""), 0),
            ("binary file", lambda d: _write(d / "p.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" * 50), 0),
            ("no such path", lambda d: d / "nowhere", 0),
            ("invalid JSON lines only", lambda d: _write(d / "x.jsonl", b"{not json\n[1,2\n"), 0),
            ("JSON NaN / Infinity ids", lambda d: _write(d / "n.jsonl", b'{"id": NaN, "body": "\xd9\x86\xd8\xb5"}\n'
                                                        b'{"id": Infinity, "body": "\xd9\x86\xd8\xb5"}\n'), 0),
            ("UTF-16 with BOM", lambda d: _write(d / "u16.txt", "خبر بترميز آخر\nنص خبر عن معرض الكتاب في جدة".encode("utf-16")), 1),
            ("symlinked subfolder", _symlinked_folder, 3),
            ("symlink loop", _symlink_loop, 1),
            ("zip member ../x", _zip_slip, None),
            ("NUL after 8 KB", _late_nul, 1),
            ("ESC in id and title", _escapes, 1),
        ]
        for name, make, added in cases:
            folder, index = self.case_dir()
            try:
                target = make(folder)
                run = cli("build", target, "--index", index, "--procs", "1", timeout=120)
            except subprocess.TimeoutExpired:
                self.record("bad input", name, False, "hung (timeout)")
                continue
            after = count(index)
            problems = []
            if run.traceback:
                problems.append("traceback")
            if after is None or after < BASE_ARTICLES:
                problems.append(f"articles lost: {after}")
            if added == 0 and run.code != 1:
                problems.append(f"exit {run.code} for a build that read nothing")
            if added and after != BASE_ARTICLES + added:
                problems.append(f"expected {BASE_ARTICLES + added} articles, found {after}")
            if name == "zip member ../x" and "../x.txt" not in run.text:
                problems.append("member not named")
            if name.startswith("JSON NaN") and "nan" in run.out.lower().split("skipped")[0]:
                problems.append("NaN id accepted")
            if name == "NUL after 8 KB":
                shown = cli("show", "late", "--index", index)
                if "\x00" in shown.out:
                    problems.append("NUL shown")
            if name == "ESC in id and title":
                shown = cli("search", "معرض", "--mode", "lexical", "--index", index)
                if "\x1b" in shown.out:
                    problems.append("ESC printed to the terminal")
            self.record("bad input", name, not problems, "; ".join(problems) or _first_line(run))

    # ---------------------------------------------------------------- damage
    def damage(self) -> None:
        commands: list[tuple[str, list[str]]] = [
            ("search lexical", ["search", "أسعار النفط", "--mode", "lexical"]),
            ("search hybrid", ["search", "أسعار النفط", "--mode", "hybrid"]),
            ("search semantic", ["search", "أسعار النفط", "--mode", "semantic"]),
            ("search phrase+filter", ["search", '"أسعار النفط"', "--since", "2000-01-01", "--mode", "lexical"]),
            ("show", ["show", "a0001"]),
            ("stats", ["stats"]),
            ("add", ["add", "NEW"]),
            ("delete", ["delete", "a0002"]),
        ]
        for name, damage in DAMAGES:
            for label, args in commands:
                folder, index = self.case_dir()
                new = articles(folder / "new", "n", 1)
                try:
                    damage(index)
                except _NotApplicable as exc:
                    self.record("damage", f"{name} / {label}", True, f"not applicable: {exc}")
                    break
                argv = [new if a == "NEW" else a for a in args]
                run = cli(*argv, "--index", index)
                problems = []
                if run.traceback:
                    problems.append("traceback")
                elif run.code != 0 and not one_line_error(run):
                    problems.append(f"exit {run.code} without a one-line error")
                elif run.code == 1 and "Fix" not in run.err and "fix" not in run.err:
                    problems.append("error names no fix")
                if label == "add" and name in PROPAGATING and run.code == 0:
                    problems.append("add carried the damage into a new generation")
                _restore_permissions(index)
                self.record("damage", f"{name} / {label}", not problems, "; ".join(problems) or _first_line(run))
            folder, index = self.case_dir()
            try:
                damage(index)
            except _NotApplicable:
                continue
            _restore_permissions(index)
            run = cli("build", self.src, "--full", "--index", index, "--encoder", "hashing", "--procs", "1")
            search = cli("search", "أسعار النفط", "--index", index)
            ok = run.code == 0 and not run.traceback and count(index) == BASE_ARTICLES and search.code == 0
            self.record("damage", f"{name} / build --full recovers", ok, _first_line(run if run.code else search))

    # ------------------------------------------------------------------ kill
    def kills(self) -> None:
        """kill -9 of a build at 20, 50 and 80 % of the time an uninterrupted one takes."""
        big = articles(self.work / "big", "b", 3000)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for procs in ("1", "2"):
            for encoder in ("none", "hashing"):
                def build_args(index: Path) -> list[str]:
                    return [sys.executable, "-m", "archive", "build", str(big), "--index", str(index),
                            "--procs", procs, "--encoder", encoder]

                def fresh_case() -> tuple[Path, Path]:
                    folder, index = self.case_dir()
                    if encoder == "none":
                        shutil.rmtree(index)
                        cli("build", self.src, "--index", index, "--encoder", "none", "--procs", "1")
                    return folder, index

                _, timing = fresh_case()
                started = time.perf_counter()
                subprocess.run(build_args(timing), env=env, capture_output=True, check=False)
                duration = time.perf_counter() - started
                for fraction in (0.2, 0.5, 0.8):
                    folder, index = fresh_case()
                    proc = subprocess.Popen(build_args(index), env=env, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL)
                    time.sleep(duration * fraction)
                    children = _descendants(proc.pid)
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    deadline = time.perf_counter() + 10
                    while time.perf_counter() < deadline and any(_alive(p) for p in children):
                        time.sleep(0.2)
                    left = [p for p in children if _alive(p)]
                    add = cli("add", articles(folder / "one", "k", 1), "--index", index, timeout=60)
                    after = count(index)
                    problems = []
                    if left:
                        problems.append(f"{len(left)} worker(s) outlived the parent")
                        for pid in left:
                            os.kill(pid, signal.SIGKILL)
                    if add.code != 0:
                        problems.append(f"add after the kill: {_first_line(add)}")
                    if after is None or after < BASE_ARTICLES:
                        problems.append(f"articles lost: {after}")
                    state = "before its commit" if after is not None and after <= BASE_ARTICLES + 1 else "after its commit"
                    case = (f"--procs {procs} --encoder {encoder}, killed at {fraction:.0%} of {duration:.1f} s "
                            f"({len(children)} workers)")
                    self.record("kill -9", case, not problems, "; ".join(problems) or f"{after} articles ({state})")

    # ---------------------------------------------------------------- pickle
    def pickles(self) -> None:
        for name, payload_of in GADGETS:
            for label, args in (("search", ["search", "أسعار النفط", "--mode", "lexical", "--since", "2000-01-01"]),
                                ("add", ["add", "NEW"])):
                folder, index = self.case_dir()
                marker = folder / "code-ran"
                (folder / "pwnmod.py").write_text(f"open({str(marker)!r}, 'w').close()\n", encoding="utf-8")
                new = _write(folder / "dated.jsonl", json.dumps(
                    {"id": "dated", "body": "خبر مؤرخ عن النفط", "date": "2024-01-02"}, ensure_ascii=False).encode())
                (toc,) = (_generation(index) / "lexical").glob("*.toc")
                _plant(toc, payload_of(marker))
                argv = [new if a == "NEW" else a for a in args]
                run = cli(*argv, "--index", index, cwd=folder)
                problems = []
                if marker.exists():
                    problems.append("CODE RAN")
                if run.traceback:
                    problems.append("traceback")
                self.record("pickle", f"{name} / {label}", not problems, "; ".join(problems) or _first_line(run))

    # ---------------------------------------------------------------- misuse
    def misuse(self) -> None:
        from archive import Archive, ArchiveError

        folder, index = self.case_dir()
        afile = folder / "afile"
        afile.write_text("x")
        closed = Archive.open(index)
        closed.close()
        calls: list[tuple[str, Callable[[], object]]] = [
            ("Archive.open(None)", lambda: Archive.open(None)),  # type: ignore[arg-type]
            ("search(source=123)", lambda: Archive.open(index).search("النفط", source=123)),  # type: ignore[arg-type]
            ("search after close()", lambda: closed.search("النفط")),
            ("get after close()", lambda: closed.get("a0001")),
            ('update(add=["str"])', lambda: Archive.update(index, add=["نص"])),  # type: ignore[list-item]
            ("build(None)", lambda: Archive.build(None, index)),  # type: ignore[arg-type]
            ('build([], "afile")', lambda: Archive.build([], afile)),
            ('update(delete="id")', lambda: Archive.update(index, delete="a0001")),
            ("search(k=0)", lambda: Archive.open(index).search("النفط", k=0)),
            ('search(mode="x")', lambda: Archive.open(index).search("النفط", mode="x")),  # type: ignore[arg-type]
            ("build of no article", lambda: Archive.build([], index, encoder=None)),
            ('search(since="yesterday")', lambda: Archive.open(index).search("x", since="yesterday")),
        ]
        for name, call in calls:
            try:
                call()
            except ArchiveError as exc:
                self.record("misuse", name, True, f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # noqa: BLE001 - what the probe looks for
                self.record("misuse", name, False, f"untyped {type(exc).__name__}: {exc}")
            else:
                self.record("misuse", name, False, "no error")
        after = count(index)
        self.record("misuse", "nothing lost", after == BASE_ARTICLES, f"{after} articles")

    def web(self, code: Path) -> None:
        from probe_web import web_cases

        _, index = self.case_dir()
        web_cases(self, index, code)

    def web_writes(self, code: Path, seconds: float) -> None:
        from probe_web import web_writes

        _, index = self.case_dir()
        web_writes(self, index, code, seconds=seconds)

    def results(self) -> None:
        """What searches say they found (scripts/probe_results.py)."""
        from probe_results import honest_results

        honest_results(self.work, cli, self.record)

    # --------------------------------------------------- choices and reports
    def choices(self) -> None:
        """A user's choices stick, deletes are remembered, and the counts add up (issue 21, items 1, 2, 4)."""
        folder, index = self.case_dir()
        run = cli("build", "--index", index)  # the remembered source, no encoder named: the archive's (hashing)
        self.record("choices", "bare build keeps the encoder", run.code == 0 and "e5" not in run.text
                    and _encoder(index) == "hashing/1", _first_line(run))
        run = cli("build", "--index", index, "--encoder", "e5-small")
        self.record("choices", "--encoder X on a Y archive refused", one_line_error(run)
                    and "--full --encoder e5-small" in run.err, _first_line(run))
        run = cli("build", "--index", index, "--encoder", "none", "--full", "--dry-run")
        self.record("choices", "dry run of a change says what it embeds", run.code == 0 and "would embed" in run.out,
                    run.out.splitlines()[1] if run.code == 0 else _first_line(run))
        run = cli("build", self.src, "--index", index, "--dry-run", "--full", "--encoder", "e5-small")
        self.record("choices", "dry run gives passages, encoder, time", run.code == 0 and
                    "passages with e5-small" in run.out and "passages/s" in run.out, _line_with(run, "would embed"))
        run = cli("delete", "a0003", "--index", index)
        run = cli("build", "--index", index)
        self.record("choices", "a deleted article stays deleted", run.code == 0 and count(index) == BASE_ARTICLES - 1
                    and "1 deleted earlier" in run.out and "archive restore a0003" in run.out, _first_line(run))
        run = cli("restore", "a0003", "--index", index)
        self.record("choices", "restore brings it back", run.code == 0 and count(index) == BASE_ARTICLES,
                    _first_line(run))
        run = cli("restore", "a0004", "--index", index)
        self.record("choices", "restore of an article not deleted", one_line_error(run), _first_line(run))
        twice = folder / "twice"
        articles(twice, "a", 3)
        (twice / "copy.txt").write_text((twice / "a0000.txt").read_text(encoding="utf-8"), encoding="utf-8")
        run = cli("add", twice, "--index", index)
        found = _counted(run.out)
        self.record("choices", "counts add up (read = added+updated+unchanged+skipped)",
                    run.code == 0 and found is not None and found[0] == sum(found[1:]) == 4, _line_with(run, "read"))

    def full_disk(self) -> None:
        """Every write on a full disk: one line that says so and what was kept; nothing lost (issue 21, item 11)."""
        try:
            mount = _small_disk(self.work / "small")
        except _NotApplicable as exc:
            self.record("full-disk", "small file system", True, f"not applicable: {exc}")
            return
        try:
            index = mount / "index"
            shutil.copytree(self.base, index, symlinks=True)
            new = articles(self.work / "disk-new", "d", 3)
            _fill(mount)
            for label, args in [("add", ["add", new]), ("build --full", ["build", "--full", "--procs", "1"]),
                                ("build", ["build", self.src, new, "--procs", "1"]), ("delete", ["delete", "a0001"]),
                                ("add again", ["add", new])]:
                run = cli(*args, "--index", index)
                ok = one_line_error(run) and "disk is full" in run.err and "damaged" not in run.err
                self.record("full-disk", label, ok, _first_line(run))
            check = cli("check", "--index", index)
            self.record("full-disk", "archive check: healthy, nothing lost",
                        check.code == 0 and count(index) == BASE_ARTICLES, _first_line(check))
        finally:
            subprocess.run(["umount", "-l", str(mount)], check=False)

    def report(self) -> int:
        width = max(len(r.case) for r in self.rows)
        failed = [r for r in self.rows if not r.ok]
        for row in self.rows:
            print(f"{row.category:<10} {row.case:<{width}}  {'ok' if row.ok else 'FAIL':<4}  {row.detail}")
        by_category: dict[str, list[Row]] = {}
        for row in self.rows:
            by_category.setdefault(row.category, []).append(row)
        print()
        for category, rows in by_category.items():
            print(f"{category:<10} {sum(r.ok for r in rows)}/{len(rows)} ok")
        print(f"{'all':<10} {len(self.rows) - len(failed)}/{len(self.rows)} ok")
        return 1 if failed else 0


# ------------------------------------------------------------------ helpers
class _NotApplicable(Exception):
    pass


def _encoder(index: Path) -> str | None:
    return json.loads((_generation(index) / "manifest.json").read_text(encoding="utf-8")).get("encoder")


def _line_with(run: Run, text: str) -> str:
    return next((line for line in run.out.splitlines() if text in line), _first_line(run))


def _counted(out: str) -> tuple[int, ...] | None:
    """``(read, added, updated, unchanged, skipped)`` from a write's summary line."""
    import re

    found = re.search(r"read (\d+) articles?: (\d+) added, (\d+) updated, (\d+) unchanged, (\d+) skipped", out)
    return tuple(map(int, found.groups())) if found else None


def _small_disk(mount: Path, size: str = "3m") -> Path:
    """A tmpfs of ``size`` mounted at ``mount`` (needs root)."""
    if os.geteuid() != 0:
        raise _NotApplicable("mounting a small tmpfs needs root")
    mount.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise _NotApplicable(done.stderr.strip() or "mount failed")
    return mount


def _fill(mount: Path, leave: int = 24_000) -> None:
    """Leave only ``leave`` bytes free on ``mount``."""
    stat = os.statvfs(mount)
    with open(mount / "ballast", "wb") as fh:
        fh.write(b"\0" * max(0, stat.f_bavail * stat.f_frsize - leave))


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _symlinked_folder(folder: Path) -> Path:
    real = articles(folder / "elsewhere", "s", 3)
    src = folder / "src"
    src.mkdir()
    (src / "linked").symlink_to(real, target_is_directory=True)
    return src


def _symlink_loop(folder: Path) -> Path:
    src = articles(folder / "src", "l", 1)
    (src / "loop").symlink_to(src, target_is_directory=True)
    return src


def _zip_slip(folder: Path) -> Path:
    path = folder / "slip.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("../x.txt", "خبر\nنص خبر داخل ملف مضغوط باسم خطر")
    return path


def _late_nul(folder: Path) -> Path:
    body = "جملة عن الاقتصاد العربي والنفط. " * 400
    return _write(folder / "late.txt", ("خبر طويل\n" + body + "\x00 بعد الصفر").encode("utf-8"))


def _escapes(folder: Path) -> Path:
    record = {"id": "esc\x1b[2J", "title": "\x1b[31mمعرض\x1b[0m الكتاب", "body": "افتتح معرض الكتاب \x1b]0;pwned\x07 في جدة"}
    return _write(folder / "esc.jsonl", json.dumps(record, ensure_ascii=False).encode("utf-8"))


def _generation(index: Path) -> Path:
    return index / (index / "CURRENT").read_text().strip()


def _one(index: Path, pattern: str) -> Path:
    found = sorted(_generation(index).rglob(pattern))
    if not found:
        raise _NotApplicable(f"no {pattern}")
    return found[0]


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _replace_dir(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "note.txt").write_text("a user's file")


def _read_only(index: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(index):
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o444)
        os.chmod(dirpath, 0o555)
    if os.geteuid() == 0:
        raise _NotApplicable("running as root: permissions do not bind")


def _restore_permissions(index: Path) -> None:
    for dirpath, _, filenames in os.walk(index):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            try:
                os.chmod(os.path.join(dirpath, name), 0o644)
            except OSError:
                pass


def _manifest_field(index: Path) -> None:
    path = _generation(index) / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["documents"] = "lots"
    path.write_text(json.dumps(data), encoding="utf-8")


DAMAGES: list[tuple[str, Callable[[Path], None]]] = [
    ("docs.sqlite deleted", lambda ix: (_generation(ix) / "docs.sqlite").unlink()),
    ("docs.sqlite truncated", lambda ix: _truncate(_generation(ix) / "docs.sqlite", 0.3)),
    ("docs.sqlite emptied", lambda ix: (_generation(ix) / "docs.sqlite").write_bytes(b"")),
    ("_stored.col deleted", lambda ix: _one(ix, "*_stored.col").unlink()),
    ("_stored.col truncated", lambda ix: _truncate(_one(ix, "*_stored.col"))),
    (".pst truncated", lambda ix: _truncate(_one(ix, "*.pst"))),
    (".pst emptied", lambda ix: _one(ix, "*.pst").write_bytes(b"")),
    ("CURRENT random bytes", lambda ix: (ix / "CURRENT").write_bytes(os.urandom(40))),
    ("CURRENT a directory", lambda ix: _replace_dir(ix / "CURRENT")),
    ("read-only index", _read_only),
    ("passages.npz truncated", lambda ix: _truncate(_one(ix, "passages.npz"))),
    ("manifest documents='lots'", _manifest_field),
]
PROPAGATING = {"_stored.col truncated", ".pst truncated", ".pst emptied"}


def _plant(toc: Path, payload: bytes) -> None:
    """Swap the pickled schema inside a Whoosh TOC file for ``payload`` (what an attacker would do)."""
    from whoosh.filedb.structfile import StructFile

    data = toc.read_bytes()
    stream = StructFile(io.BytesIO(data))
    for _ in range(3):
        stream.read_varint()
    stream.read_int()
    stream.read_int()
    for _ in range(3):
        stream.read_varint()
    before = stream.tell()
    stream.read_string()
    after = stream.tell()
    out = io.BytesIO()
    writer = StructFile(out)
    writer.write(data[:before])
    writer.write_string(payload)
    writer.write(data[after:])
    writer.flush()
    toc.write_bytes(out.getvalue())
    _reseal(toc.parent.parent)


def _reseal(generation: Path) -> None:
    """Record the tampered files' sizes and checksums in the manifest, as an attacker who can
    edit an index file can: the loaders themselves must refuse what the file asks for."""
    from archive.index.integrity import file_table

    manifest = generation / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["files"] = file_table(generation)
    manifest.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


class _Reduce:
    def __init__(self, func: object, args: tuple) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[object, tuple]:
        return self.func, self.args


def _column_gadget(marker: Path) -> bytes:
    from whoosh.columns import CompressedBytesColumn

    from archive.index.schema import make_schema

    schema = make_schema()  # the archive's own schema, one column made to import a planted module
    schema["published"].column_type = CompressedBytesColumn(module="pwnmod")
    return pickle.dumps(schema, 2)


GADGETS: list[tuple[str, Callable[[Path], bytes]]] = [
    ("os.system", lambda m: pickle.dumps(_Reduce(os.system, (f"touch {m}",)), 2)),
    ("builtins.exec", lambda m: pickle.dumps(_Reduce(exec, (f"open({str(m)!r}, 'w').close()",)), 2)),
    ("subprocess.call", lambda m: pickle.dumps(_Reduce(subprocess.call, (["touch", str(m)],)), 2)),
    ("CompressedBytesColumn(module=...)", _column_gadget),
]


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        children = [p for p, parent in parents.items() if parent == current]
        found += children
        frontier += children
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _first_line(run: Run) -> str:
    lines = [line for line in (run.err + run.out).splitlines() if line.strip()]
    return lines[-1] if run.code else (lines[0] if lines else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", choices=["bad-input", "damage", "kill", "pickle", "misuse",
                                                            "results", "choices", "full-disk", "hostile-query",
                                                            "hostile-input", "web", "web-writes"])
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose archive serves (web sections)")
    parser.add_argument("--writes-seconds", type=float, default=60.0, help="length of the web-writes loop")
    parser.add_argument("--keep", type=Path, help="work in DIR and keep it (default: a temp dir, removed)")
    parser.add_argument("--big-index", type=Path, help="a 30,000-article lexical archive for hostile-query "
                        "(default: built from SaudiNewsNet's zips)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("NEWS_ARCHIVE_CACHE", str(work / "user-cache"))
        probe = Probe(work)
        from probe_hostile import hostile_inputs, hostile_queries

        steps = {"bad-input": probe.bad_inputs, "damage": probe.damage, "kill": probe.kills,
                 "pickle": probe.pickles, "misuse": probe.misuse, "results": probe.results,
                 "choices": probe.choices,
                 "full-disk": probe.full_disk,
                 "hostile-query": lambda: hostile_queries(probe, args.big_index),
                 "hostile-input": lambda: hostile_inputs(probe),
                 "web": lambda: probe.web(args.code),
                 "web-writes": lambda: probe.web_writes(args.code, args.writes_seconds)}
        for name, step in steps.items():
            if not args.only or name in args.only:
                step()
        return probe.report()


if __name__ == "__main__":
    raise SystemExit(main())

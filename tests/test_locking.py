"""A killed writer never leaves the archive locked (issue 11, section 2).

The writer lock must not be held by indexing workers, workers must die with
their parent, a dead writer's lock is taken over with a warning, and a worker
that dies is never a silent loss of articles.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive import Archive, Document, IndexLockedError
from archive.encoders.hashing import HashingEncoder
from archive.index.layout import LOCK, writer_lock
from archive.index.stores import FilterColumns, Full, Terms, Whoosh, write_all
from archive.index.workers import IndexingWorkerError

from .conftest import NEWS

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
QUERIES = ["النفط أوبك", "كوريا الشمالية صاروخ", "روسيا أوكرانيا خاركيف", "موجة حر"]
GONE_WITHIN = 10.0  # seconds a killed build's processes get to disappear
BIG = 2000  # articles of the builds that are killed: a few seconds of indexing


# ------------------------------------------------------------------ helpers
def _clauses() -> list[str]:
    return [c.strip() for d in NEWS for c in d.body.replace("،", ",").replace(".", ",").split(",") if c.strip()]


def _articles(n: int) -> Iterator[Document]:
    """``n`` distinct Arabic articles made by recombining the clauses of the conftest news."""
    clauses = _clauses()
    for i in range(n):
        body = "، ".join(clauses[(i * 7 + j * 3) % len(clauses)] for j in range(10))
        yield Document(id=f"gen-{i}", title=NEWS[i % len(NEWS)].title, body=f"{body}. العدد {i}")


def _corpus(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for doc in _articles(n):
            fh.write(json.dumps({"id": doc.id, "title": doc.title, "body": doc.body}, ensure_ascii=False) + "\n")
    return path


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state first), or None when gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _children(pid: int) -> dict[int, str]:
    """{child pid: its start time} of every live process whose parent is ``pid``."""
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat(int(name))
            if fields and int(fields[1]) == pid:
                found[int(name)] = fields[19]
    return found


def _alive(pid: int, started: str) -> bool:
    """Whether the process ``pid`` that started at ``started`` still exists (not a zombie, not a reused pid)."""
    fields = _stat(pid)
    return fields is not None and fields[19] == started and fields[0] != "Z"


def _has_lock_open(pid: int, lock: Path) -> bool:
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(lock) for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


def _results(index: Path) -> dict[str, list[tuple[str, float]]]:
    with Archive.open(index) as archive:
        return {q: [(h.id, round(h.score, 6)) for h in archive.search(q, mode="lexical")] for q in QUERIES}


def _assert_all_gone(processes: dict[int, str]) -> None:
    deadline = time.monotonic() + GONE_WITHIN
    while time.monotonic() < deadline and any(_alive(p, s) for p, s in processes.items()):
        time.sleep(0.05)
    left = [p for p, s in processes.items() if _alive(p, s)]
    for pid in left:  # do not leave them behind for the rest of the suite
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes of the killed build still running: {left}"


pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


# ------------------------------------------------------------- the lock itself
def _hold_lock_in_child(index: Path, fork_worker: bool) -> subprocess.Popen:
    """A process that takes the writer lock (and, like an indexing writer, forks a long-lived child)."""
    code = textwrap.dedent(f"""
        import os, sys, time
        from pathlib import Path
        from archive.index.layout import writer_lock
        with writer_lock(Path({str(index)!r})):
            if {fork_worker!r} and os.fork() == 0:
                time.sleep(120)  # a worker that does not die with its parent
                os._exit(0)
            print("locked", flush=True)
            time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], env=ENV, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_a_live_holder_is_named_in_the_error(tmp_path: Path) -> None:
    index = tmp_path / "index"
    holder = _hold_lock_in_child(index, fork_worker=False)
    try:
        with pytest.raises(IndexLockedError, match=rf"being written by another process \(pid {holder.pid}, "):
            with writer_lock(index):
                pass
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holders_lock_is_taken_over_even_if_its_child_lives_on(tmp_path: Path) -> None:
    index = tmp_path / "index"
    holder = _hold_lock_in_child(index, fork_worker=True)
    orphans = _children(holder.pid)
    assert len(orphans) == 1
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    try:
        assert all(_alive(p, s) for p, s in orphans.items())  # the child outlived the lock holder
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            with writer_lock(index):
                assert json.loads((index / LOCK).read_text())["pid"] == os.getpid()
        assert [str(w.message) for w in warned if f"pid {holder.pid}" in str(w.message) and "taken over" in str(w.message)]
        assert (index / LOCK).read_text() == ""  # a clean release leaves no record
        told: list[str] = []
        with writer_lock(index, on_warning=told.append):
            pass
        assert told == []  # nothing to take over after a clean release
    finally:
        for pid in orphans:
            os.kill(pid, signal.SIGKILL)


def test_a_lock_file_that_is_another_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    index = tmp_path / "index"
    index.mkdir()
    precious = tmp_path / "notes.txt"
    precious.write_text("ملاحظات لا تُحذف\n", encoding="utf-8")
    (index / LOCK).symlink_to(precious)
    with pytest.raises(IndexLockedError, match="symbolic link"):
        with writer_lock(index):
            pass
    (index / LOCK).unlink()
    os.link(precious, index / LOCK)
    with pytest.raises(IndexLockedError, match="not a plain lock file"):
        with writer_lock(index):
            pass
    assert precious.read_text(encoding="utf-8") == "ملاحظات لا تُحذف\n"


# ---------------------------------------------------------------- the workers
@pytest.fixture
def no_stray_workers() -> Iterator[None]:
    yield
    stray = multiprocessing.active_children()
    for proc in stray:
        proc.kill()
        proc.join()
    assert not stray, f"indexing workers left running: {stray}"


@pytest.mark.slow
def test_a_failed_write_stops_its_workers(tmp_path: Path, no_stray_workers: None) -> None:
    def failing() -> Iterator[Document]:
        for n, doc in enumerate(_articles(2000)):
            if n == 1200:
                raise RuntimeError("source went away")
            yield doc

    with pytest.raises(RuntimeError, match="source went away"):
        write_all(tmp_path, Full([], {}, {}), failing(), [Whoosh(procs=2), Terms(), FilterColumns()])
    assert not [p for p in multiprocessing.active_children() if p.is_alive()]


@pytest.mark.slow
def test_a_dead_worker_fails_the_build_and_keeps_the_previous_index(tmp_path: Path, no_stray_workers: None) -> None:
    index = tmp_path / "index"
    Archive.build(NEWS, index, encoder=None, procs=1).close()
    before = _results(index)

    killed = []

    def kill_a_worker(stage: str, done: int, total: int | None) -> None:
        if stage == "index" and done >= 1000 and not killed:  # mid-indexing, as the OOM killer might
            # an indexing worker, not the process folding the near copies (its death fails the build too)
            workers = [p for p in multiprocessing.active_children() if p.name != "archive-folding"]
            assert workers
            os.kill(workers[0].pid, signal.SIGKILL)
            killed.append(workers[0].pid)

    with pytest.raises(IndexingWorkerError, match="died before handing back its documents"):
        Archive.build(_articles(3000), index, encoder=None, procs=2, full=True, progress=kill_a_worker)
    assert killed
    assert _results(index) == before
    assert len(Archive.open(index)) == len(NEWS)


# ------------------------------------------------------ kill -9 of a real build
@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _corpus(tmp_path_factory.mktemp("corpus") / "big.jsonl", BIG)


def _start_build(corpus: Path, index: Path, procs: int, encoder: str) -> subprocess.Popen:
    args = [sys.executable, "-m", "archive", "build", str(corpus), "--index", str(index),
            "--procs", str(procs), "--encoder", encoder]
    return subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _run_until(proc: subprocess.Popen, point: str, index: Path, procs: int) -> dict[int, str]:
    """Let the build run to ``point``; returns every child process it had started meanwhile.

    early: it has opened the lock file; mid: it is writing the new
    generation's lexical index, with all its indexing workers running; late:
    its workers have finished (the commit, or with an encoder the dense side,
    is under way).
    """
    seen: dict[int, str] = {}
    while proc.poll() is None:
        children = _children(proc.pid)
        seen.update(children)
        if point == "early" and _has_lock_open(proc.pid, index / LOCK):
            break
        writing = len(list(index.glob("gen-*/lexical"))) > 1
        if point == "mid" and writing and len(children) >= (procs if procs > 1 else 0):
            break
        if point == "late" and len(seen) >= procs > 1 and not children:
            break
        time.sleep(0.01)
    return seen


@pytest.mark.slow
@pytest.mark.parametrize(
    ("procs", "encoder", "point"),
    [
        (2, "none", "early"),
        (2, "none", "mid"),
        (2, "none", "late"),
        (2, "hashing", "mid"),
        (2, "hashing", "late"),
        (1, "none", "mid"),
        (1, "hashing", "mid"),
    ],
)
def test_kill_9_of_a_build_leaves_no_process_and_no_lock(
    tmp_path: Path, big_corpus: Path, procs: int, encoder: str, point: str
) -> None:
    index = tmp_path / "index"
    Archive.build(NEWS, index, encoder=HashingEncoder() if encoder == "hashing" else None, procs=1).close()
    before = _results(index)
    proc = _start_build(big_corpus, index, procs, encoder)
    try:
        children = _run_until(proc, point, index, procs)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    _assert_all_gone(children)
    with Archive.open(index) as archive:
        if len(archive) != len(NEWS):  # killed after its commit: then the whole build is there
            assert len(archive) == BIG, len(archive)
        else:
            assert _results(index) == before

    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps({"id": "extra-1", "title": "افتتاح معرض الكتاب في الرياض",
                                 "body": "افتتح معرض الكتاب الدولي أبوابه أمام الزوار في الرياض بمشاركة مئات الناشرين."},
                                ensure_ascii=False) + "\n", encoding="utf-8")
    added = subprocess.run([sys.executable, "-m", "archive", "add", str(extra), "--index", str(index), "--procs", "1"],
                           env=ENV, capture_output=True, text=True, timeout=120)
    assert added.returncode == 0, added.stderr
    if point != "early" and proc.returncode == -signal.SIGKILL:  # it held the lock when killed: the add says so
        assert f"previous writer (pid {proc.pid}," in added.stdout and "taken over" in added.stdout, added.stdout
    with Archive.open(index) as archive:
        assert archive.search("معرض الكتاب")[0].id == "extra-1"


@pytest.mark.slow
def test_workers_started_by_a_fork_server_index_everything(tmp_path: Path) -> None:
    """Under ``forkserver`` (Python 3.14's default) a worker's OS parent is not the writer: it must not take that for death."""
    code = textwrap.dedent(f"""
        import multiprocessing
        from pathlib import Path
        if __name__ == "__main__":
            multiprocessing.set_start_method("forkserver")
            from archive.index.stores import FilterColumns, Full, Terms, Whoosh, write_all
            from tests.test_locking import _articles
            every = [Whoosh(procs=2), Terms(), FilterColumns()]
            print(write_all(Path({str(tmp_path)!r}), Full([], {{}}, {{}}), _articles(1200), every)["terms"].articles)
    """)
    script = tmp_path / "forkserver_build.py"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "1200"

"""Arrays read by many threads at once (:mod:`archive.npy`): every load returns its array, none fails.

CPython 3.11 can fail two threads parsing ``.npy`` headers at once with ``SystemError: AST constructor
recursion depth mismatch``. The failure needs a thread switch inside the parse: the workload below makes
them likely (a tiny switch interval, frequent collections of garbage whose ``__del__`` runs Python code).
"""

from __future__ import annotations

import gc
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from archive import npy

ROOT = Path(__file__).resolve().parents[1]
THREADS, LOADS = 8, 200


class _Cycle:
    """Garbage only the cycle collector frees, running Python code (``__del__``) when it does."""

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        pass


def _arrays(directory: Path) -> list[tuple[Path, np.ndarray]]:
    """Eight small ``.npy`` files, each of another shape, and what each holds."""
    made = []
    for i in range(8):
        values = np.arange(2 * (i + 3), dtype=np.int64).reshape(i + 3, 2) * (i + 1)
        path = directory / f"a{i}.npy"
        np.save(path, values, allow_pickle=False)
        made.append((path, values))
    return made


def _hammer(load: Callable[[Path], np.ndarray], files: list[tuple[Path, np.ndarray]]) -> list[str]:
    """Every failure of ``THREADS`` threads each loading ``LOADS`` arrays through ``load`` (a wrong array
    counts as one), under a workload that makes a thread switch inside a header parse likely."""
    failures: list[str] = []
    start = threading.Barrier(THREADS)

    def work(k: int) -> None:
        start.wait()
        for j in range(LOADS):
            _Cycle()
            path, values = files[(k + j) % len(files)]
            try:
                if not np.array_equal(load(path), values):
                    failures.append(f"{path.name}: another array")
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                failures.append(repr(exc))

    interval, thresholds = sys.getswitchinterval(), gc.get_threshold()
    sys.setswitchinterval(1e-6)
    gc.set_threshold(20, *thresholds[1:])  # a collection inside most header parses
    try:
        threads = [threading.Thread(target=work, args=(k,)) for k in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
        gc.set_threshold(*thresholds)
    return failures


def _loads(way: str) -> Callable[[Path], np.ndarray]:
    """``bare``: :func:`numpy.load` itself; ``helper``: :func:`archive.npy.load`, read or mapped."""
    if way == "bare":
        return lambda path: np.load(path, allow_pickle=False)
    return lambda path: npy.load(path, mmap=path.name < "a4")


def _main(way: str, directory: str) -> None:
    """The workload in a process of its own: prints each failure on a line."""
    for failure in _hammer(_loads(way), _arrays(Path(directory))):
        print(failure)


def test_threads_loading_arrays_at_once_each_get_theirs(tmp_path: Path) -> None:
    assert _hammer(_loads("helper"), _arrays(tmp_path)) == []


def test_threads_reading_npz_files_and_headers_at_once_each_get_theirs(tmp_path: Path) -> None:
    files = _arrays(tmp_path)
    for path, values in files:
        np.savez(path.with_suffix(".npz"), values=values, double=2 * values)

    def load(path: Path) -> np.ndarray:
        if path.name < "a4":
            arrays = npy.load_all(path.with_suffix(".npz"))
            assert np.array_equal(arrays["double"], 2 * arrays["values"])
            return arrays["values"]
        with open(path, "rb") as fh:
            shape, fortran, dtype = npy.read_header(fh)
            return np.frombuffer(fh.read(), dtype=dtype).reshape(shape, order="F" if fortran else "C")

    assert _hammer(load, files) == []


def test_load_all_refuses_a_single_array(tmp_path: Path) -> None:
    np.save(tmp_path / "one.npy", np.arange(3))
    with pytest.raises(ValueError, match="not an .npz"):
        npy.load_all(tmp_path / "one.npy")


def test_no_pickle_is_loaded(tmp_path: Path) -> None:
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="pickle"):
        npy.load(tmp_path / "objects.npy")


def _run(way: str, directory: Path) -> list[str]:
    code = "import sys; from tests.test_npy import _main; _main(sys.argv[1], sys.argv[2])"
    done = subprocess.run([sys.executable, "-c", code, way, str(directory)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    return done.stdout.splitlines()


@pytest.mark.slow
def test_where_bare_numpy_loads_fail_at_once_the_helper_does_not(tmp_path: Path) -> None:
    """On a Python with the bug, the same workload through bare ``np.load`` fails; through the helper,
    never (each in a fresh process, as a server's first searches are)."""
    bare = _run("bare", tmp_path)
    if not bare:
        pytest.skip(f"bare np.load did not fail here (Python {sys.version.split()[0]})")
    assert any("AST constructor recursion depth mismatch" in failure for failure in bare), bare
    assert _run("helper", tmp_path) == []


def test_every_array_read_of_the_package_goes_through_the_lock() -> None:
    # a new np.load (or header read) elsewhere would bring the CPython 3.11 race back unnoticed
    import re

    package = Path(__file__).resolve().parents[1] / "archive"
    pattern = re.compile(r"\bnp\.load\(|numpy\.load\(|read_array_header_|\bread_magic\(")
    outside = [f"{path.relative_to(package)}:{n}" for path in sorted(package.rglob("*.py")) if path.name != "npy.py"
               for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert outside == []

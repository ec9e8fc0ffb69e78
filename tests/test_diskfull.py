"""A full disk is named as a full disk, with what was kept (issue 21, item 11).

The archive is built on a real small file system (a 3 MB tmpfs mounted for the
test; it needs root, and the tests that use it skip without), then a ballast
file leaves only a few kilobytes free. Every write must then fail with
:class:`DiskFullError` (one line on the command line, no traceback), never call
the healthy live store "damaged", and leave the archive searchable and whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive import Archive, DiskFullError, Document, IndexDamagedError
from archive.index.check import check_index
from archive.index.diskfull import is_disk_full

from .conftest import NEWS

ROOT = Path(__file__).resolve().parents[1]
LEFT_FREE = 24_000
"""Bytes the ballast leaves free: less than any write of the test archive needs."""


def _articles(seed_text: str, count: int, prefix: str) -> list[Document]:
    """``count`` real Arabic articles made from the seed article (each a different rotation of its words)."""
    words = seed_text.split()
    return [
        Document(id=f"{prefix}{n}", title=" ".join(words[n * 7 : n * 7 + 6]),
                 body=" ".join(words[n * 11 :] + words[: n * 11]), source="seed")
        for n in range(count)
    ]


@contextlib.contextmanager
def _small_disk(size: str = "3m") -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root")
    mount = Path(tempfile.mkdtemp(prefix="archive-full-"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        mount.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
        mount.rmdir()


def _fill(mount: Path, leave: int = LEFT_FREE) -> None:
    """Leave only ``leave`` bytes free on ``mount`` (a ballast file)."""
    free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
    with open(mount / "ballast", "wb") as fh:
        fh.write(b"\0" * max(0, free - leave))


@pytest.fixture()
def full_disk_archive(seed_path: Path) -> Iterator[tuple[Path, list[Document]]]:
    """An archive of 12 seed articles (hashing encoder) on a small disk, then filled."""
    seed = seed_path.read_text(encoding="utf-8")
    with _small_disk() as mount:
        index = mount / "index"
        Archive.build(_articles(seed, 12, "s"), index, encoder="hashing", procs=1).close()
        _fill(mount)
        yield index, _articles(seed, 14, "s")


def _assert_whole(index: Path, count: int) -> None:
    with Archive.open(index) as archive:
        assert archive.stats().documents == count
        assert archive.search("كوريا الشمالية", mode="lexical", k=3, fold=False).total == count
    report = check_index(index)
    assert report.healthy, report.problems


def test_every_write_on_a_full_disk_names_it_and_keeps_the_archive(full_disk_archive) -> None:
    index, docs = full_disk_archive
    writes = {
        "update(add=...)": lambda: Archive.update(index, add=docs[12:]),
        "build(full=True)": lambda: Archive.build(docs[:12], index, encoder="hashing", full=True, procs=1),
        "build of more articles": lambda: Archive.build(docs, index, encoder="hashing", procs=1),
        "update(delete=...)": lambda: Archive.update(index, delete=["s1"]),
        "update(add=...) again": lambda: Archive.update(index, add=docs[13:]),
    }
    for name, write in writes.items():
        with pytest.raises(DiskFullError) as caught:
            write()
        message = str(caught.value)
        assert "disk is full" in message, name
        assert "kept and usable" in message, name
        assert "damaged" not in message, name
        _assert_whole(index, 12)


@pytest.mark.slow
def test_the_command_line_says_disk_full_in_one_line_without_a_traceback(full_disk_archive, tmp_path: Path) -> None:
    index, docs = full_disk_archive
    new = tmp_path / "new.jsonl"
    new.write_text("\n".join(json.dumps({"id": d.id, "title": d.title, "body": d.body}, ensure_ascii=False)
                             for d in docs[12:]) + "\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    for args in (["add", str(new)], ["build", "--full", "--procs", "1"], ["delete", "s1"], ["add", str(new)]):
        run = subprocess.run([sys.executable, "-m", "archive", *args, "--index", str(index)], env=env,
                             capture_output=True, text=True, check=False)
        assert run.returncode == 1, (args, run.stdout, run.stderr)
        assert "Traceback" not in run.stderr, (args, run.stderr)
        assert run.stderr.strip().splitlines()[-1].startswith("error: "), (args, run.stderr)
        assert "disk is full" in run.stderr and "damaged" not in run.stderr, (args, run.stderr)
    _assert_whole(index, 12)


def test_a_full_disk_while_copying_the_store_is_not_called_damage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a small disk (no root needed): SQLite's "disk is full" during an add's store copy."""
    Archive.build(NEWS, tmp_path / "index", encoder=None).close()

    class FullDisk(sqlite3.Connection):
        def backup(self, *_: object, **__: object) -> None:
            raise sqlite3.OperationalError("database or disk is full")

    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: connect(*a, **k, factory=FullDisk))
    added = Document(id="new-1", title="أمطار غزيرة في جدة", body="هطلت أمطار غزيرة على مدينة جدة مساء الخميس.")
    with pytest.raises(DiskFullError) as caught:
        Archive.update(tmp_path / "index", add=[added])
    assert not isinstance(caught.value, IndexDamagedError)
    assert "kept and usable" in str(caught.value)


@pytest.mark.parametrize(("error", "full"), [
    (OSError(28, "No space left on device"), True),
    (OSError("171129 requested and 116704 written"), True),  # numpy's tofile on a short write
    (sqlite3.OperationalError("database or disk is full"), True),
    (OSError(13, "Permission denied"), False),
    (sqlite3.DatabaseError("database disk image is malformed"), False),
])
def test_what_counts_as_a_full_disk(error: BaseException, full: bool) -> None:
    assert is_disk_full(error) is full

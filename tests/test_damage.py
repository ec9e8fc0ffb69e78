"""Damage is named, never propagated (issue 11, section 4).

Each kind of damage a careless or hostile user can do to an index, times every
command: one ``error:`` line on stderr naming the file and the fix, exit code
1, no traceback; ``archive build --full`` then recovers; ``archive add`` never
carries a damaged file into a new generation; ``archive check`` names every
problem. The tiny archive is built once per module and copied per case.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from archive import Archive, IndexDamagedError, check_index
from archive.cli import app
from archive.index.integrity import CHECKSUM, checksum
from archive.index.layout import POINTER, commit_generation, current_generation
from archive.index.manifest import _FIELD_CHECKS, MANIFEST_NAME, Manifest

from .conftest import NEWS, ROOT

runner = CliRunner()


def _jsonl(path: Path, docs: list) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for d in docs:
            record = {"id": d.id, "title": d.title, "body": d.body, "date": d.published.isoformat(),
                      "source": d.source, "category": d.category, "url": d.url}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding ``news.jsonl``, ``extra.jsonl`` and ``index/`` built from the first (hashing encoder)."""
    base = tmp_path_factory.mktemp("damage")
    _jsonl(base / "news.jsonl", NEWS)
    (base / "extra.jsonl").write_text(json.dumps(
        {"id": "energy-1", "title": "خطة جديدة للطاقة الشمسية",
         "body": "أعلنت الحكومة عن خطة جديدة لإنتاج الطاقة الشمسية في الصحراء خلال خمس سنوات."},
        ensure_ascii=False) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["build", str(base / "news.jsonl"), "--index", str(base / "index"),
                                 "--encoder", "hashing", "--procs", "1"])
    assert result.exit_code == 0, result.output
    return base


@pytest.fixture()
def case(built: Path, tmp_path: Path) -> Path:
    """A private copy of the built archive (its folder: sources and ``index/``)."""
    shutil.copytree(built, tmp_path / "case")
    return tmp_path / "case"


def _generation(index: Path) -> Path:
    return current_generation(index)


def _segment_file(index: Path, suffix: str) -> Path:
    (path,) = (_generation(index) / "lexical").glob(f"*{suffix}")
    return path


def _truncate(path: Path, size: int | None = None) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 if size is None else size])


def _manifest_lots(index: Path) -> None:
    path = _generation(index) / MANIFEST_NAME
    data = json.loads(path.read_text(encoding="utf-8"))
    data["documents"] = "lots"
    path.write_text(json.dumps(data), encoding="utf-8")


def _current_dir(index: Path) -> None:
    (index / POINTER).unlink()
    (index / POINTER).mkdir()
    (index / POINTER / "notes.txt").write_text("ملاحظاتي الخاصة", encoding="utf-8")


def _index_file(index: Path) -> None:
    shutil.rmtree(index)
    index.write_text("هذا ملف وليس فهرسا", encoding="utf-8")


# damage kind -> (what it does to the index, what the error line must name)
DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "store-deleted": (lambda ix: (_generation(ix) / "docs.sqlite").unlink(), "docs.sqlite"),
    "store-truncated": (lambda ix: _truncate(_generation(ix) / "docs.sqlite", 5000), "docs.sqlite"),
    "store-emptied": (lambda ix: _truncate(_generation(ix) / "docs.sqlite", 0), "docs.sqlite"),
    "column-deleted": (lambda ix: _segment_file(ix, "._stored.col").unlink(), "_stored.col"),
    "column-truncated": (lambda ix: _truncate(_segment_file(ix, "._stored.col")), "_stored.col"),
    "postings-truncated": (lambda ix: _truncate(_segment_file(ix, ".pst")), ".pst"),
    "postings-emptied": (lambda ix: _truncate(_segment_file(ix, ".pst"), 0), ".pst"),
    "pointer-random-bytes": (lambda ix: (ix / POINTER).write_bytes(b"\xff\xfe\x80\x00garbage\xc3\x28"), POINTER),
    "pointer-is-a-directory": (_current_dir, POINTER),
    "passages-truncated": (lambda ix: _truncate(_generation(ix) / "dense" / "passages.npz"), "passages.npz"),
    "manifest-documents-lots": (_manifest_lots, "'documents'"),
    "index-is-a-file": (_index_file, "is a file"),
}

COMMANDS: dict[str, list[str]] = {
    "search-lexical": ["search", "النفط", "--mode", "lexical"],
    "search-operators": ["search", "النفط AND أوبك", "--mode", "lexical"],
    "search-filter": ["search", "النفط", "--mode", "lexical", "--source", "BBC"],
    "search-semantic": ["search", "أسعار النفط", "--mode", "semantic"],
    "search-hybrid": ["search", "أسعار النفط"],
    "show": ["show", "econ-1"],
    "stats": ["stats"],
    "add": ["add", "{extra}"],
    "delete": ["delete", "sport-1"],
    "build": ["build", "{news}", "--encoder", "hashing", "--procs", "1"],
    "check": ["check"],
}


WRITES = ("add", "delete", "build")


def _run(folder: Path, args: list[str]) -> Result:
    args = [a.format(news=folder / "news.jsonl", extra=folder / "extra.jsonl") for a in args]
    return runner.invoke(app, [*args, "--index", str(folder / "index")])


def _one_error_line(result: Result) -> str:
    assert result.exit_code == 1, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    (line,) = lines
    assert line.startswith("error: ") and "Traceback" not in result.output
    return line


@pytest.mark.slow
@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damage_is_one_line_naming_the_file_and_the_fix(case: Path, damage: str, command: str) -> None:
    do, names = DAMAGE[damage]
    do(case / "index")
    result = _run(case, COMMANDS[command])
    if damage.startswith("pointer-") and command in WRITES:  # a write points it back, says so, and goes on
        assert result.exit_code == 0, result.output
        assert f"pointed {POINTER} back to gen-" in result.output and names in result.output, result.output
        assert _run(case, ["check"]).exit_code == 0
        return
    line = _one_error_line(result)
    if command == "check" and damage not in ("index-is-a-file",):
        fix = f"Fix: archive build --index {case / 'index'} (it points" if damage.startswith("pointer-") else \
            "Fix: archive build --full"
        problems = [p for p in result.stdout.splitlines() if p.startswith("problem: ")]
        assert problems and any(names in p and fix in p for p in problems), result.stdout
        return
    assert names in line, line
    assert "Fix:" in line, line


@pytest.mark.slow
@pytest.mark.parametrize("damage", [d for d in DAMAGE if d != "index-is-a-file"])
def test_build_full_recovers_from_the_damage(case: Path, damage: str) -> None:
    DAMAGE[damage][0](case / "index")
    result = _run(case, ["build", "{news}", "--encoder", "hashing", "--procs", "1", "--full"])
    assert result.exit_code == 0, result.output
    searched = _run(case, ["search", "أوبك النفط", "--json", "--mode", "lexical"])
    assert searched.exit_code == 0 and json.loads(searched.stdout.splitlines()[0])["id"] == "econ-1"
    assert _run(case, ["check"]).exit_code == 0
    assert not list((case / "index").glob(f".{POINTER}.*"))
    if damage == "pointer-is-a-directory":  # moved aside, with what the user kept in it
        (aside,) = (case / "index").glob(f"{POINTER}.aside-*")
        assert (aside / "notes.txt").read_text(encoding="utf-8") == "ملاحظاتي الخاصة"
        assert str(aside) in result.stdout


@pytest.mark.parametrize("pointer", ["garbled", "missing"])
def test_a_damaged_pointer_costs_neither_the_archive_nor_its_deletes(case: Path, pointer: str) -> None:
    """The fix the error names keeps every committed generation, the remembered sources and the deletes:
    no source named (the tests run where a seeds/ folder is), --full, the user's encoder kept."""
    index = case / "index"
    assert _run(case, ["delete", "sport-1"]).exit_code == 0
    live = current_generation(index).name
    sources = Archive.sources_of(index)
    generations = sorted(p.name for p in index.glob("gen-*"))
    assert len(generations) == 2  # the live one and its backup
    if pointer == "garbled":
        (index / POINTER).write_text("garbage\n", encoding="utf-8")
    else:
        (index / POINTER).unlink()
    checked = _run(case, ["check"])
    assert checked.exit_code == 1
    fix = f"Fix: archive build --index {index} (it points {POINTER} back to {live}, the newest complete generation"
    assert fix in checked.stdout, checked.stdout
    with pytest.raises(IndexDamagedError, match=re.escape(fix)):
        Archive.open(index)
    assert sorted(p.name for p in index.glob("gen-*")) == generations  # reading changed nothing

    result = _run(case, ["build", "--full"])
    assert result.exit_code == 0, result.output
    assert f"pointed {POINTER} back to {live}" in result.stdout
    assert "seeds" not in result.output
    after = sorted(p.name for p in index.glob("gen-*"))
    assert live in after and len(after) == 2  # the repaired generation is the new one's backup
    with Archive.open(index) as archive:
        assert sorted(d.id for d in archive) == sorted(d.id for d in NEWS if d.id != "sport-1")  # still deleted
        assert archive.manifest.encoder == "hashing/1"  # the user's choice, not the default
        assert list(archive.manifest.sources) == sources and sources


def test_the_newest_of_two_generations_of_one_second_is_the_one_written_last(case: Path) -> None:
    """Names of one second differ only in a random part: the manifest written last decides."""
    from archive.index.layout import newest_complete

    index = case / "index"
    live = current_generation(index)
    later, earlier = index / "gen-20991231T235959-00000000", index / "gen-20991231T235959-ffffffff"
    shutil.copytree(live, earlier)
    shutil.copytree(live, later)
    os.utime(earlier / MANIFEST_NAME, ns=(1, 4_102_444_799_000_000_000))
    os.utime(later / MANIFEST_NAME, ns=(1, 4_102_444_799_500_000_000))
    assert newest_complete(index) == later
    (later / MANIFEST_NAME).write_text("{broken", encoding="utf-8")  # not complete: passed over
    assert newest_complete(index) == earlier


def test_a_commit_with_no_pointer_keeps_every_complete_generation(case: Path) -> None:
    """Belt and braces: a commit that finds no live generation named removes none that is complete."""
    index = case / "index"
    old = current_generation(index)
    (index / POINTER).unlink()
    half = index / "gen-20200101T000000-0badc0de"  # an interrupted build's leftover: no manifest
    half.mkdir()
    new = index / "gen-20991231T235959-00c0ffee"
    shutil.copytree(old, new)
    notes = commit_generation(index, new)
    assert current_generation(index) == new
    assert old.is_dir() and not half.exists()
    assert any("kept 1 earlier complete generation(s)" in n for n in notes), notes


def test_an_index_path_that_is_a_file_is_never_overwritten(case: Path) -> None:
    _index_file(case / "index")
    result = _run(case, ["build", "{news}", "--encoder", "hashing", "--procs", "1", "--full"])
    assert "is a file" in _one_error_line(result)
    assert (case / "index").read_text(encoding="utf-8") == "هذا ملف وليس فهرسا"


def _flip_byte(path: Path) -> None:
    """Change one byte in the middle, keeping the size: only a checksum sees it."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _snapshot(index: Path) -> dict[str, bytes]:
    return {p.relative_to(index).as_posix(): p.read_bytes() for p in sorted(index.rglob("*"))
            if p.is_file() and p.name != ".lock" and not p.name.startswith("embeddings.sqlite")}


@pytest.mark.parametrize("suffix", [".pst", "._stored.col", ".trm"])
@pytest.mark.parametrize("how", ["flipped", "truncated"])
def test_add_never_carries_a_damaged_segment_into_a_new_generation(case: Path, suffix: str, how: str) -> None:
    index = case / "index"
    damaged = _segment_file(index, suffix)
    (_flip_byte if how == "flipped" else _truncate)(damaged)
    before = _snapshot(index)
    for command in (["add", "{extra}"], ["delete", "sport-1"]):
        line = _one_error_line(_run(case, command))
        assert damaged.name in line and "Fix: archive build --full" in line, line
    assert _snapshot(index) == before  # nothing committed, no generation left behind
    report = check_index(index)
    assert not report.healthy and any(p.path == damaged for p in report.problems)


def test_add_verifies_and_records_every_file(case: Path) -> None:
    index = case / "index"
    old = _generation(index)
    assert _run(case, ["add", "{extra}"]).exit_code == 0
    new = _generation(index)
    assert new != old
    manifest = Manifest.read(new)
    files = {p.relative_to(new).as_posix() for p in new.rglob("*") if p.is_file()} - {MANIFEST_NAME}
    assert set(manifest.files) == files
    for name, entry in manifest.files.items():
        assert entry == {"size": (new / name).stat().st_size, CHECKSUM: checksum(new / name)}, name
    # the hard-linked segments were not changed under the previous generation either
    assert check_index(index).healthy
    previous = Manifest.read(old)
    assert all(checksum(old / name) == entry[CHECKSUM] for name, entry in previous.files.items())
    with Archive.open(index) as archive:
        assert archive.search("الطاقة الشمسية", mode="lexical")[0].id == "energy-1"


def test_opening_checks_sizes_not_checksums(case: Path) -> None:
    """A same-size corruption is left to ``add`` and ``check``: opening reads no file whole."""
    index = case / "index"
    _flip_byte(_generation(index) / "dense" / "vectors" / "vectors.npy")
    Archive.open(index).close()  # opens: the size is right
    with pytest.raises(IndexDamagedError, match=r"vectors\.npy: content differs from the manifest's sha256"):
        Archive.update(index, delete=["sport-1"])
    _truncate(_generation(index) / "terms" / "grams.df.npy")
    with pytest.raises(IndexDamagedError, match=r"grams\.df\.npy: \d+ bytes where the manifest records"):
        Archive.open(index)


def test_check_reports_sides_that_disagree(case: Path) -> None:
    """A store that lost an article, with its checksum made to match: the counts and ids still disagree."""
    import sqlite3

    index = case / "index"
    generation = _generation(index)
    store = generation / "docs.sqlite"
    with sqlite3.connect(store) as db:
        db.execute("DELETE FROM documents WHERE id='war-1'")
    manifest_path = generation / MANIFEST_NAME
    data = json.loads(manifest_path.read_text(encoding="utf-8"))
    data["files"]["docs.sqlite"] = {"size": store.stat().st_size, CHECKSUM: checksum(store)}
    manifest_path.write_text(json.dumps(data), encoding="utf-8")
    report = check_index(index)
    assert report.counts["store"] == len(NEWS) - 1 and report.counts["whoosh"] == len(NEWS)
    reasons = [str(p) for p in report.problems]
    assert any("docs.sqlite" in r and f"holds {len(NEWS) - 1} articles" in r for r in reasons), reasons
    assert any("lexical" in r and "'war-1'" in r for r in reasons), reasons
    result = _run(case, ["check"])
    assert result.exit_code == 1 and "'war-1'" in result.stdout


def test_check_of_a_healthy_index(built: Path) -> None:
    report = Archive.check(built / "index")
    assert report.healthy and report.counts == dict.fromkeys(["manifest", "store", "whoosh", "terms", "dense", "near"], len(NEWS))
    result = _run(built, ["check"])
    assert result.exit_code == 0, result.output
    assert "healthy" in result.stdout and f"store {len(NEWS)}, whoosh {len(NEWS)}" in result.stdout


@pytest.mark.parametrize(
    ("field", "value"),
    [("documents", "lots"), ("documents", -1), ("documents", True), ("aliases", None), ("dim", "384"),
     ("encoder", 5), ("passage_settings", {"max_words": "many"}), ("analyzer", []), ("built_at", 0),
     ("files", {"x": {"size": 1}}), ("files", {"../x": {"size": 1, CHECKSUM: "00"}}), ("files", [])],
)
def test_every_manifest_field_is_type_checked(case: Path, field: str, value: object) -> None:
    assert set(_FIELD_CHECKS) == set(Manifest.__dataclass_fields__)  # no field goes unchecked
    path = _generation(case / "index") / MANIFEST_NAME
    data = json.loads(path.read_text(encoding="utf-8"))
    data[field] = value
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(IndexDamagedError, match=rf"{MANIFEST_NAME}: field '{field}' is .*Fix: archive build --full"):
        Archive.open(case / "index")
    del data[field]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(IndexDamagedError, match=rf"'{field}' is missing"):
        Archive.open(case / "index")


def test_commit_moves_a_pointer_directory_aside_and_removes_its_own_leftovers(case: Path) -> None:
    index = case / "index"
    live = _generation(index)
    leftover = index / f".{POINTER}.0a1b2c3d"
    leftover.write_text("gen-x\n", encoding="utf-8")
    mine = index / f".{POINTER}.notes"  # not a name the commit writes: kept
    mine.write_text("mine", encoding="utf-8")
    (index / POINTER).unlink()
    (index / POINTER).mkdir()
    notes = commit_generation(index, live)
    assert not leftover.exists() and mine.read_text(encoding="utf-8") == "mine"
    assert notes == [f"{index / POINTER}: was an empty directory; removed it to write the pointer file"]
    assert current_generation(index) == live


def _as_another_user(args: list[str], index: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    prefix: list[str] = []
    if os.geteuid() == 0:  # root writes anywhere: read the index as "nobody", who may only read it
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make the index read-only")
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    return subprocess.run([*prefix, sys.executable, "-m", "archive", *args, "--index", str(index)],
                          env=env, capture_output=True, text=True, cwd=index.parent, timeout=120, check=False)


@pytest.fixture(scope="module")
def read_only(built: Path) -> Path:
    """A copy of the archive its reader cannot write: owned by root (read as nobody), or chmod a-w."""
    folder = Path(tempfile.mkdtemp(prefix="archive-read-only-"))
    os.chmod(folder, 0o755)
    shutil.copytree(built, folder / "archive")
    for path in [folder / "archive", *(folder / "archive").rglob("*")]:
        mode = path.stat().st_mode
        os.chmod(path, (mode | 0o444 | (0o111 if path.is_dir() else 0)) & ~0o222)
    yield folder / "archive"
    for path in [folder / "archive", *(folder / "archive").rglob("*")]:
        os.chmod(path, path.stat().st_mode | 0o200)
    shutil.rmtree(folder)


@pytest.mark.slow
def test_a_read_only_index_is_searchable_in_every_mode(read_only: Path) -> None:
    failed = {}
    for command in ("search-lexical", "search-operators", "search-filter", "search-semantic", "search-hybrid",
                    "show", "stats", "check"):
        result = _as_another_user(COMMANDS[command], read_only / "index")
        if result.returncode != 0:
            failed[command] = result.stderr.strip().splitlines()[-1:]
    assert not failed


@pytest.mark.slow
@pytest.mark.parametrize("command", ["add", "delete", "build"])
def test_writing_a_read_only_index_says_so(read_only: Path, command: str) -> None:
    args = [a.format(news=read_only / "news.jsonl", extra=read_only / "extra.jsonl") for a in COMMANDS[command]]
    result = _as_another_user(args, read_only / "index")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "read-only" in line and "Searching it works" in line and "chmod" in line, line

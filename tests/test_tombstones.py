"""Deletes are remembered (issue 21, item 2).

``archive delete a1`` then ``archive build`` used to print "1 added" and bring
a1 back, because its source file was remembered and still held it. A delete
now leaves a tombstone (the id and its date, in the document store): a build
from the same sources skips the article and says so, with the way back
(``archive restore ID``, or ``archive add`` of the article's file).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archive import Archive, BuildReport, Document, DocumentNotFoundError, IndexFormatError
from archive.errors import UsageError
from archive.cli import app
from archive.index.check import check_index
from archive.index.layout import current_generation
from archive.index.store import STORE_FORMAT, DocumentStore

runner = CliRunner()


def _write(path: Path, docs: list[Document]) -> Path:
    path.write_text("".join(json.dumps({"id": d.id, "title": d.title, "body": d.body, "source": d.source},
                                       ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
    return path


@pytest.fixture()
def built(tmp_path: Path, news: list[Document]) -> tuple[Path, Path]:
    """``(source file, index)``: the news articles in one JSONL file, built lexical only."""
    source = _write(tmp_path / "news.jsonl", news)
    index = tmp_path / "index"
    Archive.build(_read(source), index, encoder=None, procs=1, sources=[source]).close()
    return source, index


def _read(source: Path) -> list[Document]:
    from archive import read_documents

    return list(read_documents([source]))


def _tombstones(index: Path) -> dict[str, str]:
    store = DocumentStore.open(current_generation(index) / "docs.sqlite")
    try:
        return store.tombstones()
    finally:
        store.close()


def test_a_deleted_article_stays_deleted_when_its_source_is_read_again(built: tuple[Path, Path]) -> None:
    source, index = built
    Archive.update(index, delete=["econ-1"]).close()
    stamp = _tombstones(index)["econ-1"]
    assert datetime.fromisoformat(stamp).date() == datetime.now(UTC).date()
    report = BuildReport()
    archive = Archive.build(_read(source), index, procs=1, sources=[source], report=report)
    assert "econ-1" not in archive and archive.search("أوبك", mode="lexical").total == 0
    assert (report.tombstoned, report.tombstoned_ids, report.added) == (1, ["econ-1"], 0)
    assert report.read == report.added + report.updated + report.unchanged + report.skipped_count
    archive.close()
    for full in (True, False):  # a whole rewrite carries the tombstones too
        Archive.build(_read(source), index, procs=1, sources=[source], full=full).close()
        assert "econ-1" not in Archive.open(index) and "econ-1" in _tombstones(index)
    assert check_index(index).healthy


def test_the_command_line_says_how_many_it_skipped_and_how_to_restore(built: tuple[Path, Path]) -> None:
    _, index = built
    result = runner.invoke(app, ["delete", "econ-1", "--index", str(index)])
    assert result.exit_code == 0 and "archive restore econ-1" in result.output, result.output
    result = runner.invoke(app, ["build", "--index", str(index), "--dry-run"])
    assert "1 skipped (1 deleted earlier)" in result.output and "archive restore econ-1" in result.output, result.output
    result = runner.invoke(app, ["build", "--index", str(index)])
    assert result.exit_code == 0, result.output
    assert "0 added" in result.output and "1 skipped (1 deleted earlier)" in result.output, result.output
    assert "skipped 1 article deleted earlier with archive delete" in result.output
    result = runner.invoke(app, ["show", "econ-1", "--index", str(index)])
    assert result.exit_code == 1
    result = runner.invoke(app, ["restore", "econ-1", "--index", str(index)])
    assert result.exit_code == 0 and "restored 1 article" in result.output, result.output
    result = runner.invoke(app, ["show", "econ-1", "--index", str(index)])
    assert result.exit_code == 0 and "أوبك" in result.output
    assert _tombstones(index) == {}


def test_restore_reads_the_sources_and_refuses_what_was_not_deleted(built: tuple[Path, Path], news: list[Document]) -> None:
    _, index = built
    Archive.update(index, delete=["econ-1", "war-1"]).close()
    with pytest.raises(DocumentNotFoundError, match="'sport-1' \\(in the archive, not deleted\\)"):
        Archive.restore(index, ["war-1", "sport-1"])
    with pytest.raises(DocumentNotFoundError, match="never deleted"):
        Archive.restore(index, ["nosuch"])
    with pytest.raises(UsageError, match=r"write ids=\['war-1'\]"):
        Archive.restore(index, "war-1")
    assert set(_tombstones(index)) == {"econ-1", "war-1"}  # nothing changed
    report = BuildReport()
    archive = Archive.restore(index, ["war-1"], report=report)
    assert "war-1" in archive and archive.get("war-1").body == news[2].body
    assert report.restored == 1 and set(_tombstones(index)) == {"econ-1"}
    archive.close()


def test_an_explicit_add_brings_a_deleted_article_back(built: tuple[Path, Path], news: list[Document]) -> None:
    _, index = built
    Archive.update(index, delete=["econ-1"]).close()
    corrected = Document(id="econ-1", title="أسعار النفط ترتفع مجددا", body=news[1].body + " وتابعت الأسعار ارتفاعها.")
    report = BuildReport()
    archive = Archive.update(index, add=[corrected], report=report)
    assert report.restored == 1 and archive.get("econ-1").title == corrected.title
    assert _tombstones(index) == {}
    archive.close()


@pytest.mark.slow
def test_prune_removes_without_tombstones_and_never_restores(tmp_path: Path, built: tuple[Path, Path],
                                                             news: list[Document]) -> None:
    source, index = built
    Archive.update(index, delete=["econ-1"]).close()
    fewer = _write(tmp_path / "fewer.jsonl", [d for d in news if d.id != "sport-1"])
    report = BuildReport()
    Archive.build(_read(fewer), index, procs=1, sources=[fewer], prune=True, report=report).close()
    assert report.deleted == 1 and report.tombstoned == 1  # sport-1 pruned; econ-1 stays deleted
    assert set(_tombstones(index)) == {"econ-1"}  # a pruned article is not a user's delete
    Archive.build(_read(source), index, procs=1, sources=[source]).close()
    with Archive.open(index) as archive:
        assert "sport-1" in archive and "econ-1" not in archive


def test_the_store_format_is_versioned(built: tuple[Path, Path], tmp_path: Path) -> None:
    _, index = built
    Archive.update(index, delete=["econ-1"]).close()
    path = current_generation(index) / "docs.sqlite"
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == STORE_FORMAT
    db.close()
    copy = tmp_path / "newer.sqlite"
    copy.write_bytes(path.read_bytes())
    db = sqlite3.connect(copy)
    db.execute(f"PRAGMA user_version={STORE_FORMAT + 1}")
    db.commit()
    db.close()
    with pytest.raises(IndexFormatError, match="newer than this archive reads"):
        DocumentStore.open(copy)
    older = tmp_path / "older.sqlite"
    older.write_bytes(path.read_bytes())
    db = sqlite3.connect(older)
    db.execute("DROP TABLE tombstones")
    db.execute("PRAGMA user_version=0")
    db.commit()
    db.close()
    store = DocumentStore.open(older)
    assert store.tombstones() == {} and len(store) == 5
    store.close()


def test_check_finds_an_article_both_stored_and_marked_deleted(built: tuple[Path, Path]) -> None:
    _, index = built
    Archive.update(index, delete=["econ-1"]).close()
    assert check_index(index).healthy
    path = current_generation(index) / "docs.sqlite"
    db = sqlite3.connect(path)
    db.execute("INSERT INTO tombstones (id, deleted_at) VALUES ('war-1', '2026-01-01T00:00:00+00:00')")
    db.commit()
    db.close()
    problems = " ".join(str(p) for p in check_index(index).problems)
    assert "both stored and marked deleted" in problems and "war-1" in problems


def test_a_build_never_replaces_a_store_newer_than_this_code(built: tuple[Path, Path]) -> None:
    source, index = built
    path = current_generation(index) / "docs.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={STORE_FORMAT + 1}")
    db.commit()
    db.close()
    with pytest.raises(IndexFormatError, match="newer than this archive reads"):
        Archive.build(_read(source)[:2], index, procs=1, sources=[source])


def test_deleting_an_article_deleted_earlier_says_so_and_names_the_way_back(built: tuple[Path, Path]) -> None:
    # it said "no such document", as for an id the archive never held
    _, index = built
    Archive.update(index, delete=["econ-1"]).close()
    day = _tombstones(index)["econ-1"][:10]
    with pytest.raises(DocumentNotFoundError,
                       match=rf"'econ-1' \(deleted on {day}\): already deleted with archive delete; "
                             "archive restore econ-1 brings it back"):
        Archive.update(index, delete=["econ-1"])
    with pytest.raises(DocumentNotFoundError, match="'nosuch': no such document .*; 'econ-1' \\(deleted on"):
        Archive.update(index, delete=["econ-1", "nosuch", "war-1"])
    with Archive.open(index) as archive:
        assert "war-1" in archive and "econ-1" not in archive  # nothing was changed
    result = runner.invoke(app, ["delete", "econ-1", "--index", str(index)])
    assert result.exit_code == 1 and "no such document" not in result.output, result.output
    assert "already deleted" in result.output and "archive restore econ-1" in result.output, result.output


def test_restore_counts_only_the_articles_it_brought_back(built: tuple[Path, Path], news: list[Document]) -> None:
    # an id no source holds any more only loses its tombstone: it was counted as restored, and the
    # command line said "restored 1 article" and "passage vectors were added" on a lexical archive
    source, index = built
    Archive.update(index, delete=["econ-1", "war-1"]).close()
    _write(source, [d for d in news if d.id != "econ-1"])
    report = BuildReport()
    archive = Archive.restore(index, ["econ-1", "war-1"], report=report)
    assert (report.restored, "war-1" in archive, "econ-1" in archive) == (1, True, False)
    assert _tombstones(index) == {} and any(w.startswith("econ-1: not in the archive's sources") for w in report.warnings)
    archive.close()
    Archive.update(index, delete=["war-1"]).close()
    _write(source, [d for d in news if d.id not in ("econ-1", "war-1")])
    result = runner.invoke(app, ["restore", "war-1", "--index", str(index)])
    assert result.exit_code == 0, result.output
    assert "restored 0 articles deleted earlier; 1 not found in the archive's sources" in result.output, result.output
    assert "only its deletion forgotten" in result.output and "no article changed" in result.output
    assert "vectors" not in result.output and "restored 1" not in result.output

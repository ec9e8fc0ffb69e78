"""Incremental writes cost what they change and fold duplicates across increments (code safety: test_safety.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from archive import Archive, BuildReport, Document, IndexFormatError
from archive.errors import ArchiveClosedError
from archive.encoders.hashing import HashingEncoder
from archive.writing.planning import Counts, plan_changes
from archive.index.layout import current_generation
from archive.index.manifest import FORMAT_VERSION


def _files(directory: Path) -> dict[str, tuple[int, str]]:
    """``{name: (inode, sha256)}`` of every file in ``directory``."""
    return {
        p.name: (p.stat().st_ino, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(directory.iterdir()) if p.is_file()
    }


def _many(n: int) -> list[Document]:
    topics = ["النفط والغاز", "الانتخابات البرلمانية", "كرة القدم", "الزلزال والإغاثة", "الذكاء الاصطناعي"]
    return [
        Document(id=f"n{i}", title=f"خبر {i} عن {topics[i % 5]}",
                 body=f"تقرير رقم {i} يتناول {topics[i % 5]} في المنطقة العربية وما يتبعه من تطورات يوم {i}.")
        for i in range(n)
    ]


@pytest.mark.slow
def test_add_links_the_old_segments_and_leaves_the_live_generation_untouched(tmp_path: Path, news: list[Document]) -> None:
    root = tmp_path / "index"
    Archive.build([*news, *_many(300)], root, encoder=HashingEncoder(), procs=1).close()
    old = current_generation(root)
    before = _files(old / "lexical")
    before_store = hashlib.sha256((old / "docs.sqlite").read_bytes()).hexdigest()
    extra = Document(id="extra", title="معرض الكتاب", body="افتتح معرض الكتاب الدولي أبوابه أمام الزوار في القاهرة.")
    report = BuildReport()
    archive = Archive.update(root, add=[extra], delete=["n7"], report=report)
    new = current_generation(root)
    assert new != old
    assert (report.added, report.deleted, report.embedded, report.indexed) == (1, 1, 1, len(news) + 300)
    assert report.reused == archive.manifest.passages - 1  # every other vector carried over, none re-embedded
    # The old generation is byte-for-byte what it was: readers that still hold it see the old state.
    assert _files(old / "lexical") == before
    assert hashlib.sha256((old / "docs.sqlite").read_bytes()).hexdigest() == before_store
    # The big segment was not rewritten: the new generation links to the same files.
    shared = {name for name, (inode, _) in _files(new / "lexical").items() if before.get(name, (None,))[0] == inode}
    assert any(name.endswith(".pst") for name in shared), shared  # postings of the big segment
    assert archive.search("معرض الكتاب")[0].id == "extra"
    for mode in ("lexical", "semantic", "hybrid"):
        assert "n7" not in [h.id for h in archive.search("تقرير رقم 7 يتناول", mode=mode, k=50)], mode
    assert len(archive) == len(news) + 300
    archive.close()


@pytest.mark.slow
def test_increment_answers_like_a_full_build_of_the_same_articles(tmp_path: Path, news: list[Document]) -> None:
    start = [*news, *_many(40)]
    changed = Document(id="n3", title="خبر عن الطاقة الشمسية", body="افتتحت المملكة أكبر محطة للطاقة الشمسية في المنطقة.")
    added = Document(id="sun", title="الطاقة المتجددة", body="تتوسع مشاريع الطاقة الشمسية والرياح في دول الخليج العربي.")
    final = [d for d in start if d.id not in ("n3", "n11")] + [changed, added]
    Archive.build(start, tmp_path / "inc", encoder=HashingEncoder(), procs=1).close()
    incremental = Archive.update(tmp_path / "inc", add=[changed, added], delete=["n11"])
    full = Archive.build(final, tmp_path / "full", encoder=HashingEncoder(), procs=1)
    assert len(incremental) == len(full) and incremental.manifest.passages == full.manifest.passages
    for query in ("الطاقة الشمسية", "الانتخابات البرلمانية", "كرة القدم", "أوبك", "صاروخ كوريا"):
        for mode in ("lexical", "semantic"):
            inc = {h.id for h in incremental.search(query, mode=mode, k=5)}
            ful = {h.id for h in full.search(query, mode=mode, k=5)}
            assert inc == ful, (query, mode)
    assert incremental.get("n3").title == "خبر عن الطاقة الشمسية"
    incremental.close()
    full.close()


@pytest.mark.slow
def test_duplicates_fold_and_promote_across_increments(tmp_path: Path, news: list[Document]) -> None:
    root = tmp_path / "index"
    Archive.build(news, root, encoder=HashingEncoder(), procs=1).close()
    oil = next(d for d in news if d.id == "econ-1")
    copy = Document(id="econ-1-wire", title="نسخة الوكالة", body=oil.body + "\n", source="Reuters")
    archive = Archive.update(root, add=[copy])
    assert archive.duplicate_of("econ-1-wire") == "econ-1" and archive.duplicates_of("econ-1") == ["econ-1-wire"]
    assert len(archive) == len(news) and archive.stats().folded_duplicates == 1
    archive.close()
    # Deleting the indexed copy promotes the alias: the story stays findable, on both sides.
    archive = Archive.update(root, delete=["econ-1"])
    assert archive.duplicate_of("econ-1-wire") is None and archive.duplicates_of("econ-1-wire") == []
    for mode in ("lexical", "semantic"):
        assert archive.search("أوبك النفط", mode=mode)[0].id == "econ-1-wire", mode
    assert len(archive) == len(news) and archive.stats().folded_duplicates == 0  # the copy took its place
    archive.close()
    # Re-adding the original makes it the alias now: the indexed copy does not jump back.
    archive = Archive.update(root, add=[oil])
    assert archive.duplicate_of("econ-1") == "econ-1-wire"
    assert [h.id for h in archive.search("أوبك", mode="lexical", k=10)] == ["econ-1-wire"]
    archive.close()


def test_plan_counts_and_keeps_the_indexed_copy() -> None:
    entries = [("a", "h-a", "k1", None), ("b", "h-b", "k1", "a"), ("c", "h-c", "k2", None)]
    changed_c = Document(id="c", body="نص جديد تماما")
    plan = plan_changes(entries, [changed_c], ["a"])
    # b's text is untouched (it is only promoted to indexed copy): not read, it is not counted
    assert plan.counts == Counts(updated=1, deleted=1)
    assert plan.unindex == {"a", "c"} and plan.index == ["b", "c"]  # b promoted, c re-indexed
    assert plan.canonical == {"b": None} and plan.store_delete == {"a", "c"}


@pytest.mark.slow
def test_a_large_change_rewrites_whole_and_a_small_one_does_not(tmp_path: Path) -> None:
    docs = _many(100)
    root = tmp_path / "index"
    Archive.build(docs, root, encoder=None, procs=1).close()
    segments = {p.stat().st_ino for p in (current_generation(root) / "lexical").glob("*.pst")}
    small = BuildReport()
    Archive.build(docs[:95], root, encoder=None, procs=1, report=small, prune=True).close()
    assert small.deleted == 5 and small.unchanged == 95
    assert segments & {p.stat().st_ino for p in (current_generation(root) / "lexical").glob("*.pst")}
    large = BuildReport()
    Archive.build(docs[:40], root, encoder=None, procs=1, report=large, prune=True).close()
    assert large.deleted == 55 and large.unchanged == 40
    assert not segments & {p.stat().st_ino for p in (current_generation(root) / "lexical").glob("*.pst")}
    assert len(Archive.open(root)) == 40


def test_an_index_of_the_previous_format_asks_for_a_full_build(tmp_path: Path, news: list[Document]) -> None:
    root = tmp_path / "index"
    Archive.build(news, root, encoder=None, procs=1).close()
    manifest = current_generation(root) / "manifest.json"
    built = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({**built, "format_version": FORMAT_VERSION - 1}), encoding="utf-8")
    with pytest.raises(IndexFormatError, match=rf"format version {FORMAT_VERSION - 1}.*archive build --full"):
        Archive.open(root)
    report = BuildReport()
    Archive.build(news, root, encoder=None, procs=1, report=report).close()  # a plain build rewrites it
    assert report.written and report.unchanged == len(news)  # rewritten, and the counts say nothing changed
    assert len(Archive.open(root)) == len(news)


@pytest.mark.slow
def test_a_reader_keeps_its_generation_until_it_closes(tmp_path: Path, news: list[Document]) -> None:
    """An open handle pins its generation: commits meanwhile leave it on disk (its stats, which walk
    every file, failed with FileNotFoundError while a commit removed it), and the first commit
    after the reader closes removes it."""
    root = tmp_path / "index"
    Archive.build(news, root, encoder=HashingEncoder(), procs=1).close()
    reader = Archive.open(root)
    first = current_generation(root)
    size = reader.stats().size_bytes
    for n, body in enumerate(("افتتح معرض الكتاب الدولي في القاهرة", "ارتفعت أسعار الذهب في الأسواق العالمية",
                              "هطلت أمطار غزيرة على جدة")):
        Archive.update(root, add=[Document(id=f"x{n}", body=body)]).close()
    assert first.exists() and reader.stats().size_bytes == size  # three commits later: still whole
    for query, mode in [('"أسعار النفط" أوبك', "lexical"), ("أوبك", "hybrid")]:
        assert reader.search(query, mode=mode), (query, mode)
    assert not reader.search("الذهب", mode="lexical")  # it answers from the generation it opened
    assert len({p.name for p in root.glob("gen-*")}) == 3  # live, previous, and the pinned one
    reader.close()
    Archive.update(root, delete=["x0"]).close()
    assert not first.exists() and len(list(root.glob("gen-*"))) == 2
    assert not list(root.glob(".removing-*"))
    with Archive.open(root) as fresh:
        assert fresh.search("الذهب", mode="lexical")[0].id == "x1"


def test_an_interrupted_removal_is_noted_by_check_and_finished_by_the_next_commit(tmp_path: Path,
                                                                                  news: list[Document]) -> None:
    root = tmp_path / "index"
    Archive.build(news, root, encoder=None, procs=1).close()
    leftover = root / ".removing-gen-20240101T000000-deadbeef"
    (leftover / "lexical").mkdir(parents=True)
    (leftover / "lexical" / "seg.pst").write_bytes(b"x" * 100)
    assert any("removal was interrupted" in note for note in Archive.check(root).notes)
    Archive.update(root, add=[Document(id="x1", body="افتتح معرض الكتاب الدولي في القاهرة")]).close()
    assert not leftover.exists() and len(Archive.open(root)) == len(news) + 1


def test_correcting_the_title_of_an_indexed_copy_keeps_it_indexed(tmp_path: Path, news: list[Document]) -> None:
    root = tmp_path / "index"
    oil = next(d for d in news if d.id == "econ-1")
    wire = Document(id="econ-1-wire", body=oil.body, title="نسخة الوكالة")
    Archive.build([*news, wire], root, encoder=None, procs=1).close()
    corrected = Document(id="econ-1", body=oil.body, title="تصحيح عنوان خبر النفط", source=oil.source)
    archive = Archive.update(root, add=[corrected])
    assert archive.duplicate_of("econ-1") is None and archive.duplicate_of("econ-1-wire") == "econ-1"
    assert [h.id for h in archive.search("تصحيح", mode="lexical")] == ["econ-1"]
    archive.close()


def test_an_index_with_other_analyzer_settings_names_them_and_rebuilds(tmp_path: Path, news: list[Document]) -> None:
    root = tmp_path / "index"
    Archive.build(news, root, encoder=None, procs=1).close()
    manifest = current_generation(root) / "manifest.json"
    built = json.loads(manifest.read_text(encoding="utf-8"))
    old_grams = "char-3grams of padded normalized words, stop words kept, unstemmed"
    manifest.write_text(json.dumps({**built, "analyzer": {**built["analyzer"], "grams": old_grams}}), encoding="utf-8")
    with pytest.raises(IndexFormatError, match=r"grams 'char-3grams .* stop words kept.*archive build --full"):
        Archive.open(root)
    report = BuildReport()
    Archive.build(news, root, encoder=None, procs=1, report=report).close()  # not compared: rewritten whole
    assert report.written and report.unchanged == len(news)  # rewritten, and the counts say nothing changed
    assert Archive.open(root).search("أوبك", mode="lexical")[0].id == "econ-1"


def test_a_handle_dropped_unclosed_releases_its_generation(tmp_path: Path, news: list[Document]) -> None:
    """``Archive.build(...)`` returns an open handle; one dropped without ``close`` released nothing, so
    its generation stayed on disk for good (the index grew with every build in a loop)."""
    import gc

    root = tmp_path / "index"
    first = Archive.build(news, root, encoder=None, procs=1).generation
    gc.collect()  # the handle Archive.build returned is gone, unclosed
    for n in range(2):
        Archive.update(root, add=[Document(id=f"x{n}", body="افتتح معرض الكتاب الدولي في القاهرة")])
        gc.collect()
    assert not first.exists() and len(list(root.glob("gen-*"))) == 2
    with Archive.open(root) as archive:
        archive._reload()  # a handle that follows the live generation keeps its new pin
        gc.collect()
        live = archive.generation
        Archive.update(root, delete=["x0"]).close()
        Archive.update(root, delete=["x1"]).close()
        assert live.exists() and archive.search("معرض الكتاب", mode="lexical")
    Archive.update(root, add=[Document(id="x2", body="هطلت أمطار غزيرة على جدة")]).close()
    assert not live.exists()


def test_a_search_whose_generation_was_removed_moves_to_the_live_one_and_closes(
    tmp_path: Path, news: list[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the file system has no ``flock`` a handle is unpinned, and two commits remove its generation:
    the search moves to the live one. It called ``close`` from inside the counted search, which waited
    for that search itself: the search hung, and so did every later ``close``."""
    import threading

    import archive.index.layout as layout

    root = tmp_path / "index"
    Archive.build(news, root, encoder=None, procs=1).close()
    monkeypatch.setattr(layout, "pin_generation", lambda generation: None)  # no flock here
    reader = Archive.open(root)
    first = reader.generation
    Archive.update(root, add=[Document(id="x0", body="افتتح معرض الكتاب الدولي في القاهرة")]).close()
    Archive.update(root, add=[Document(id="x1", body="هطلت أمطار غزيرة على جدة")]).close()
    assert not first.exists()

    def gone(*args: object) -> None:  # a file of the removed generation the handle had not opened yet
        raise FileNotFoundError(first / "lexical")

    monkeypatch.setattr(reader._searcher, "search", gone)
    found: list = []
    search = threading.Thread(target=lambda: found.append(reader.search("معرض الكتاب", mode="lexical")))
    search.start()
    search.join(60)
    assert not search.is_alive() and found and found[0][0].id == "x0"  # answered from the live generation
    assert reader.generation != first and reader.search("أمطار جدة", mode="lexical")[0].id == "x1"
    closing = threading.Thread(target=reader.close)
    closing.start()
    closing.join(60)
    assert not closing.is_alive()
    with pytest.raises(ArchiveClosedError):
        reader.search("معرض الكتاب")

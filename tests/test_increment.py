"""Incremental writes cost what they change, fold duplicates across increments, and load no code."""

from __future__ import annotations

import hashlib
import io
import json
import pickle
from pathlib import Path

import pytest
from whoosh.filedb.structfile import StructFile

from archive import Archive, BuildReport, Document, IndexFormatError
from archive.encoders.hashing import HashingEncoder
from archive.increment import plan_changes
from archive.layout import current_generation
from archive.manifest import FORMAT_VERSION
from archive.safe_pickle import UnsafeIndexError, loads


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
    report = BuildReport()
    changed_c = Document(id="c", body="نص جديد تماما")
    plan = plan_changes(entries, [changed_c], ["a"], report)
    assert (report.added, report.updated, report.deleted, report.unchanged) == (0, 1, 1, 0)
    assert plan.unindex == {"a", "c"} and plan.index == ["b", "c"]  # b promoted, c re-indexed
    assert plan.canonical == {"b": None} and plan.store_delete == {"a", "c"}


def test_a_large_change_rewrites_whole_and_a_small_one_does_not(tmp_path: Path) -> None:
    docs = _many(100)
    root = tmp_path / "index"
    Archive.build(docs, root, encoder=None, procs=1).close()
    segments = {p.stat().st_ino for p in (current_generation(root) / "lexical").glob("*.pst")}
    small = BuildReport()
    Archive.build(docs[:95], root, encoder=None, procs=1, report=small).close()
    assert small.deleted == 5 and small.unchanged == 95
    assert segments & {p.stat().st_ino for p in (current_generation(root) / "lexical").glob("*.pst")}
    large = BuildReport()
    Archive.build(docs[:40], root, encoder=None, procs=1, report=large).close()
    assert large.deleted == 55 and large.unchanged == 40
    assert not segments & {p.stat().st_ino for p in (current_generation(root) / "lexical").glob("*.pst")}
    assert len(Archive.open(root)) == 40


def _replace_toc_schema(toc: Path, payload: bytes) -> None:
    """Swap the pickled schema inside a Whoosh TOC file for ``payload``."""
    data = toc.read_bytes()
    stream = StructFile(io.BytesIO(data))
    for _ in range(3):
        stream.read_varint()  # int, long and float sizes
    stream.read_int()  # -12345
    stream.read_int()  # TOC version
    for _ in range(3):
        stream.read_varint()  # release
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


def _reseal(path: Path) -> None:
    """Record the current size and checksum of ``path`` (a file of the live generation) in its manifest."""
    from archive.integrity import CHECKSUM, checksum

    generation = next(p for p in path.parents if (p / "manifest.json").is_file())
    manifest = generation / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["files"][path.relative_to(generation).as_posix()] = {"size": path.stat().st_size, CHECKSUM: checksum(path)}
    manifest.write_text(json.dumps(data), encoding="utf-8")


class _Planted:
    """Unpickles as a call of ``exec``: what a tampered index file would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


def test_a_tampered_index_file_runs_no_code(tmp_path: Path, news: list[Document]) -> None:
    root = tmp_path / "index"
    Archive.build(news, root, encoder=None, procs=1).close()
    marker = tmp_path / "code-ran"
    (toc,) = (current_generation(root) / "lexical").glob("*.toc")
    _replace_toc_schema(toc, pickle.dumps(_Planted(marker), 2))
    _reseal(toc)  # an attacker who edits a file can edit the manifest's size and checksum too
    with pytest.raises(IndexFormatError, match=r"\.exec, which .* refusing to load it"):
        Archive.open(root).search("النفط")
    assert not marker.exists()
    with pytest.raises(UnsafeIndexError):
        loads(pickle.dumps(_Planted(marker)))
    assert not marker.exists()
    assert loads(pickle.dumps({"ids": {1, 2}, "t": (1.5, b"x")}, 2)) == {"ids": {1, 2}, "t": (1.5, b"x")}


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
    assert report.written and report.added == len(news)
    assert len(Archive.open(root)) == len(news)


def test_a_reader_outlives_the_removal_of_its_generation(tmp_path: Path, news: list[Document]) -> None:
    root = tmp_path / "index"
    Archive.build(news, root, encoder=HashingEncoder(), procs=1).close()
    reader = Archive.open(root)
    assert reader.search("أوبك", mode="lexical")[0].id == "econ-1"
    first = current_generation(root)
    Archive.update(root, add=[Document(id="x1", body="افتتح معرض الكتاب الدولي في القاهرة")]).close()
    Archive.update(root, add=[Document(id="x2", body="ارتفعت أسعار الذهب في الأسواق العالمية")]).close()
    assert not first.exists()  # two commits later the reader's generation is gone
    for query, mode in [('"أسعار النفط" أوبك', "lexical"), ("أوبك", "hybrid"), ("الذهب", "lexical")]:
        assert reader.search(query, mode=mode), (query, mode)
    assert reader.search("الذهب", mode="lexical")[0].id == "x2"  # it moved to the live state
    reader.close()


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


def test_a_class_attribute_write_or_a_legacy_toc_is_refused(tmp_path: Path, news: list[Document]) -> None:
    import whoosh.index
    from whoosh.codec.whoosh3 import W3Codec

    # BUILD on an allowed class would set W3Codec.TERMS_EXT for the whole process
    state = pickle.dumps((None, {"TERMS_EXT": ".pwn"}), 2)[2:-1]  # the (None, {...}) tuple's opcodes
    tampered = b"\x80\x02cwhoosh.codec.whoosh3\nW3Codec\n" + state + b"b."
    before = W3Codec.TERMS_EXT
    with pytest.raises(UnsafeIndexError, match="sets attributes of a class"):
        loads(tampered)
    assert W3Codec.TERMS_EXT == before
    Archive.build(news, tmp_path / "index", encoder=None, procs=1).close()  # installs the guard
    assert whoosh.index.toc_loaders == {}  # legacy TOCs use an unrestricted unpickler: none accepted


def test_plain_posting_blocks_take_the_c_unpickler_and_names_still_the_guarded_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from archive import safe_pickle

    block = pickle.dumps((b"\x00\x01\x02ids", (1.0, 2.0), [b"v1", b"v2"]), 2)  # what whoosh3 writes per block
    assert b"_codecs" in block  # protocol 2 writes bytes through _codecs.encode
    calls = []
    guarded = safe_pickle._RestrictedUnpickler  # noqa: SLF001
    monkeypatch.setattr(safe_pickle, "_RestrictedUnpickler", lambda f: calls.append(f) or guarded(f))
    assert loads(block) == (b"\x00\x01\x02ids", (1.0, 2.0), [b"v1", b"v2"])
    assert calls == []  # read at C speed
    with pytest.raises(UnsafeIndexError):
        loads(pickle.dumps(_Planted(Path("/nonexistent/marker")), 2))
    assert len(calls) == 1  # a pickle naming a function goes to the guarded unpickler, which refuses it
    # the one name the fast path allows returns bytes: BUILD on them fails, it sets nothing
    tampered = b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x06\x00\x00\x00latin1\x86R}X\x01\x00\x00\x00xK\x01sb."
    with pytest.raises(AttributeError, match="'bytes' object has no attribute '__dict__'"):
        loads(tampered)


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
    assert report.written and report.added == len(news)
    assert Archive.open(root).search("أوبك", mode="lexical")[0].id == "econ-1"

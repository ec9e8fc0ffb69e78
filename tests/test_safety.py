"""No file in an index can make the program run code (issue 11, section 3).

Whoosh's table of contents holds a pickled schema and segment list, its other
files pickled posting blocks and stored fields. The schema now comes from the
code and is only compared with the stored one; every pickle still read has a
loader of its own, allowing only what that file holds. Each test plants what an
attacker would write and checks that no code ran: a module that would write a
marker when imported, or a call that would write one.
"""

from __future__ import annotations

import collections
import io
import json
import os
import pickle
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from whoosh.filedb.structfile import StructFile

from archive import Archive, Document, IndexFormatError
from archive.index.layout import current_generation
from archive.index.schema import make_schema
from archive.index.safe_pickle import UnsafeIndexError, load_job, load_segments, pickle_structure, plain_load, plain_loads

ROOT = Path(__file__).resolve().parents[1]
SEGMENT_FIELDS = frozenset(make_schema().names())


# ------------------------------------------------------------------ helpers
def _toc(lexical: Path) -> Path:
    (toc,) = lexical.glob("*.toc")
    return toc


def _split_toc(toc: Path) -> tuple[bytes, bytes, bytes, bytes]:
    """``(header, schema pickle, generation and unused ints, segment-list pickle)`` of a Whoosh TOC."""
    data = toc.read_bytes()
    stream = StructFile(io.BytesIO(data))
    for _ in range(3):
        stream.read_varint()  # int, long and float sizes
    stream.read_int()  # -12345
    stream.read_int()  # TOC version
    for _ in range(3):
        stream.read_varint()  # release
    header_end = stream.tell()
    schema = stream.read_string()
    ints_start = stream.tell()
    stream.read_int()
    stream.read_int()
    segments_start = stream.tell()
    return data[:header_end], schema, data[ints_start:segments_start], data[segments_start:]


def _write_toc(toc: Path, *, schema: bytes | None = None, segments: bytes | None = None) -> None:
    """Rewrite ``toc`` with another schema and/or segment-list pickle, as an attacker would."""
    header, old_schema, ints, old_segments = _split_toc(toc)
    out = io.BytesIO()
    writer = StructFile(out)
    writer.write(header)
    writer.write_string(old_schema if schema is None else schema)
    writer.write(ints)
    writer.write(old_segments if segments is None else segments)
    writer.flush()
    toc.write_bytes(out.getvalue())
    _reseal(toc.parent.parent)


def _reseal(generation: Path) -> None:
    """Record every file's size and checksum in the generation's manifest again: an attacker who
    can edit an index file can edit its manifest too, so the loaders must hold on their own."""
    from archive.index.integrity import file_table

    manifest = generation / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["files"] = file_table(generation)
    manifest.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _segments(toc: Path) -> list:
    return load_segments(io.BytesIO(_split_toc(toc)[3]), "MAIN", SEGMENT_FIELDS)


class _Call:
    """Unpickles as ``func(*args)``: the classic pickle gadget."""

    def __init__(self, func: object, *args: object) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (self.func, self.args)


def _gadgets(marker: Path) -> dict[str, bytes]:
    """Pickles that write ``marker`` when loaded by a plain ``pickle.loads``."""
    touch = f"open({str(marker)!r}, 'w').close()"
    return {
        "os.system": pickle.dumps(_Call(os.system, f"touch {marker}"), 2),
        "builtins.eval": pickle.dumps(_Call(eval, touch), 2),
        "builtins.exec": pickle.dumps(_Call(exec, touch), 5),
        "subprocess.Popen": pickle.dumps(_Call(subprocess.Popen, ["touch", str(marker)]), 2),
    }


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "archive", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


# ------------------------------------------------------------------ the reported bypass
@pytest.mark.slow
def test_a_toc_schema_whose_column_imports_a_module_is_refused_and_build_full_recovers(tmp_path: Path, news: list[Document]) -> None:
    from whoosh.columns import CompressedBytesColumn

    work = tmp_path / "work"
    work.mkdir()
    marker = tmp_path / "code-ran"
    (work / "pwnmod.py").write_text(f"open({str(marker)!r}, 'w').close()\ndecompress = compress = None\n")
    sources = tmp_path / "news.jsonl"
    sources.write_text("".join(
        json.dumps({"id": d.id, "title": d.title, "body": d.body, "date": d.published.date().isoformat(),
                    "source": d.source, "category": d.category}, ensure_ascii=False) + "\n"
        for d in news
    ), encoding="utf-8")
    index = tmp_path / "index"
    built = _cli("build", str(sources), "--index", str(index), "--encoder", "none", "--procs", "1", cwd=work)
    assert built.returncode == 0, built.stderr
    # The attacker's TOC: the code's schema, with the date column read through an import of "pwnmod".
    schema = make_schema()
    schema["published"].column_type = CompressedBytesColumn(module="pwnmod")
    toc = _toc(current_generation(index) / "lexical")
    _write_toc(toc, schema=pickle.dumps(schema, 2))
    article = tmp_path / "new.jsonl"
    article.write_text(json.dumps({"id": "book-1", "title": "معرض الكتاب", "date": "2024-11-02",
                                   "body": "افتتح معرض الكتاب الدولي أبوابه أمام الزوار في القاهرة"}, ensure_ascii=False) + "\n",
                       encoding="utf-8")

    added = _cli("add", str(article), "--index", str(index), "--procs", "1", cwd=work)
    assert not marker.exists(), "the index ran code"
    assert added.returncode == 1, added.stdout + added.stderr
    (line,) = added.stderr.strip().splitlines()  # one line, no traceback
    assert line.startswith(f"error: {toc}: ") and "schema other than the archive's" in line
    assert line.endswith("Fix: archive build --full")
    searched = _cli("search", "النفط", "--mode", "lexical", "--index", str(index), cwd=work)
    assert searched.returncode == 1 and str(toc) in searched.stderr and not marker.exists()

    rebuilt = _cli("build", str(sources), "--index", str(index), "--encoder", "none", "--procs", "1", "--full", cwd=work)
    assert rebuilt.returncode == 0, rebuilt.stderr
    added = _cli("add", str(article), "--index", str(index), "--procs", "1", cwd=work)
    assert added.returncode == 0, added.stderr
    assert not marker.exists()
    with Archive.open(index) as archive:
        assert [h.id for h in archive.search("معرض الكتاب", mode="lexical")] == ["book-1"]
        assert len(archive) == len(news) + 1


def test_the_schema_is_compared_never_unpickled(tmp_path: Path, news: list[Document]) -> None:
    root = tmp_path / "index"
    Archive.build(news, root, encoder=None, procs=1).close()
    marker = tmp_path / "code-ran"
    toc = _toc(current_generation(root) / "lexical")
    for name, gadget in _gadgets(marker).items():
        _write_toc(toc, schema=gadget)
        with pytest.raises(IndexFormatError, match=rf"{toc}: .*schema other than the archive's.*build --full"):
            Archive.open(root).search("النفط", mode="lexical")
        assert not marker.exists(), name
    # a schema with a field the code does not have (or lacks one) is refused the same way
    schema = make_schema()
    schema.remove("category")
    _write_toc(toc, schema=pickle.dumps(schema, 2))
    with pytest.raises(IndexFormatError, match="schema other than the archive's"):
        Archive.open(root)
    # the code's schema, pickled with another memo layout (Whoosh re-pickles it on every commit), is accepted
    _write_toc(toc, schema=pickle.dumps(pickle.loads(pickle.dumps(make_schema(), 2)), 2))
    with Archive.open(root) as archive:
        assert archive.search("أوبك", mode="lexical")[0].id == "econ-1"


def test_the_structure_reader_builds_nothing() -> None:
    tree = pickle_structure(pickle.dumps(_Call(os.system, "touch /nonexistent"), 2))
    assert tree == ["REDUCE", ("global", "posix", "system"), ("touch /nonexistent",)]
    assert pickle_structure(pickle.dumps({"a": [1, 2.5, b"x"], "b": (None, True)}, 5)) == \
        ["dict", "a", ["list", 1, 2.5, b"x"], "b", (None, True)]
    with pytest.raises(UnsafeIndexError):
        pickle_structure(b"\x80\x02K\x01Q.")  # BINPERSID: an outside object


# ------------------------------------------------------------------ the segment list
def test_the_segment_list_allows_only_segments_as_the_archive_writes_them(tmp_path: Path, news: list[Document]) -> None:
    from whoosh.codec.whoosh3 import W3Codec, W3Segment

    root = tmp_path / "index"
    Archive.build(news, root, encoder=None, procs=1).close()
    toc = _toc(current_generation(root) / "lexical")
    (segment,) = _segments(toc)
    original = pickle.dumps([segment], 5)

    def tampered(**attrs: object) -> bytes:
        seg = pickle.loads(original)[0]
        vars(seg).update(attrs)
        return pickle.dumps([seg], 5)

    codec = W3Codec()
    codec.TERMS_EXT = "/../../../etc/passwd"  # an instance attribute shadowing a file extension
    cases = {
        "an attribute shadowing a method": tampered(codec=W3Codec()),
        "a segment id naming another directory": tampered(segid="../../elsewhere"),
        "a compound flag that is not a flag": tampered(compound=W3Codec()),
        "a codec with an extra attribute": tampered(_codec=codec),
        "another index name": tampered(indexname="OTHER"),
        "a document count that is not a count": tampered(_doccount=-1),
        "deleted documents that are not numbers": tampered(_deleted={"x"}),
        "field lengths of fields the code does not have": tampered(
            _fieldlengths=collections.defaultdict(int, {"evil": 1})),
        "a defaultdict calling a class": tampered(_fieldlengths=collections.defaultdict(W3Segment)),
        "a defaultdict calling a codec": tampered(_fieldlengths=collections.defaultdict(W3Codec)),
        "a set of segments": pickle.dumps({pickle.loads(original)[0]}, 5),
    }
    for what, payload in cases.items():
        with pytest.raises(UnsafeIndexError):
            load_segments(io.BytesIO(payload), "MAIN", SEGMENT_FIELDS)
        _write_toc(toc, segments=payload)
        with pytest.raises(IndexFormatError, match=rf"{toc}: the segment list"):
            Archive.open(root)
    _write_toc(toc, segments=original)
    with Archive.open(root) as archive:
        assert archive.search("أوبك", mode="lexical")[0].id == "econ-1"


def test_the_segment_list_loader_resolves_no_other_name_and_sets_no_class_attribute(tmp_path: Path) -> None:
    from whoosh.codec.whoosh3 import W3Codec, W3Segment

    marker = tmp_path / "code-ran"
    for name, gadget in _gadgets(marker).items():
        with pytest.raises(UnsafeIndexError, match="refers to"):
            load_segments(io.BytesIO(gadget), "MAIN", SEGMENT_FIELDS)
        assert not marker.exists(), name
    from whoosh.columns import CompressedBytesColumn

    with pytest.raises(UnsafeIndexError, match="whoosh.columns.CompressedBytesColumn"):
        load_segments(io.BytesIO(pickle.dumps([CompressedBytesColumn(module="pwnmod")], 2)), "MAIN", SEGMENT_FIELDS)
    # BUILD with a (None, {...}) state on an allowed class would set it for the whole process
    for cls, attr in ((W3Codec, "TERMS_EXT"), (W3Segment, "codec")):
        state = pickle.dumps((None, {attr: ".pwn"}), 2)[2:-1]  # the tuple's opcodes
        tampered = b"\x80\x02cwhoosh.codec.whoosh3\n" + cls.__name__.encode() + b"\n" + state + b"b."
        before = getattr(cls, attr)
        with pytest.raises(UnsafeIndexError, match="sets attributes of a class"):
            load_segments(io.BytesIO(tampered), "MAIN", SEGMENT_FIELDS)
        assert getattr(cls, attr) is before
    # protocol 2 bytes go through _codecs.encode: only as latin-1, never a codec looked up by name
    rot = b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00rot13\x86R."
    for loader in (lambda data: load_segments(io.BytesIO(data), "MAIN", SEGMENT_FIELDS), plain_loads):
        with pytest.raises(UnsafeIndexError, match="'rot13'"):
            loader(rot)


# ------------------------------------------------------------------ the other pickles
def test_posting_blocks_and_stored_fields_are_plain_values_only(tmp_path: Path) -> None:
    from whoosh.fields import TEXT

    block = (b"\x00\x01\x02ids", (1.0, 2.0), [b"v1", b"v2"], {"id": "econ-1"}, {3, 4})  # what Whoosh writes
    for protocol in (2, 5):
        assert plain_loads(pickle.dumps(block, protocol)) == block
        assert plain_load(io.BytesIO(pickle.dumps(block, protocol))) == block
    marker = tmp_path / "code-ran"
    payloads = {**_gadgets(marker), "a Whoosh class": pickle.dumps(TEXT(), 2),
                "a date": pickle.dumps(datetime(2024, 1, 1), 2)}
    for name, payload in payloads.items():
        with pytest.raises(UnsafeIndexError, match="plain values only"):
            plain_loads(payload)
        with pytest.raises(UnsafeIndexError, match="plain values only"):
            plain_load(io.BytesIO(payload))
        assert not marker.exists(), name


def test_a_writer_reads_back_its_sorted_runs(tmp_path: Path, news: list[Document], monkeypatch: pytest.MonkeyPatch) -> None:
    """A build larger than the writer's memory spills sorted postings to run files and merges them back."""
    import whoosh.externalsort

    from archive.index.lexical import make_schema, open_whoosh

    run = ("id", b"econ-1", 3, 1.0, b"")  # an ID posting: protocol 2 pickles its empty value as bytes()
    assert plain_loads(pickle.dumps(run, 2)) == run
    with pytest.raises(UnsafeIndexError, match="builds bytes from 1 arguments"):
        plain_loads(b"\x80\x02c__builtin__\nbytes\nJ\x00\xca\x9a;\x85R.")  # bytes(10**9): a gigabyte
    runs: list[object] = []
    monkeypatch.setattr(whoosh.externalsort, "load", lambda f: runs.append(1) or plain_load(f))
    from whoosh import index as whoosh_index

    directory = tmp_path / "lexical"
    directory.mkdir()
    writer = whoosh_index.create_in(str(directory), make_schema()).writer(limitmb=0.0005, compound=False)
    for i, doc in enumerate(news * 20):
        writer.add_document(id=f"{doc.id}-{i}", title=doc.title, body=doc.body, source=doc.source)
    writer.commit()
    assert runs  # the runs were read, through the plain loader
    with open_whoosh(directory).searcher() as searcher:
        assert searcher.doc_count() == len(news) * 20


def test_a_stored_field_written_as_a_gadget_runs_nothing(tmp_path: Path, news: list[Document]) -> None:
    from archive.index.lexical import open_whoosh

    root = tmp_path / "index"
    Archive.build(news, root, encoder=None, procs=1).close()
    marker = tmp_path / "code-ran"
    # Whoosh itself pickles the stored value into the segment's _stored column, as an attacker's copy would
    writer = open_whoosh(current_generation(root) / "lexical").writer(compound=False)
    writer.delete_by_term("id", "sport-1")  # the document count stays what the term index says
    writer.add_document(id="planted", _stored_id=_Call(os.system, f"touch {marker}"), source="bbc",
                        title="أسعار النفط", body="ارتفعت أسعار النفط")
    writer.commit()
    _reseal(current_generation(root))
    with Archive.open(root) as archive, pytest.raises(UnsafeIndexError, match="posix.system where it holds plain values"):
        archive.search('"أسعار النفط"', mode="lexical", k=10)  # a phrase's matches are mapped by their stored ids
    assert not marker.exists()


def test_every_pickle_whoosh_reads_goes_through_a_narrow_loader(tmp_path: Path, news: list[Document]) -> None:
    import whoosh.codec.whoosh3
    import whoosh.columns
    import whoosh.externalsort
    import whoosh.filedb.structfile
    import whoosh.formats
    import whoosh.index
    import whoosh.multiproc

    Archive.build(news, tmp_path / "index", encoder=None, procs=1).close()  # the guard is installed
    assert whoosh.codec.whoosh3.loads is plain_loads  # posting blocks, inlined term infos
    assert whoosh.formats.loads is plain_loads  # position and character codes
    assert whoosh.columns.loads is plain_loads  # stored fields
    assert whoosh.filedb.structfile.load_pickle is plain_load  # block headers, hash-table extras, compound dirs
    assert whoosh.externalsort.load is plain_load  # the writer's sorted runs
    assert whoosh.multiproc.pickle.load is load_job  # the multiprocessing writer's job files
    assert whoosh.index.toc_loaders == {}  # old TOC formats: read with an unpickler that resolves any name
    marker = tmp_path / "code-ran"
    with pytest.raises(UnsafeIndexError):
        whoosh.index.pickle.loads(_gadgets(marker)["os.system"])  # Whoosh's own schema unpickling refuses
    assert not marker.exists()


def test_job_files_hold_fields_and_dates_only(tmp_path: Path) -> None:
    job = (0, {"id": "a", "title": "عنوان", "published": datetime(2024, 3, 1, 12, 0)})
    assert load_job(io.BytesIO(pickle.dumps(job, 2))) == job
    marker = tmp_path / "code-ran"
    for name, gadget in _gadgets(marker).items():
        with pytest.raises(UnsafeIndexError, match="job file"):
            load_job(io.BytesIO(gadget))
        assert not marker.exists(), name
    state = pickle.dumps((None, {"max": 1}), 2)[2:-1]
    with pytest.raises(TypeError):  # BUILD on the datetime class: a built-in type takes no attributes
        load_job(io.BytesIO(b"\x80\x02cdatetime\ndatetime\n" + state + b"b."))


def test_a_multiprocess_build_reads_its_jobs_through_the_guard(tmp_path: Path, news: list[Document]) -> None:
    from dataclasses import replace

    root = tmp_path / "index"
    docs = [replace(doc, id=f"{doc.id}-{i}", body=f"{doc.body} ({i})") for i in range(3) for doc in news]
    Archive.build(docs, root, encoder=None, procs=2).close()  # sub-writers open the TOC without a schema
    with Archive.open(root) as archive:  # every document, dates included, went through a job file
        assert len(archive) == len(docs)
        assert {h.id for h in archive.search("أوبك", mode="lexical", since=datetime(2024, 4, 1), fold=False)} == \
            {"econ-1-0", "econ-1-1", "econ-1-2"}


_SPAWNED_BUILD = """
import multiprocessing, sys
from datetime import datetime, timezone
from pathlib import Path

def audit(event, args):  # runs in the sub-writers too: spawn imports this script there
    if event == "pickle.find_class" and args[0] in ("whoosh.fields", "archive.index.lexical"):
        print(f"unguarded unpickling of {args[0]}.{args[1]}", file=sys.stderr)  # only Python's own find_class audits

sys.addaudithook(audit)

class Tagged(str):
    \"\"\"An id whose pickle names this script's class: a guarded sub-writer refuses to load it (the id
    reaches Whoosh's job files as given; the title and body go as the terms the write analyzed).\"\"\"

if __name__ == "__main__":
    multiprocessing.set_start_method("spawn", force=True)
    from archive import Archive, Document
    docs = [Document(id=Tagged(f"d{i}") if sys.argv[2] == "tagged" else f"d{i}", title="عنوان",
                     body=f"خبر رقم {i} عن أسعار النفط", published=datetime(2024, 1, 1 + i, tzinfo=timezone.utc)) for i in range(12)]
    Archive.build(docs, Path(sys.argv[1]), encoder=None, procs=2).close()
    print(len(Archive.open(Path(sys.argv[1]))))
"""


@pytest.mark.slow
def test_sub_writers_started_as_fresh_interpreters_are_guarded_too(tmp_path: Path) -> None:
    import whoosh.multiproc

    from archive.index.whoosh_files import GuardedSubWriterTask

    assert whoosh.multiproc.SubWriterTask is GuardedSubWriterTask
    script = tmp_path / "spawned_build.py"
    script.write_text(_SPAWNED_BUILD, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run(kind: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(script), str(tmp_path / kind), kind], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)

    plain = run("plain")
    assert plain.returncode == 0 and plain.stdout.split() == ["12"], plain.stderr
    assert "unguarded" not in plain.stderr  # the sub-writers read the TOC without unpickling its schema
    tagged = run("tagged")  # a job naming a class outside the allow-list: refused in the spawned sub-writer
    assert "UnsafeIndexError" in tagged.stderr and "refers to __main__.Tagged" in tagged.stderr, tagged.stderr


_AUDITED_LIFECYCLE = """
import sys
from datetime import datetime, timezone
from pathlib import Path

names = []
sys.addaudithook(lambda event, args: names.append(args[:2]) if event == "pickle.find_class" else None)

from archive import Archive, Document

root = Path(sys.argv[1])
day = lambda d: datetime(2024, 1, d, tzinfo=timezone.utc)
docs = [Document(id=f"d{i}", title=f"خبر {i}", body=f"ارتفعت أسعار النفط في اليوم {i}", source="BBC",
                 published=day(1 + i)) for i in range(8)]
Archive.build(docs, root, encoder=None, procs=1).close()
Archive.update(root, add=[Document(id="x", body="افتتح معرض الكتاب", published=day(20))], delete=["d3"]).close()
with Archive.open(root) as archive:
    for query in ['"أسعار النفط"', "النفط -معرض", "نف*", "title:خبر", "النفط"]:
        archive.search(query, mode="lexical", k=5)
        archive.search(query, mode="lexical", k=5, source="BBC", since=day(2))
    assert archive.get("x").body
print(len(names), sorted(set(names)))
"""


@pytest.mark.slow
def test_no_pickle_read_of_an_index_resolves_a_name_outside_the_narrow_loaders(tmp_path: Path) -> None:
    """Python's own ``find_class`` (audited as ``pickle.find_class``) never runs in a build, update or search."""
    script = tmp_path / "audited.py"
    script.write_text(_AUDITED_LIFECYCLE, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "index")], cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "[]"]

"""What a build, add, delete, --prune and --dry-run do to an existing archive: nothing is lost
that the user did not ask to remove."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archive import Archive, BuildReport, Document
from archive.cli import app
from archive.errors import NothingToIndexError
from archive.files.readers import read_documents
from archive.index.layout import POINTER, current_generation
from archive.writes import SourcesRecoveredWarning

runner = CliRunner()

TOPICS = [
    ("الهلال يفوز على النصر", "حقق فريق الهلال فوزا ثمينا على النصر في ديربي الرياض"),
    ("ارتفاع أسعار النفط", "ارتفعت أسعار النفط بعد قرار أوبك خفض الإنتاج"),
    ("هجوم قرب خاركيف", "أعلن الجيش الأوكراني صد هجوم روسي قرب مدينة خاركيف"),
    ("صاروخ كوري شمالي", "أطلقت كوريا الشمالية صاروخا باليستيا باتجاه بحر اليابان"),
    ("موجة حر شديدة", "حذرت منظمة الصحة العالمية من موجة حر تضرب دولا عربية"),
]


def _write_articles(folder: Path, prefix: str, n: int) -> Path:
    """``n`` distinct short articles ``{prefix}00.txt``... (bodies differ between prefixes too)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        title, body = TOPICS[i % len(TOPICS)]
        text = f"{title} {i}\n{body} في التقرير {prefix} رقم {i}.\n"
        (folder / f"{prefix}{i:02d}.txt").write_text(text, encoding="utf-8")
    return folder


def _cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture()
def twenty(tmp_path: Path) -> tuple[Path, Path]:
    """A 20-article archive built from one folder of .txt articles: (source folder, index)."""
    src = _write_articles(tmp_path / "src", "a", 20)
    index = tmp_path / "index"
    code, out = _cli("build", str(src), "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code == 0, out
    return src, index


def _state(index: Path) -> tuple[str, int]:
    with Archive.open(index) as archive:
        return (index / POINTER).read_text(), len(archive)


@pytest.mark.parametrize("kind", ["unreadable", "empty-folder", "fifo", "binary"])
def test_a_build_that_reads_no_article_fails_and_changes_nothing(tmp_path: Path, twenty, kind: str) -> None:
    _, index = twenty
    before = _state(index)
    bad = tmp_path / "bad"
    bad.mkdir()
    if kind == "unreadable":
        target = bad / "ls.txt"
        target.write_text("خبر\nنص", encoding="utf-8")
        target.chmod(0)
        if os.access(target, os.R_OK):  # root reads anything: make it unreadable another way
            target.chmod(0o644)
            target.write_bytes(b"")
    elif kind == "empty-folder":
        target = bad
    elif kind == "fifo":
        target = bad / "pipe.txt"
        os.mkfifo(target)
    else:
        target = bad / "photo.jpg"
        target.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" * 10)
    code, out = _cli("build", str(target), "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code == 1, out
    if kind == "fifo":  # named as what it is, never opened
        assert "named pipe (FIFO)" in out
    else:
        assert "read no article" in out and "left as it was" in out
    assert _state(index) == before


def test_the_library_refuses_an_empty_build(tmp_path: Path, news: list[Document]) -> None:
    Archive.build(news, tmp_path / "index", encoder=None, procs=1).close()
    with pytest.raises(NothingToIndexError, match="read no article"):
        Archive.build([], tmp_path / "index", encoder=None)
    assert len(Archive.open(tmp_path / "index")) == len(news)


@pytest.mark.slow
def test_build_after_add_keeps_the_added_articles_and_remembers_both_sources(tmp_path: Path, twenty) -> None:
    src, index = twenty
    more = _write_articles(tmp_path / "more", "m", 5)
    code, out = _cli("add", str(more), "--index", str(index), "--procs", "1")
    assert code == 0, out
    assert "read 5 articles: 5 added, 0 updated, 0 unchanged, 0 skipped; 0 deleted" in out, out
    # a build of the first folder alone must not drop what add brought in
    code, out = _cli("build", str(src), "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code == 0, out
    assert "0 deleted" in out and "kept 5 articles" in out, out
    assert _state(index)[1] == 25
    with Archive.open(index) as archive:
        assert archive.sources == [str(src.resolve()), str(more.resolve())]
        assert archive.search("كوريا الشمالية صاروخ", mode="lexical", k=25)
    # a plain `archive build` re-reads every remembered source: a new file in either is picked up
    (more / "m99.txt").write_text("معرض الكتاب\nافتتح معرض الكتاب الدولي في الرياض\n", encoding="utf-8")
    code, out = _cli("build", "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code == 0, out
    assert "1 added" in out and "kept" not in out, out
    with Archive.open(index) as archive:
        assert archive.search("معرض الكتاب", mode="lexical")[0].id == "m99"


def test_a_damaged_manifest_is_rebuilt_from_the_sources_the_backup_remembers(
    tmp_path: Path, twenty, news: list[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`archive check` names `archive build --full` for a damaged live manifest; with no SOURCES that
    build re-reads the archive's own folder (remembered by the previous generation, kept as the backup),
    with the archive's own encoder, and says where the sources came from. It fell back to seeds/."""
    src, index = twenty
    backup = current_generation(index)
    _write_articles(src, "b", 3)
    code, out = _cli("build", "--index", str(index), "--procs", "1")
    assert code == 0 and "3 added" in out, out
    live = current_generation(index)
    other = tmp_path / "other"
    Archive.build(news, other, encoder="none").close()
    code, out = _cli("export", "--index", str(other), "-o", str(tmp_path / "other.jsonl"))
    assert code == 0, out
    # what `archive export -i other -o index/GEN/manifest.json` wrote there before export refused it
    (live / "manifest.json").write_bytes((tmp_path / "other.jsonl").read_bytes())
    code, out = _cli("check", "--index", str(index))
    assert code == 1 and "manifest.json: unreadable" in out and "Fix: archive build --full" in out, out
    with pytest.warns(SourcesRecoveredWarning, match=backup.name):
        assert Archive.sources_of(index) == [str(src.resolve())]

    monkeypatch.chdir(tmp_path)  # no seeds/ folder here to fall back to
    code, out = _cli("build", "--index", str(index), "--full", "--procs", "1")
    assert code == 0, out
    assert f"{live / 'manifest.json'}: damaged; the sources of this archive were recovered from {backup.name}" in out
    with Archive.open(index) as archive:
        assert sorted(d.id for d in archive) == sorted([f"a{i:02d}" for i in range(20)] + ["b00", "b01", "b02"])
        assert archive.sources == [str(src.resolve())]
        assert archive.manifest.encoder is None  # lexical only, as it was built; not the default encoder
    code, out = _cli("check", "--index", str(index))
    assert code == 0, out


def test_a_damaged_manifest_without_a_backup_asks_for_the_sources(tmp_path: Path, twenty,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # One generation only: nothing remembers the sources, and seeds/ is not what the archive holds.
    src, index = twenty
    (current_generation(index) / "manifest.json").write_text("{", encoding="utf-8")
    monkeypatch.chdir(src.parent)
    Path("seeds").mkdir()
    _write_articles(Path("seeds"), "s", 2)
    code, out = _cli("build", "--index", str(index), "--full", "--procs", "1")
    assert code != 0 and "no generation kept beside it remembers its sources" in out, out
    assert "Fix: archive build SOURCES --full" in out
    code, out = _cli("build", str(src), "--index", str(index), "--full", "--encoder", "none", "--procs", "1")
    assert code == 0, out
    assert _state(index)[1] == 20


def test_an_article_goes_only_when_its_own_file_is_gone_and_the_build_says_so_first(tmp_path: Path, twenty) -> None:
    src, index = twenty
    (src / "a03.txt").unlink()
    (src / "a04.txt").unlink()
    code, out = _cli("build", "--dry-run", "--index", str(index))
    assert code == 0, out
    assert "nothing written" in out and "2 deleted" in out and "a03.txt (file gone)" in out, out
    assert _state(index)[1] == 20
    code, out = _cli("build", "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code == 0, out
    removing = out.index("removing 2 articles")
    assert removing < out.index("the archive holds"), out  # said before the commit's summary
    assert "a04.txt (file gone)" in out
    with Archive.open(index) as archive:
        assert len(archive) == 18 and "a03" not in archive and "a05" in archive


def test_a_missing_source_folder_deletes_nothing(tmp_path: Path, twenty) -> None:
    src, index = twenty
    more = _write_articles(tmp_path / "more", "m", 3)
    assert _cli("add", str(more), "--index", str(index))[0] == 0
    moved = tmp_path / "moved"
    more.rename(moved)  # an unmounted drive, a renamed folder
    code, out = _cli("build", "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code == 0, out
    assert "a source of this archive is gone; its articles are kept" in out
    assert _state(index)[1] == 23


def test_a_source_folder_found_empty_deletes_nothing_until_prune(tmp_path: Path, twenty) -> None:
    """An unmounted drive leaves its mount point behind, empty: every file under it looks gone, and
    a build deleted all of its articles."""
    src, index = twenty
    more = _write_articles(tmp_path / "more", "m", 3)
    assert _cli("add", str(more), "--index", str(index))[0] == 0
    for file in more.iterdir():
        file.unlink()
    (src / "a03.txt").unlink()  # a file gone from a folder that still gives articles: still deleted
    code, out = _cli("build", "--dry-run", "--index", str(index))
    assert code == 0 and "1 deleted" in out and "read no article there this time" in out, out
    code, out = _cli("build", "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code == 0, out
    assert f"{more.resolve()}: read no article there this time, but 3 article(s)" in out, out
    with Archive.open(index) as archive:
        assert len(archive) == 22 and "m01" in archive and "a03" not in archive
    code, out = _cli("build", "--prune", "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code == 0 and "removing 3 articles" in out, out
    with Archive.open(index) as archive:
        assert len(archive) == 19 and "m01" not in archive


def test_a_gone_source_nested_in_another_keeps_its_articles(tmp_path: Path) -> None:
    """A folder remembered on its own inside another remembered one, moved away: its files looked
    gone from the outer folder and were deleted, under a warning that said they were kept."""
    top = _write_articles(tmp_path / "top", "t", 3)
    sub = _write_articles(top / "sub", "s", 2)
    index = tmp_path / "index"
    assert _cli("build", str(top), "--index", str(index), "--encoder", "none", "--procs", "1")[0] == 0
    code, out = _cli("add", str(sub), "--index", str(index), "--procs", "1")
    assert code == 0, out
    code, out = _cli("build", "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code == 0 and "warning" not in out, out  # the inner folder is read once, without a loop warning
    sub.rename(tmp_path / "elsewhere")
    code, out = _cli("build", "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code == 0, out
    assert "removing" not in out and "a source of this archive is gone; its articles are kept" in out, out
    with Archive.open(index) as archive:
        assert len(archive) == 5 and "s01" in archive


def test_a_file_added_from_a_hidden_folder_inside_a_source_is_read_by_every_build(tmp_path: Path, twenty) -> None:
    """The walk of a source passes over hidden folders; a file the user added from one is still read
    (it was dropped as "inside a source", so its edits were ignored and --prune deleted it)."""
    src, index = twenty
    drafts = src / ".drafts"
    drafts.mkdir()
    draft = drafts / "d.txt"
    draft.write_text("مسودة\nافتتح معرض الكتاب الدولي في الرياض\n", encoding="utf-8")
    assert _cli("add", str(draft), "--index", str(index), "--procs", "1")[0] == 0
    draft.write_text("مسودة\nاختتم معرض الكتاب الدولي في الرياض بحضور كبير\n", encoding="utf-8")
    code, out = _cli("build", "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code == 0 and "1 updated" in out and "same file" not in out, out
    code, out = _cli("build", "--prune", "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code == 0 and "removing" not in out, out
    with Archive.open(index) as archive:
        assert archive.search("اختتم معرض الكتاب", mode="lexical")[0].id == "d"


def test_a_file_added_on_its_own_and_gone_is_kept_like_any_gone_source(tmp_path: Path, twenty) -> None:
    src, index = twenty
    extra = src / "later.txt"
    extra.write_text("معرض الكتاب\nافتتح معرض الكتاب الدولي في الرياض بمشاركة واسعة\n", encoding="utf-8")
    assert _cli("add", str(extra), "--index", str(index), "--procs", "1")[0] == 0
    code, out = _cli("build", "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code == 0 and "warning" not in out, out  # not "the same file, read once" on every build
    extra.unlink()
    code, out = _cli("build", "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code == 0 and "removing" not in out and "is gone; its articles are kept" in out, out
    assert _state(index)[1] == 21


def test_a_folder_link_to_a_gone_drive_keeps_its_articles(tmp_path: Path) -> None:
    """A folder gathering others by links (docs/input.md): when a link's target is gone (an unmounted
    drive), the folder could not be read, which is never a reason to delete."""
    gather = _write_articles(tmp_path / "gather", "g", 2)
    drive = _write_articles(tmp_path / "drive", "d", 3)
    (gather / "drive").symlink_to(drive, target_is_directory=True)
    index = tmp_path / "index"
    assert _cli("build", str(gather), "--index", str(index), "--encoder", "none", "--procs", "1")[0] == 0
    assert _state(index)[1] == 5
    drive.rename(tmp_path / "unmounted")
    (gather / "g01.txt").unlink()  # a file gone from the part that could be read: deleted
    code, out = _cli("build", "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code == 0, out
    assert "removing 1 article" in out and "g01.txt (file gone)" in out and "d00" not in out, out
    with Archive.open(index) as archive:
        assert len(archive) == 4 and {"d00", "d01", "d02"} <= {d.id for d in archive.documents()}


def test_a_remembered_source_that_links_to_nothing_is_skipped_not_fatal(tmp_path: Path) -> None:
    drive = _write_articles(tmp_path / "drive", "d", 2)
    other = _write_articles(tmp_path / "other", "o", 2)
    mount = tmp_path / "mnt"
    mount.symlink_to(drive, target_is_directory=True)
    index = tmp_path / "index"
    code, out = _cli("build", str(mount), str(other), "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code == 0, out
    assert _cli("delete", "o01", "--index", str(index))[0] == 0
    drive.rename(tmp_path / "unmounted")
    (other / "o02.txt").write_text("موجة حر\nحذرت الأرصاد من موجة حر شديدة في الخليج\n", encoding="utf-8")
    code, out = _cli("build", "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code == 0 and "1 added" in out and f"{mount}: a source of this archive is gone" in out, out
    code, out = _cli("restore", "o01", "--index", str(index))
    assert code == 0, out
    with Archive.open(index) as archive:
        assert {d.id for d in archive.documents()} == {"d00", "d01", "o00", "o01", "o02"}


def test_prune_without_sources_refuses_while_a_source_is_gone(tmp_path: Path, twenty) -> None:
    src, index = twenty
    more = _write_articles(tmp_path / "more", "m", 3)
    assert _cli("add", str(more), "--index", str(index))[0] == 0
    more.rename(tmp_path / "away")
    before = _state(index)
    code, out = _cli("build", "--prune", "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code != 0 and "--prune would remove its articles; nothing was changed" in out, out
    assert _state(index) == before
    code, out = _cli("build", str(src), "--prune", "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code == 0 and "removing 3 articles" in out, out  # naming the sources to keep is the way


def test_articles_moved_between_sources_raise_no_empty_folder_warning(tmp_path: Path) -> None:
    one = _write_articles(tmp_path / "one", "a", 3)
    two = _write_articles(tmp_path / "two", "b", 2)
    index = tmp_path / "index"
    assert _cli("build", str(one), str(two), "--index", str(index), "--encoder", "none", "--procs", "1")[0] == 0
    for file in one.iterdir():
        file.rename(two / file.name)
    code, out = _cli("build", "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code == 0 and "read no article there" not in out and "removing" not in out, out
    assert _state(index)[1] == 5


def test_a_drive_mounted_inside_a_source_found_empty_keeps_its_articles(tmp_path: Path, twenty) -> None:
    src, index = twenty
    drive = _write_articles(src / "drive", "d", 3)
    gone = _write_articles(src / "old", "o", 2)
    code, out = _cli("build", "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code == 0 and "5 added" in out, out
    for file in drive.iterdir():  # unmounted: the mount point stays, empty
        file.unlink()
    for file in gone.iterdir():  # removed with its folder (rm -r): deleted
        file.unlink()
    gone.rmdir()
    code, out = _cli("build", "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code == 0 and "removing 2 articles" in out and "d00" not in out.split("removing")[1], out
    assert f"{drive}: read no article there this time, but 3 article(s)" in out, out
    with Archive.open(index) as archive:
        assert len(archive) == 23 and "d02" in archive and "o01" not in archive


def test_a_folder_that_cannot_be_read_is_no_reason_to_delete(tmp_path: Path, twenty,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # root reads any folder, so a denied one is simulated where the planner asks about files in it
    src, index = twenty
    locked = _write_articles(src / "locked", "l", 2)
    assert _cli("build", "--index", str(index), "--encoder", "none", "--procs", "1")[0] == 0
    real_lstat = os.lstat

    def denied(path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        if str(path).startswith(str(locked)):
            raise PermissionError(13, "Permission denied", str(path))
        return real_lstat(path, *args, **kwargs)

    documents = [d for d in read_documents([str(src)]) if not d.id.startswith("l")]  # what the walk could read
    monkeypatch.setattr(os, "lstat", denied)
    report = Archive.plan(documents, index, sources=[src])
    assert report.deleted == 0 and report.kept == 2, report


def test_an_id_stored_with_a_space_by_an_earlier_version_is_replaced_by_its_clean_id(tmp_path: Path) -> None:
    """Readers now trim ids from file names; an archive holding the old id ("خبر ") got the article
    twice, the old one never updated again."""
    folder = tmp_path / "news"
    folder.mkdir()
    path = folder / "خبر .txt"
    path.write_text("ارتفاع أسعار النفط\nارتفعت أسعار النفط بعد قرار أوبك خفض الإنتاج\n", encoding="utf-8")
    (folder / "other.txt").write_text("موجة حر\nحذرت الأرصاد من موجة حر شديدة\n", encoding="utf-8")
    index = tmp_path / "index"
    [read] = [d for d in read_documents([str(folder)]) if d.id == "خبر"]
    old = Document.stored(id="خبر ", body=read.body, title=read.title, file=read.file)  # as stored before
    Archive.build([old, *(d for d in read_documents([str(folder)]) if d.id != "خبر")], index, encoder=None,
                  sources=[folder], procs=1).close()
    assert _state(index)[1] == 2
    path.write_text("ارتفاع أسعار النفط\nارتفعت أسعار النفط مجددا بعد قرار أوبك\n", encoding="utf-8")
    code, out = _cli("build", "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code == 0 and "its article is read now as 'خبر'" in out, out
    with Archive.open(index) as archive:
        assert sorted(d.id for d in archive.documents(duplicates=True)) == ["other", "خبر"]
        assert "مجددا" in archive.get("خبر").body


def test_restore_reads_the_sources_still_there(tmp_path: Path, twenty) -> None:
    src, index = twenty
    more = _write_articles(tmp_path / "more", "m", 3)
    assert _cli("add", str(more), "--index", str(index))[0] == 0
    assert _cli("delete", "a05", "--index", str(index))[0] == 0
    more.rename(tmp_path / "elsewhere")
    report = BuildReport()
    with Archive.restore(index, ["a05"], report=report) as archive:
        assert "a05" in archive and len(archive) == 23
        assert archive.search("التقرير a رقم 5", mode="lexical")[0].id == "a05"
    assert any(f"{more.resolve()}: a source of this archive is gone" in w for w in report.warnings), report.warnings


def test_an_update_that_adds_and_deletes_one_id_is_refused(tmp_path: Path, twenty) -> None:
    # It committed an index that check called damaged (the article both stored and deleted).
    from archive.errors import UsageError

    _, index = twenty
    before = _state(index)
    article = Document(id="a02", title="عنوان جديد", body="نص جديد عن معرض الكتاب في الرياض")
    with pytest.raises(UsageError, match="'a02': both added and deleted"):
        Archive.update(index, add=[article], delete=["a02"])
    assert _state(index) == before and Archive.check(index).healthy


@pytest.mark.slow
def test_prune_removes_what_the_sources_do_not_hold_and_forgets_other_sources(tmp_path: Path, twenty) -> None:
    src, index = twenty
    more = _write_articles(tmp_path / "more", "m", 3)
    assert _cli("add", str(more), "--index", str(index))[0] == 0
    code, out = _cli("build", str(more), "--prune", "--dry-run", "--index", str(index))
    assert code == 0 and "20 deleted" in out, out
    assert _state(index)[1] == 23
    code, out = _cli("build", str(more), "--prune", "--index", str(index), "--encoder", "none", "--procs", "1")
    assert code == 0, out
    assert "removing 20 articles" in out and "--prune" in out
    with Archive.open(index) as archive:
        assert len(archive) == 3 and archive.sources == [str(more.resolve())]


def test_a_half_written_generation_is_never_kept_as_the_backup(tmp_path: Path, news: list[Document]) -> None:
    root = tmp_path / "index"
    Archive.build(news, root, encoder=None, procs=1).close()
    good = current_generation(root).name
    Archive.build([*news, Document(id="x1", body="خبر جديد عن الانتخابات")], root, encoder=None, procs=1).close()
    live = current_generation(root).name
    # a build killed mid-way leaves a newer generation without a manifest
    leftover = root / "gen-99991231T235959-deadbeef"
    (leftover / "lexical").mkdir(parents=True)
    (leftover / "lexical" / "big.seg").write_bytes(b"\0" * 1000)
    (root / f".{POINTER}.0badc0de").write_text("gen-x\n")
    Archive.build([*news, Document(id="x2", body="خبر آخر عن الاقتصاد")], root, encoder=None, procs=1,
                  prune=True).close()
    generations = sorted(p.name for p in root.iterdir() if p.name.startswith("gen-"))
    assert generations == sorted([live, current_generation(root).name])  # the new live one and its predecessor
    assert good not in generations and not leftover.exists()
    assert not list(root.glob(f".{POINTER}.*"))


def test_a_failed_first_build_or_a_mistyped_index_leaves_nothing_behind(tmp_path: Path, news: list[Document]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out = _cli("build", str(empty), "--index", str(tmp_path / "new" / "index"))
    assert code == 1 and "read no article" in out
    assert not (tmp_path / "new").exists()
    code, out = _cli("add", str(empty), "--index", str(tmp_path / "typo"))
    assert code == 1 and not (tmp_path / "typo").exists()
    code, out = _cli("delete", "x", "--index", str(tmp_path / "typo2"))
    assert code == 1 and "no such directory" in out and not (tmp_path / "typo2").exists()

    class Boom(Exception):
        pass

    def failing():
        yield news[0]
        raise Boom

    folder = tmp_path / "index3"
    folder.mkdir()
    with pytest.raises(Boom):
        Archive.build(failing(), folder, encoder=None, procs=1)
    assert list(folder.iterdir()) == []  # the folder was the user's: it stays, empty, as it was


@pytest.mark.slow
def test_counts_are_true(tmp_path: Path, news: list[Document]) -> None:
    root = tmp_path / "index"
    copy = Document(id="econ-copy", body=news[1].body)
    Archive.build([*news, copy], root, encoder=None, procs=1).close()
    report = BuildReport()
    Archive.build([*news, copy], root, encoder=None, procs=1, full=True, report=report).close()
    assert report.written and (report.added, report.unchanged, report.folded) == (0, len(news) + 1, 0)
    report = BuildReport()
    Archive.update(root, add=[Document(id="n1", body="افتتح معرض الكتاب في القاهرة")], report=report).close()
    assert (report.read, report.added, report.unchanged, report.folded) == (1, 1, 0, 0)
    report = BuildReport()
    Archive.update(root, add=[Document(id="n2", body="افتتح معرض الكتاب في القاهرة")], report=report).close()
    assert (report.read, report.added, report.folded) == (1, 0, 1)  # a copy: stored, not indexed again
    one = tmp_path / "one"
    one.mkdir()
    (one / "x.txt").write_text("خبر\nنص خبر واحد فقط", encoding="utf-8")
    code, out = _cli("build", str(one), "--index", str(tmp_path / "i1"), "--encoder", "none")
    assert code == 0 and "the archive holds 1 article\n" in out, out


def test_sources_json_roundtrip_in_manifest(tmp_path: Path, twenty) -> None:
    src, index = twenty
    manifest = json.loads((current_generation(index) / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["sources"] == [str(src.resolve())]

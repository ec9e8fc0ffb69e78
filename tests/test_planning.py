"""One planner (issue 23): a write is planned once, its report's counts are the plan's, a dry run says
what the build writes, and the live index is read once per write."""

from __future__ import annotations

from pathlib import Path

import pytest

import archive.index.manifest as manifest_module
from archive import Archive, BuildReport, Document
from archive.writing.planning import Counts, plan_build, plan_update, read_live

TOPICS = ["النفط والغاز", "الانتخابات البرلمانية", "كرة القدم", "الزلزال والإغاثة", "الذكاء الاصطناعي"]


def _many(n: int) -> list[Document]:
    return [Document(id=f"n{i}", title=f"خبر {i} عن {TOPICS[i % 5]}",
                     body=f"تقرير رقم {i} يتناول {TOPICS[i % 5]} في المنطقة العربية وما يتبعه من تطورات يوم {i}.")
            for i in range(n)]


def _counts(report: BuildReport) -> tuple[int, ...]:
    return (report.read, report.added, report.updated, report.unchanged, report.deleted, report.kept,
            report.folded, report.tombstoned)


def test_a_new_copy_of_an_updated_article_is_counted_as_the_build_writes_it(tmp_path: Path) -> None:
    """A new article with the text of an article whose title changed, read before it: the increment keeps
    the indexed copy indexed and stores the new one as its copy; the dry run and the build say so alike."""
    docs = _many(20)
    root = tmp_path / "index"
    Archive.build(docs, root, encoder=None, procs=1).close()
    retitled = Document(id="n3", title="عنوان جديد للخبر", body=docs[3].body)
    twin = Document(id="twin", title="نسخة", body=docs[3].body)
    again = [*docs[:3], twin, retitled, *docs[4:]]
    planned = Archive.plan(again, root, encoder=None)
    report = BuildReport()
    with Archive.build(again, root, encoder=None, procs=1, report=report) as archive:
        assert archive.duplicate_of("twin") == "n3" and archive.get("n3").title == "عنوان جديد للخبر"
    assert _counts(report) == _counts(planned) == (21, 0, 1, 19, 0, 0, 1, 0)
    assert report.read == report.added + report.updated + report.unchanged + report.skipped_count


def test_the_plan_decides_whole_or_increment_and_counts_once(tmp_path: Path) -> None:
    docs = _many(40)
    root = tmp_path / "index"
    Archive.build(docs, root, encoder=None, procs=1).close()
    live = read_live(root, None)
    assert live is not None
    small = plan_build([*docs[:38], Document(id="new", title="جديد", body="نص جديد تماما عن الطقس")], live,
                       prune=True)
    assert not small.whole and small.increment is not None
    assert small.counts == Counts(added=1, unchanged=38, deleted=2, deletions=small.counts.deletions)
    assert sum(small.counts.deletions.values()) == 2
    large = plan_build(docs[:20], live, prune=True)  # half the archive goes: written whole
    assert large.whole and large.increment is None and large.counts.deleted == 20
    same = plan_build(docs, live)
    assert not same.whole and same.increment is None and same.counts == Counts(unchanged=40)
    full = plan_build(docs, live, full=True)
    assert full.whole
    update = plan_update(live, [docs[0]], ["n1"], tombstone=True)
    assert update.counts == Counts(unchanged=1, deleted=1) and update.tombstone == ["n1"]


def test_an_update_reads_the_live_manifest_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The write reads the live manifest once and hands the one it commits to the embedding pass
    (opening the result reads it once more)."""
    docs = _many(10)
    root = tmp_path / "index"
    Archive.build(docs, root, encoder="hashing", procs=1).close()
    reads: list[str] = []
    original = manifest_module.Manifest.read.__func__  # type: ignore[attr-defined]

    def counted(cls, generation: Path, *args: object, **kwargs: object) -> manifest_module.Manifest:  # noqa: ANN001
        reads.append(Path(generation).name)
        return original(cls, generation, *args, **kwargs)

    monkeypatch.setattr(manifest_module.Manifest, "read", classmethod(counted))
    new = Document(id="new", title="خبر جديد", body="تقرير جديد عن الطقس في المنطقة العربية " * 20)
    report = BuildReport()
    Archive.update(root, add=[new], report=report).close()
    assert report.written and report.added == 1
    before, after = reads[0], reads[-1]
    assert reads.count(before) == 1, reads  # the live generation: read once by the write
    assert reads.count(after) == 1, reads  # the new one: read once, by Archive.open
    assert len(reads) == 2, reads

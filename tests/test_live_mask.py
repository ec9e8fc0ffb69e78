"""Deletions as a live mask: a deleted article keeps its ordinal, is never found, and scores stay a fresh build's."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from archive import Archive, BuildReport, Document, IndexDamagedError, check_index
from archive.encoders.hashing import HashingEncoder
from archive.index.integrity import CHECKSUM, checksum
from archive.index.layout import current_generation
from archive.index.manifest import MANIFEST_NAME
from archive.index.terms import LIVE, TermIndex

WORDS = ["وزارة الصحة", "أمير منطقة الرياض", "ارتفاع أسعار النفط", "الهلال النصر", "مجلس الوزراء يوافق على",
         "التعليم المدارس الطلاب", "خادم الحرمين الشريفين", "المملكة العربية السعودية", "الأمطار السيول",
         "الاقتصاد", '"وزارة الصحة"', "الرياض AND جدة", "+المملكة -الرياض", "title:الرياض", "مكة NOT جدة"]


def _queries(docs: list[Document]) -> list[str]:
    """The hand-written queries, and the first words of some titles (real text, whatever it says)."""
    titles = [" ".join(d.title.split()[:3]) for d in docs[::4] if d.title.strip()]
    return WORDS + titles[:15]


def _scores(archive: Archive, query: str, mode: str = "lexical", **filters: object) -> list[tuple[str, float]]:
    return [(h.id, h.score) for h in archive.search(query, mode=mode, k=100, **filters)]


def _same_ranking(got: list[tuple[str, float]], expected: list[tuple[str, float]], query: str) -> None:
    assert [i for i, _ in got] == [i for i, _ in expected], query
    assert [s for _, s in got] == pytest.approx([s for _, s in expected], rel=1e-9, abs=1e-12), query


def _terms(root: Path) -> TermIndex:
    return TermIndex(current_generation(root) / "terms")


def _build(docs: list[Document], root: Path) -> Archive:
    return Archive.build(docs, root, encoder=HashingEncoder(), procs=1)


@pytest.mark.slow
def test_a_deleted_article_keeps_its_ordinal_and_is_never_found(tmp_path: Path, shared_news: list[Document]) -> None:
    root = tmp_path / "index"
    _build(shared_news, root).close()
    numbering = _terms(root).ids
    gone = shared_news[10]
    report = BuildReport()
    archive = Archive.update(root, delete=[gone.id], report=report)
    terms = _terms(root)
    # every article keeps its ordinal: the deleted one is only marked dead
    assert terms.ids == numbering and report.renumbered == 0
    assert not terms.live[10] and terms.live.sum() == len(shared_news) - 1
    assert archive._searcher.lexical.ordinal_of(gone.id) is None  # noqa: SLF001
    assert len(archive) == len(shared_news) - 1 == archive.manifest.documents
    own_words = " ".join(gone.title.split()[:6])
    for mode in ("lexical", "semantic", "hybrid"):
        hits = archive.search(own_words, mode=mode, k=100)
        assert hits and gone.id not in {h.id for h in hits}, mode
    assert archive.search(f"id:{gone.id}", mode="lexical").total == 0
    assert archive.facets("في من").total == len(shared_news) - 1  # no searchable word: every live article
    sources = {d.source for d in shared_news}
    assert sum(archive.facets("في من", source=sorted(sources)).sources.values()) == len(shared_news) - 1
    for other in shared_news[:20:3]:
        assert gone.id not in {h.id for h in archive.related(other.id, k=len(shared_news))}
    for query, filters in ((None, {}), (None, {"source": gone.source}), (own_words, {})):
        out = io.StringIO()
        archive.export(out, query, **filters)
        exported = {json.loads(line)["id"] for line in out.getvalue().splitlines()}
        assert exported and gone.id not in exported, (query, filters)
    assert check_index(root).healthy
    archive.close()


@pytest.mark.slow
def test_scores_after_deletes_equal_a_fresh_build(tmp_path: Path, shared_news: list[Document]) -> None:
    gone = {shared_news[i].id for i in (0, 7, 19, 33, 41, 58)}  # six of sixty: below the compaction share
    kept = [d for d in shared_news if d.id not in gone]
    _build(shared_news, tmp_path / "inc").close()
    incremental = Archive.update(tmp_path / "inc", delete=sorted(gone))
    full = _build(kept, tmp_path / "full")
    assert _terms(tmp_path / "inc").live is not None and len(incremental) == len(full)
    compared = 0
    for query in _queries(kept):
        expected = _scores(full, query)
        _same_ranking(_scores(incremental, query), expected, query)
        _same_ranking(_scores(incremental, query, source=kept[0].source), _scores(full, query, source=kept[0].source),
                      query)
        for mode in ("semantic", "hybrid"):
            _same_ranking(_scores(incremental, query, mode), _scores(full, query, mode), f"{mode}: {query}")
        ids = [d.id for d in kept]
        inc_grams = incremental._searcher.lexical.gram_scores(query, ids)  # noqa: SLF001
        assert inc_grams == pytest.approx(full._searcher.lexical.gram_scores(query, ids), rel=1e-9), query  # noqa: SLF001
        assert incremental.facets(query) == full.facets(query), query
        compared += len(expected)
    assert compared > 300
    incremental.close()
    full.close()


@pytest.mark.slow
def test_delete_then_add_the_same_id_and_update(tmp_path: Path, shared_news: list[Document]) -> None:
    root = tmp_path / "index"
    _build(shared_news[:50], root).close()
    back = shared_news[5]
    Archive.update(root, delete=[back.id]).close()
    archive = Archive.update(root, add=[back])
    terms = _terms(root)
    assert terms.ids[5] == terms.ids[50] == back.id and not terms.live[5] and terms.live[50]
    assert archive._searcher.lexical.ordinal_of(back.id) == 50  # noqa: SLF001 - its new ordinal only
    hits = archive.search(" ".join(back.title.split()[:6]), mode="lexical", k=100)
    assert [h.id for h in hits].count(back.id) == 1
    archive.close()
    changed = Document(id=shared_news[8].id, title="افتتاح معرض الكتاب الدولي",
                       body="افتتح أمير المنطقة معرض الكتاب الدولي بمشاركة مئات دور النشر العربية.")
    report = BuildReport()
    archive = Archive.update(root, add=[changed], report=report)
    terms = _terms(root)
    assert report.updated == 1 and terms.ids[51] == changed.id and not terms.live[8]  # old version dead
    assert archive.search("معرض الكتاب", mode="lexical")[0].id == changed.id
    old_words = " ".join(shared_news[8].title.split()[:6])
    assert changed.id not in {h.id for h in archive.search(old_words, mode="lexical", k=100)}
    assert archive.get(changed.id).title == changed.title
    # the same as a fresh build of the same articles, in the same order
    order = [*(d for d in shared_news[:50] if d.id not in (back.id, changed.id)), back, changed]
    full = _build(order, tmp_path / "full")
    for query in _queries(order):
        _same_ranking(_scores(archive, query), _scores(full, query), query)
    assert check_index(root).healthy
    archive.close()
    full.close()
    reopened = Archive.open(root)  # a new process's view: the mask is read back from disk
    assert reopened.search("معرض الكتاب", mode="hybrid")[0].id == changed.id
    assert len(reopened) == 50
    reopened.close()


@pytest.mark.slow
def test_compaction_past_a_fifth_renumbers_and_drops_the_mask(tmp_path: Path, shared_news: list[Document]) -> None:
    root = tmp_path / "index"
    _build(shared_news, root).close()
    first = [d.id for d in shared_news[:10]]  # 10 of 60: marked dead
    report = BuildReport()
    Archive.update(root, delete=first, report=report).close()
    assert report.renumbered == 0 and len(_terms(root).ids) == 60
    more = [d.id for d in shared_news[10:13]]  # 13 of 60 would be dead: renumbered without them
    report = BuildReport()
    archive = Archive.update(root, delete=more, report=report)
    terms = _terms(root)
    assert report.renumbered == 13 and terms.live is None and not (current_generation(root) / "terms" / LIVE).exists()
    assert terms.ids == [d.id for d in shared_news[13:]]
    full = _build(shared_news[13:], tmp_path / "full")
    for query in _queries(shared_news[13:]):
        _same_ranking(_scores(archive, query), _scores(full, query), query)
    assert check_index(root).healthy
    archive.close()
    full.close()


@pytest.mark.slow
def test_adding_articles_writes_what_a_fresh_build_writes(tmp_path: Path, shared_news: list[Document]) -> None:
    """New postings are merged into the posting lists in place of a sort: the same arrays, to the byte."""
    Archive.build(shared_news[:35], tmp_path / "inc", encoder=None, procs=1).close()
    Archive.update(tmp_path / "inc", add=shared_news[35:]).close()
    Archive.build(shared_news, tmp_path / "full", encoder=None, procs=1).close()
    inc, full = current_generation(tmp_path / "inc") / "terms", current_generation(tmp_path / "full") / "terms"
    assert sorted(p.name for p in inc.iterdir()) == sorted(p.name for p in full.iterdir())  # no live mask
    for path in sorted(full.glob("*.npy")):
        assert np.array_equal(np.load(inc / path.name), np.load(path)), path.name
    assert json.loads((inc / "terms.json").read_text()) == json.loads((full / "terms.json").read_text())
    for name in ("published", "source", "category", "author.indptr", "author.codes"):
        inc_columns, full_columns = inc.parent / "columns", full.parent / "columns"
        assert np.array_equal(np.load(inc_columns / f"{name}.npy"), np.load(full_columns / f"{name}.npy")), name


def test_a_delete_rewrites_only_the_mask_and_the_gram_frequencies(tmp_path: Path, shared_news: list[Document]) -> None:
    root = tmp_path / "index"
    Archive.build(shared_news, root, encoder=None, procs=1).close()
    before = current_generation(root)
    inodes = {p.name: p.stat().st_ino for p in (before / "terms").iterdir()}
    columns = {p.name: p.stat().st_ino for p in (before / "columns").iterdir()}
    Archive.update(root, delete=[shared_news[3].id]).close()
    after = current_generation(root)
    rewritten = {p.name for p in (after / "terms").iterdir() if inodes.get(p.name) != p.stat().st_ino}
    assert rewritten == {LIVE, "grams.df.npy"}
    assert all(p.stat().st_ino == columns[p.name] for p in (after / "columns").iterdir())


def _damage_live(root: Path, damage: str, *, keep_manifest_consistent: bool) -> Path:
    generation = current_generation(root)
    path = generation / "terms" / LIVE
    live = np.load(path)
    if damage == "length":
        np.save(path, live[:-1])
    elif damage == "dtype":
        np.save(path, live.astype(np.int8))  # the same size on disk: only a reader that checks it sees it
    else:  # truncated
        path.write_bytes(path.read_bytes()[:-7])
    if keep_manifest_consistent:
        manifest_path = generation / MANIFEST_NAME
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
        data["files"]["terms/live.npy"] = {"size": path.stat().st_size, CHECKSUM: checksum(path)}
        manifest_path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["length", "dtype", "truncated"])
@pytest.mark.parametrize("consistent", [False, True], ids=["as-found", "manifest-updated"])
def test_a_damaged_live_mask_is_named_with_its_fix(tmp_path: Path, shared_news: list[Document], damage: str,
                                                    consistent: bool) -> None:
    root = tmp_path / "index"
    Archive.build(shared_news[:20], root, encoder=None, procs=1).close()
    Archive.update(root, delete=[shared_news[2].id]).close()
    path = _damage_live(root, damage, keep_manifest_consistent=consistent)
    report = check_index(root)
    assert not report.healthy
    assert any("live.npy" in str(p) and "archive build --full" in str(p) for p in report.problems), report.problems
    if consistent or damage != "dtype":  # a same-size change is for check's checksums, not for opening
        with pytest.raises(IndexDamagedError, match=rf"{path.name}.*archive build --full"):
            Archive.open(root)
    Archive.build(shared_news[:20], root, encoder=None, procs=1, full=True).close()
    # the rebuild repairs the mask; the deleted article stays deleted (its tombstone outlives --full)
    with Archive.open(root) as archive:
        assert check_index(root).healthy and len(archive) == 19 and shared_news[2].id not in archive

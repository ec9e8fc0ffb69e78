"""Searchable at once, meaning added lead first: pending passages, checkpoints, resume, passage policy."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import archive.writing.building as building
import archive.writing.embedding as embedding
from archive import Archive, BuildReport, Document
from archive.errors import UsageError
from archive.cli import app
from archive.index.dense import DenseIndex
from archive.encoders.hashing import HashingEncoder
from archive.index.layout import current_generation
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]


_CITIES = ["الموصل", "حلب", "طرابلس", "صنعاء", "الخرطوم", "نواكشوط", "بنغازي", "تطوان", "صفاقس", "البصرة",
           "إربد", "الحديدة"]


def _long_articles(news: list[Document]) -> list[Document]:
    """Twelve reports of several passages each: a news article, then the others in turn, three times over."""
    out = []
    for i in range(12):
        lead = news[i % len(news)]
        parts = [lead.body, f"وكتب هذا التقرير مراسلنا في {_CITIES[i]}."]
        for turn in range(1, 4):
            order = news[(i + turn) % len(news):] + news[: (i + turn) % len(news)]
            parts.append(" ".join(d.body for d in order))
        out.append(Document(id=f"long-{i}", title=f"{lead.title}: تقرير مطول رقم {i + 1}", body="\n".join(parts),
                            source="report", published=lead.published))
    return out


@pytest.fixture()
def corpus(news: list[Document]) -> list[Document]:
    return [*news, *_long_articles(news)]


class Recording(HashingEncoder):
    """The hashing encoder, recording every passage it embeds; ``stop_after`` batches then Ctrl-C."""

    def __init__(self, stop_after: int | None = None, on_batch=None) -> None:  # noqa: ANN001
        self.seen: list[str] = []
        self.batches = 0
        self.stop_after = stop_after
        self.on_batch = on_batch

    def encode_passages(self, texts):  # noqa: ANN001, ANN201
        if self.stop_after is not None and self.batches >= self.stop_after:
            raise KeyboardInterrupt
        self.batches += 1
        if self.on_batch is not None:
            self.on_batch(self)
        self.seen.extend(texts)
        return super().encode_passages(texts)


def _interrupted_build(documents: list[Document], root: Path, *, stop_after: int) -> Recording:
    """Build with an encoder that is interrupted (Ctrl-C) after ``stop_after`` batches of passages;
    the encoder, which recorded what it embedded before."""
    stopped = Recording(stop_after=stop_after)
    with pytest.raises(KeyboardInterrupt):
        Archive.build(documents, root, encoder=stopped, procs=1)
    return stopped


@pytest.fixture()
def deferred(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every uncached passage is left for the lead-first stage, which commits after each small chunk."""
    monkeypatch.setattr(building, "EMBED_INLINE_MAX", 0)
    monkeypatch.setattr(embedding, "CHUNK", 8)
    monkeypatch.setattr(embedding, "CHECKPOINT_SECONDS", 0.0)


@pytest.fixture()
def after_the_words(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every uncached passage is left for the lead-first stage, in chunks of the default size, with no
    timed checkpoint: only the leads finishing, and the end, commit."""
    monkeypatch.setattr(building, "EMBED_INLINE_MAX", 0)
    monkeypatch.setattr(embedding, "CHECKPOINT_SECONDS", 1e9)


def _vectors_by_passage(root: Path) -> dict[tuple[str, int], np.ndarray]:
    dense = DenseIndex(current_generation(root) / "dense")
    vectors = dense.vectors()
    return {(dense.ids[o], int(s)): vectors[r]
            for r, (o, s) in enumerate(zip(dense.rows.doc.tolist(), dense.rows.start)) if o >= 0}


@pytest.mark.slow
def test_words_commit_first_and_passages_follow_lead_first(tmp_path: Path, corpus: list[Document], deferred) -> None:  # noqa: ANN001
    root = tmp_path / "index"
    states: list[tuple[int, int, int]] = []

    def look(encoder: Recording) -> None:
        with Archive.open(root) as live:  # what a reader sees while the build embeds
            hits = live.search("النفط", mode="lexical")
            assert hits and hits.total
            states.append((live.manifest.passages, live.manifest.pending, live.manifest.leads_pending))

    encoder = Recording(on_batch=look)
    report = BuildReport()
    archive = Archive.build(corpus, root, encoder=encoder, procs=1, report=report)
    # the first embedding call already found the words committed and nothing embedded
    assert states[0][0] == 0 and states[0][1] == report.passages
    # lead first: every article's first passage before any second passage
    dense = archive._searcher.dense  # noqa: SLF001
    first_passages = {f"{doc.title}\n{doc.body[s:e]}" for doc, s, e in _leads(archive, dense)}
    assert set(encoder.seen[: len(first_passages)]) == first_passages
    assert all(text not in first_passages for text in encoder.seen[len(first_passages):])
    # checkpoints: coverage grew commit by commit, and the last one holds every passage
    assert report.checkpoints >= 3 and [s[0] for s in states] == sorted(s[0] for s in states)
    assert archive.manifest.pending == 0 and archive.manifest.passages == len(dense) == report.passages
    assert report.embedded == len(set(encoder.seen)) and report.pending == 0
    assert archive.search("قوات كورية في كورسك").notice is None
    assert Archive.check(root).healthy
    archive.close()


def test_the_leads_commit_as_soon_as_they_are_embedded(tmp_path: Path, corpus: list[Document],
                                                      after_the_words) -> None:  # noqa: ANN001
    """With fewer passages than a chunk and no timed checkpoint, an interrupt after the leads (the first
    call asks for nothing else) still leaves them committed and searchable by meaning."""
    root = tmp_path / "index"
    stopped = _interrupted_build(corpus, root, stop_after=1)
    with Archive.open(root) as partial:
        manifest = partial.manifest
        assert manifest.leads > 0 and manifest.leads_pending == 0 and manifest.pending > 0
        assert manifest.passages == manifest.leads == len(stopped.seen)
        assert partial.search("قوات كورية في كورسك", mode="semantic")


def test_a_full_rewrite_from_the_cache_keeps_which_engine_made_the_vectors(tmp_path: Path,
                                                                            corpus: list[Document]) -> None:
    """``--full`` with the same encoder rewrites every store, the vectors all coming back from the
    embedding cache: the record of what made them stays, and nothing is embedded again."""
    root = tmp_path / "index"
    Archive.build(corpus, root, encoder=HashingEncoder(), procs=1).close()
    with Archive.open(root) as first:
        made_by = first.stats().engines
    assert made_by
    report = BuildReport()
    Archive.build(corpus, root, encoder=HashingEncoder(), procs=1, full=True, report=report).close()
    assert report.embedded == 0 and report.reused > 0
    with Archive.open(root) as rewritten:
        assert rewritten.stats().engines == made_by


def test_a_dry_run_counts_only_the_waiting_passages_the_cache_lacks(tmp_path: Path, corpus: list[Document],
                                                                     after_the_words) -> None:  # noqa: ANN001
    """After an interrupt, passages wait; those whose vectors the embedding cache already holds (a batch
    finished after the last checkpoint, or a Ray job's) cost nothing, and the dry run says so."""
    from archive.index.embcache import CACHE_NAME, EmbeddingCache
    from archive.writing.embedding import pending_texts

    root = tmp_path / "index"
    _interrupted_build(corpus, root, stop_after=1)  # the leads, then Ctrl-C
    waiting = list(dict.fromkeys(pending_texts(root)[0]))
    assert len(waiting) > 10
    before = Archive.plan(corpus, root, encoder=HashingEncoder()).estimate
    assert before is not None and before.passages == len(waiting)
    encoder = HashingEncoder()
    with EmbeddingCache(root / CACHE_NAME, encoder.name, encoder.dim) as cache:
        cache.put_many(waiting[:10], encoder.encode_passages(waiting[:10]))
    after = Archive.plan(corpus, root, encoder=HashingEncoder()).estimate
    assert after is not None and after.passages == len(waiting) - 10 and after.cached >= 10
    report = BuildReport()
    Archive.build(corpus, root, encoder=Recording(), procs=1, report=report).close()
    assert report.embedded == after.passages  # the estimate was the work done


def test_the_embedding_hands_an_encoder_calls_of_the_size_it_asks(tmp_path: Path, corpus: list[Document],
                                                                   after_the_words) -> None:  # noqa: ANN001
    """An encoder saying ``call_size`` (e5-small on numpy: 32) gets calls no larger, so a slow build's
    progress and its embedding cache move every few seconds; one saying nothing gets the default."""
    from archive.encoders.e5 import NUMPY_CALL, E5SmallEncoder
    from archive.index.embcache import BATCH

    class Sized(Recording):
        call_size = 5

        def __init__(self) -> None:
            super().__init__()
            self.sizes: list[int] = []

        def encode_passages(self, texts):  # noqa: ANN001, ANN201
            self.sizes.append(len(texts))
            return super().encode_passages(texts)

    encoder = Sized()
    steps: list[int] = []
    report = BuildReport()
    Archive.build(corpus, tmp_path / "index", encoder=encoder, procs=1, report=report,
                  progress=lambda stage, done, total: steps.append(done) if stage == "embed" else None).close()
    assert max(encoder.sizes) == 5 and sum(encoder.sizes) == report.embedded > 20
    assert len(set(steps)) > report.embedded // 5  # the bar moved with every call
    assert E5SmallEncoder(threads=1, engine="numpy").call_size == NUMPY_CALL < BATCH


def _leads(archive: Archive, dense: DenseIndex) -> list[tuple[Document, int, int]]:
    out = []
    for ordinal, start, end, rank in zip(dense.rows.doc, dense.rows.start, dense.rows.end, dense.rows.rank):
        if rank == 0:
            out.append((archive.get(dense.ids[ordinal]), int(start), int(end)))
    return out


@pytest.mark.slow
def test_interrupted_embedding_resumes_without_embedding_twice(tmp_path: Path, corpus: list[Document], deferred) -> None:  # noqa: ANN001
    root = tmp_path / "index"
    stopped = _interrupted_build(corpus, root, stop_after=3)
    with Archive.open(root) as partial:
        manifest = partial.manifest
        assert 0 < manifest.passages and manifest.pending > 0  # two checkpoints committed, the rest waits
        assert partial.search("النفط", mode="lexical")
        hybrid = partial.search("قوات كورية في كورسك")
        assert hybrid.notice and "archive embed" in hybrid.notice
        assert partial.stats().pending == manifest.pending
    assert Archive.check(root).healthy
    resumed = Recording()
    report = BuildReport()
    archive = Archive.build(corpus, root, encoder=resumed, procs=1, report=report)
    # the first three batches (embedded before the interrupt) come from the cache, none twice
    assert not set(resumed.seen) & set(stopped.seen)
    assert report.embedded == len(set(resumed.seen)) and report.added == 0
    whole = Archive.build(corpus, tmp_path / "whole", encoder=HashingEncoder(), procs=1)
    got, want = _vectors_by_passage(root), _vectors_by_passage(tmp_path / "whole")
    assert got.keys() == want.keys() and all(np.array_equal(got[k], want[k]) for k in want)
    query = "ارتفاع أسعار النفط"
    assert [(h.id, h.score) for h in archive.search(query)] == [(h.id, h.score) for h in whole.search(query)]
    archive.close()
    whole.close()


def test_an_article_without_vectors_can_top_a_hybrid_search(tmp_path: Path, corpus: list[Document], deferred) -> None:  # noqa: ANN001
    root = tmp_path / "index"
    _interrupted_build(corpus, root, stop_after=2)
    with Archive.open(root, encoder=HashingEncoder()) as partial:
        dense = partial._searcher.dense  # noqa: SLF001
        without = sorted(set(range(len(dense.ids))) - set(dense.rows.doc.tolist()))
        assert without, "the interrupt left articles with no vector"
        target = partial.get(dense.ids[without[-1]])
        query = f"مراسلنا في {_CITIES[int(target.id.split('-')[1])]}"
        lexical = partial.search(query, mode="lexical")
        assert lexical[0].id == target.id and lexical.notice is None
        hits = partial.search(query)
        assert hits[0].id == target.id
        assert hits.notice and "words only" in hits.notice


@pytest.mark.slow
def test_archive_embed_finishes_and_reports_coverage(tmp_path: Path, corpus: list[Document], deferred) -> None:  # noqa: ANN001
    root = tmp_path / "index"
    _interrupted_build(corpus, root, stop_after=2)
    runner = CliRunner()
    stats = json.loads(runner.invoke(app, ["stats", "--json", "--index", str(root)]).stdout)
    assert stats["pending"] > 0 and stats["leads_pending"] > 0 and stats["encoder"] == "hashing/1"
    shown = runner.invoke(app, ["stats", "--index", str(root)]).stdout
    assert "archive embed adds the rest" in shown
    result = runner.invoke(app, ["embed", "--index", str(root)])
    assert result.exit_code == 0, result.output
    assert "meaning: all" in result.stdout
    counts = re.search(r"passages: (\d+) \((\d+) embedded, (\d+) reused from the cache\) in \d+ commits?", result.stdout)
    assert counts and int(counts[1]) == int(counts[2]) + int(counts[3]) > 0, result.stdout
    stats = json.loads(runner.invoke(app, ["stats", "--json", "--index", str(root)]).stdout)
    assert stats["pending"] == 0 and stats["passages"] > 0
    done = current_generation(root)
    again = runner.invoke(app, ["embed", "--index", str(root)])
    assert again.exit_code == 0 and "meaning: all" in again.stdout
    assert current_generation(root) == done  # nothing left to embed: nothing written
    lexical = tmp_path / "lexical"
    Archive.build(corpus, lexical, encoder=None, procs=1).close()
    assert "lexical only" in runner.invoke(app, ["embed", "--index", str(lexical)]).stdout


@pytest.mark.slow
def test_add_to_a_partly_embedded_archive_keeps_its_pending_passages(
    tmp_path: Path, corpus: list[Document], deferred  # noqa: ANN001
) -> None:
    root = tmp_path / "index"
    _interrupted_build(corpus[:-3], root, stop_after=2)
    deleted = corpus[0].id
    Archive.update(root, add=corpus[-3:], delete=[deleted]).close()  # the archive's own (hashing) encoder
    with Archive.open(root) as archive:
        assert archive.manifest.pending == 0
        assert Archive.check(root).healthy
    whole = tmp_path / "whole"
    Archive.build([d for d in corpus if d.id != deleted], whole, encoder=HashingEncoder(), procs=1).close()
    got, want = _vectors_by_passage(root), _vectors_by_passage(whole)
    assert got.keys() == want.keys() and all(np.array_equal(got[k], want[k]) for k in want)


@pytest.mark.slow
def test_passage_policy_is_remembered_and_a_change_rewrites(tmp_path: Path, corpus: list[Document]) -> None:
    root = tmp_path / "index"
    archive = Archive.build(corpus, root, encoder=HashingEncoder(), procs=1, passages="lead")
    dense = archive._searcher.dense  # noqa: SLF001
    assert set(dense.rows.rank.tolist()) == {0} and len(dense) == archive.manifest.leads == len(dense.ids)
    assert archive.manifest.max_passages == 1
    archive.close()
    report = BuildReport()
    Archive.build(corpus, root, encoder=HashingEncoder(), procs=1, report=report).close()
    assert not report.written  # no --passages: the archive keeps "lead", nothing to do
    report = BuildReport()
    archive = Archive.build(corpus, root, encoder=HashingEncoder(), procs=1, passages="all", report=report)
    assert report.written and archive.manifest.max_passages == 64
    assert len(archive._searcher.dense) > archive.manifest.leads  # noqa: SLF001
    assert report.reused >= archive.manifest.leads  # the leads came from the cache
    archive.close()
    for bad in ("none", 0, "65", True):
        with pytest.raises(UsageError, match="passages must be lead, all or a number"):
            Archive.build(corpus, root, encoder=HashingEncoder(), passages=bad)
    result = CliRunner().invoke(app, ["build", str(ROOT / "seeds"), "--index", str(tmp_path / "x"),
                                      "--encoder", "none", "--passages", "some"])
    assert result.exit_code == 1 and "passages must be lead, all or a number" in result.output


_KILLED_BUILD = """
import sys, time
from archive import Archive, read_documents
from archive.encoders.hashing import HashingEncoder
import archive.writing.building as building, archive.writing.embedding as embedding
building.EMBED_INLINE_MAX = 0
embedding.CHUNK = 8
class Slow(HashingEncoder):
    def encode_passages(self, texts):
        time.sleep(0.3)
        return super().encode_passages(texts)
Archive.build(read_documents([sys.argv[1]]), sys.argv[2], encoder=Slow(), procs=1)
"""


@pytest.mark.slow
def test_kill_9_while_embedding_then_build_again(tmp_path: Path, corpus: list[Document]) -> None:
    source = tmp_path / "news.jsonl"
    with open(source, "w", encoding="utf-8") as fh:
        for doc in corpus:
            fh.write(json.dumps({"id": doc.id, "title": doc.title, "body": doc.body, "source": doc.source,
                                 "published": doc.published.isoformat() if doc.published else None},
                                ensure_ascii=False) + "\n")
    root = tmp_path / "index"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_BUILD, str(source), str(root)], env=env)
    cache = root / "embeddings.sqlite"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _cached(cache) < 16:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    embedded_before = _cached(cache)
    assert embedded_before >= 16
    with Archive.open(root) as partial:  # the words were committed before the kill
        assert partial.search("النفط", mode="lexical") and partial.manifest.pending > 0
    runner = CliRunner()
    result = runner.invoke(app, ["build", str(source), "--index", str(root), "--encoder", "hashing"])
    assert result.exit_code == 0, result.output
    whole = tmp_path / "whole"
    report = BuildReport()
    Archive.build(corpus, whole, encoder=HashingEncoder(), procs=1, report=report).close()
    total = report.embedded  # distinct passages an uninterrupted build embeds
    resumed = int(re.search(r"passages: \d+ \((\d+) embedded", result.stdout).group(1))
    assert resumed + embedded_before == total, result.stdout
    assert _vectors_by_passage(root).keys() == _vectors_by_passage(whole).keys()


def _cached(path: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return int(db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def test_a_delete_leaves_the_waiting_passages_waiting(tmp_path: Path, corpus: list[Document], deferred) -> None:  # noqa: ANN001
    root = tmp_path / "index"
    _interrupted_build(corpus, root, stop_after=1)
    with Archive.open(root) as partial:
        dense = partial._searcher.dense  # noqa: SLF001
        gone = next(doc_id for o, doc_id in enumerate(dense.ids) if dense.waiting(o))
        count = int(np.count_nonzero(dense.pending.doc == dense.ids.index(gone)))
        pending = partial.manifest.pending
    archive = Archive.update(root, delete=[gone])  # no embedding started: the words change alone
    assert archive.manifest.pending == pending - count and gone not in archive
    assert Archive.check(root).healthy
    archive.close()


def test_check_reports_lead_counts_the_manifest_gets_wrong(tmp_path: Path, corpus: list[Document], deferred) -> None:  # noqa: ANN001
    # The leads counts feed the coverage notice ("8 of 18 article leads"); check compared only the
    # passage counts, so a manifest whose leads disagreed with the dense side passed as healthy.
    root = tmp_path / "index"
    _interrupted_build(corpus, root, stop_after=2)
    assert Archive.check(root).healthy
    path = current_generation(root) / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["leads_pending"] += 3
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    report = Archive.check(root)
    assert [str(p.path.name) for p in report.problems] == ["dense"]
    assert (f"{manifest['leads']} article leads, {manifest['leads_pending'] - 3} of them to embed; the manifest says "
            f"{manifest['leads']}, {manifest['leads_pending']} of them to embed") in str(report.problems[0])


def test_a_pending_passage_of_no_article_is_named_as_damage(tmp_path: Path, corpus: list[Document], deferred) -> None:  # noqa: ANN001
    # pending.npz accepted the dead-row ordinal -1, which numpy reads as the last article: its
    # passage would be embedded as that article's and committed as a dead vector row, silently.
    from archive.errors import IndexDamagedError
    from archive.index.integrity import checksum
    from archive.index.dense import PassageRows

    root = tmp_path / "index"
    _interrupted_build(corpus, root, stop_after=2)
    generation = current_generation(root)
    path = generation / "dense" / "pending.npz"
    pending = PassageRows.load(path)
    doc = pending.doc.copy()
    doc[int(np.flatnonzero(pending.rank > 0)[0])] = -1  # the lead counts stay right
    path.unlink()  # a hard link shared with the previous generation
    PassageRows(doc, pending.start, pending.end, pending.rank).save(path)
    manifest_path = generation / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["files"]["dense/pending.npz"] = {"size": path.stat().st_size, "sha256": checksum(path)}
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    report = Archive.check(root)
    assert not report.healthy and "pending.npz: rows name articles that do not exist" in str(report.problems[0])
    with pytest.raises(IndexDamagedError, match=r"pending\.npz: rows name articles that do not exist\. Fix: archive"):
        Archive.embed(root)
    result = CliRunner().invoke(app, ["search", "النفط", "--index", str(root)])
    assert result.exit_code == 1 and "pending.npz: rows name articles" in result.output


@pytest.mark.slow
def test_related_articles_say_when_passages_wait(tmp_path: Path, corpus: list[Document], deferred) -> None:  # noqa: ANN001
    root = tmp_path / "index"
    _interrupted_build(corpus, root, stop_after=1)
    with Archive.open(root, encoder=HashingEncoder()) as partial:
        dense = partial._searcher.dense  # noqa: SLF001
        embedded = dense.ids[int(dense.rows.doc[0])]
        waiting = next(doc_id for o, doc_id in enumerate(dense.ids) if not len(dense.rows_by_article(o)))
        by_meaning, by_words = partial.related(embedded), partial.related(waiting)
        assert by_meaning.mode == "semantic" and by_words.mode == "lexical"
        assert by_meaning.notice and by_words.notice and "archive embed" in by_words.notice
    Archive.embed(root).close()
    with Archive.open(root) as whole:
        assert whole.related(waiting).mode == "semantic" and whole.related(waiting).notice is None

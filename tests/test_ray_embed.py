"""Embedding on Ray: the archive built with --ray is the local build's, and a dead worker's batches are retried.

The Ray tests start one local cluster (2 CPUs, loopback only) for the whole
module and skip, saying why, where ray is not installed. The tests of the
parts around Ray (which texts, batching, the missing-ray error) always run.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import archive.writing.operations as operations
import archive.writing.building as building
from archive import Archive, BuildReport
from archive.index.embcache import CACHE_NAME
from archive.cli import app
from archive.index.dense import DenseIndex
from archive.document import Document
from archive.index.embcache import EmbeddingCache
from archive.encoders.hashing import HashingEncoder
from archive.index.layout import current_generation
from archive.writing.ray_embed import (
    INSTALL_HINT,
    NothingToEmbedError,
    RayJobError,
    RayUnavailableError,
    check_address,
    embed_build,
    embed_texts,
    length_batches,
    passage_texts,
)

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ["قوات كورية في كورسك", "أسعار النفط", "موجة حر", "صاروخ باليستي", "ديربي الرياض"]
runner = CliRunner()


@pytest.fixture(scope="module")
def corpus(news: list[Document], seed_document: Document) -> list[Document]:
    """The hand-written news, the seed article (several passages), and one duplicate body (folded)."""
    twin = Document(id="sport-1-copy", title="عنوان آخر لخبر الديربي", body=news[0].body)
    return [*news, seed_document, twin]


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    """A local Ray cluster of 2 CPUs for this module only, every process on the loopback address.

    Ray binds a node to its network address; with its "no cluster" setting
    (read by each Ray process from the environment) it uses 127.0.0.1.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        mp.setenv("RAY_USAGE_STATS_ENABLED", "0")
        ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'news-archive[ray]'): no local cluster")
        from ray._private import ray_constants

        mp.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)  # in case ray was imported before the variable was set
        ray.init(
            num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
            runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}},  # the workers import this checkout's archive
        )
        yield ray
        ray.shutdown()


def _local_build(corpus: list[Document], index: Path) -> Archive:
    return Archive.build(corpus, index, encoder="hashing", procs=1)


# ------------------------------------------------------------ without Ray


def test_passage_texts_are_what_a_build_embeds(corpus: list[Document], tmp_path: Path) -> None:
    texts = passage_texts(corpus)
    assert len(texts) > len(corpus)  # the seed article makes several passages
    assert not any("عنوان آخر لخبر الديربي" in t for t in texts)  # the folded twin is not embedded
    archive = _local_build(corpus, tmp_path / "index")
    assert archive.stats().passages == len(texts)
    archive.close()
    encoder = HashingEncoder()
    with EmbeddingCache(tmp_path / "index" / CACHE_NAME, encoder.name, encoder.dim) as cache:
        vectors, found = cache.get_many(texts)
    assert found.all()
    np.testing.assert_array_equal(vectors, encoder.encode_passages(texts))


def test_length_batches_group_by_length_within_windows() -> None:
    texts = [("كلمة " * n).strip() for n in (3, 40, 7, 25, 1, 12, 30, 2)]
    batches = length_batches(texts, batch_size=2, window=4)
    assert sorted(t for b in batches for t in b) == sorted(texts)
    assert [len(b) for b in batches] == [2, 2, 2, 2]
    first_window, second_window = batches[:2], batches[2:]
    assert {t for b in first_window for t in b} == set(texts[:4])  # the caller's order holds between windows
    assert {t for b in second_window for t in b} == set(texts[4:])
    lengths = [len(t) for b in first_window for t in b]
    assert lengths == sorted(lengths, reverse=True)


def test_without_ray_a_clear_error(corpus: list[Document], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as if not installed
    with pytest.raises(RayUnavailableError, match=INSTALL_HINT.replace("[", r"\[").replace("]", r"\]")):
        embed_build(corpus, tmp_path / "index", "hashing")
    sources = tmp_path / "news.jsonl"
    sources.write_text("\n".join(_jsonl(d) for d in corpus), encoding="utf-8")
    result = runner.invoke(app, ["build", str(sources), "--index", str(tmp_path / "i2"), "--encoder", "hashing", "--ray"])
    assert result.exit_code == 1
    assert "error:" in result.stderr and INSTALL_HINT in result.stderr
    assert not (tmp_path / "i2").exists()  # nothing was read or written


@pytest.mark.slow
def test_unreachable_or_malformed_address_fails_at_once(corpus: list[Document], tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="ray is not installed (pip install 'news-archive[ray]')")
    with socket.socket() as closed:  # a port nothing listens on: bound, never listening
        closed.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{closed.getsockname()[1]}"
        with pytest.raises(RayJobError, match=f"cannot reach the Ray cluster at {address}"):
            check_address(address)
        sources = tmp_path / "news.jsonl"
        sources.write_text("\n".join(_jsonl(d) for d in corpus), encoding="utf-8")
        result = runner.invoke(app, ["build", str(sources), "--index", str(tmp_path / "index"), "--encoder", "hashing",
                                     "--ray", "--ray-address", address])
    assert result.exit_code == 1 and f"error: cannot reach the Ray cluster at {address}" in result.stderr
    assert not (tmp_path / "index").exists()
    with pytest.raises(RayJobError, match="not a Ray cluster address"):
        check_address("seeds/")


def test_library_build_on_ray_without_ray_a_clear_error_before_reading(
    corpus: list[Document], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ray is an option of the library's build, embed and plan: without ray installed each names the fix,
    before one article is read or one file written."""
    monkeypatch.setitem(sys.modules, "ray", None)
    read: list[str] = []

    def documents() -> Iterator[Document]:
        for doc in corpus:
            read.append(doc.id)
            yield doc

    hint = INSTALL_HINT.replace("[", r"\[").replace("]", r"\]")
    with pytest.raises(RayUnavailableError, match=hint):
        Archive.build(documents(), tmp_path / "index", encoder="hashing", ray=True)
    assert read == [] and not (tmp_path / "index").exists()
    with pytest.raises(RayUnavailableError, match=hint):
        Archive.plan(documents(), tmp_path / "index", encoder="hashing", ray=True)
    assert read == []
    _local_build(corpus, tmp_path / "local").close()
    with pytest.raises(RayUnavailableError, match=hint):
        Archive.embed(tmp_path / "local", ray=True)


def test_library_build_on_ray_of_a_lexical_archive_is_refused(corpus: list[Document], tmp_path: Path) -> None:
    with pytest.raises(NothingToEmbedError, match="lexical-only archive .* has nothing to embed"):
        Archive.build(corpus, tmp_path / "index", encoder="none", ray=True)
    assert not (tmp_path / "index").exists()
    sources = tmp_path / "news.jsonl"
    sources.write_text("\n".join(_jsonl(d) for d in corpus), encoding="utf-8")
    result = runner.invoke(app, ["build", str(sources), "--index", str(tmp_path / "i2"), "--encoder", "none", "--ray"])
    said = " ".join(result.output.translate(str.maketrans("│╭╮╰╯─", "      ")).split())  # rich's box, unwrapped
    assert result.exit_code == 2 and "--ray" in said and "nothing to embed" in said, said


def test_nothing_missing_needs_no_ray(corpus: list[Document], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _local_build(corpus, tmp_path / "index").close()
    monkeypatch.setitem(sys.modules, "ray", None)
    stats = embed_build(corpus, tmp_path / "index", "hashing")
    assert (stats.embedded, stats.cached, stats.workers) == (0, len(passage_texts(corpus)), 0)


def test_embed_on_a_lexical_archive_has_nothing_to_do(corpus: list[Document], tmp_path: Path) -> None:
    sources = tmp_path / "news.jsonl"
    sources.write_text("\n".join(_jsonl(d) for d in corpus), encoding="utf-8")
    lexical = tmp_path / "lexical"
    result = runner.invoke(app, ["build", str(sources), "--index", str(lexical), "--encoder", "none", "--procs", "1"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["embed", "--index", str(lexical)])
    assert result.exit_code == 0 and "lexical only: nothing to embed" in result.output


def _jsonl(doc: Document) -> str:
    import json

    return json.dumps({"id": doc.id, "title": doc.title, "body": doc.body, "source": doc.source}, ensure_ascii=False)


# --------------------------------------------------------------- with Ray


def _same_archive(a: Path, b: Path) -> None:
    """Same articles, same passage vectors bit for bit, same results for every mode."""
    dense_a, dense_b = DenseIndex(current_generation(a) / "dense"), DenseIndex(current_generation(b) / "dense")
    assert dense_a.ids == dense_b.ids
    np.testing.assert_array_equal(dense_a.vectors(), dense_b.vectors())
    with Archive.open(a) as one, Archive.open(b) as two:
        for query in QUERIES:
            for mode in ("semantic", "hybrid"):
                hits_a, hits_b = one.search(query, k=5, mode=mode), two.search(query, k=5, mode=mode)
                assert hits_a, (query, mode)
                assert [(h.id, h.score, h.snippet) for h in hits_a] == [(h.id, h.score, h.snippet) for h in hits_b]


@pytest.mark.slow
def test_ray_build_equals_local_build(ray_cluster, corpus: list[Document], tmp_path: Path) -> None:
    _local_build(corpus, tmp_path / "local").close()
    stats = embed_build(corpus, tmp_path / "ray", "hashing", batch_size=2)
    texts = passage_texts(corpus)
    assert stats.embedded == len(set(texts)) and stats.cached == 0 and stats.workers == 2
    assert stats.batches == -(-len(set(texts)) // 2) and stats.retried == 0
    archive = Archive.build(corpus, tmp_path / "ray", encoder="hashing", procs=1)
    archive.close()
    _same_archive(tmp_path / "local", tmp_path / "ray")
    again = embed_build(corpus, tmp_path / "ray", "hashing")  # everything cached: no job at all
    assert (again.embedded, again.workers) == (0, 0)


@pytest.mark.slow
def test_library_build_with_ray_equals_local_build(ray_cluster, corpus: list[Document], tmp_path: Path) -> None:
    _local_build(corpus, tmp_path / "local").close()
    report = BuildReport()
    Archive.build(corpus, tmp_path / "ray", encoder="hashing", procs=1, ray=True, report=report).close()
    assert report.ray is not None and report.ray.embedded == len(set(passage_texts(corpus)))
    assert report.embedded == 0  # the build found every passage in the cache the Ray job filled
    _same_archive(tmp_path / "local", tmp_path / "ray")


@pytest.mark.slow
def test_ray_with_use_matches_local_to_float_rounding(ray_cluster, corpus: list[Document], tmp_path: Path) -> None:
    """A real encoder: the vectors differ from a local build's only in float rounding.

    A batch's GEMMs sum in an order that depends on the batch's rows, so the
    same text embedded beside other texts can differ in the last bits (a local
    build whose cache held other passages differs the same way): up to ~3e-7
    per component on 256 ARCD passages with USE and e5-small (docs/scaling.md).
    """
    Archive.build(corpus, tmp_path / "local", encoder="use", procs=1).close()
    embed_build(corpus, tmp_path / "ray", "use", batch_size=3)
    Archive.build(corpus, tmp_path / "ray", encoder="use", procs=1).close()
    dense_a = DenseIndex(current_generation(tmp_path / "local") / "dense")
    dense_b = DenseIndex(current_generation(tmp_path / "ray") / "dense")
    assert dense_a.ids == dense_b.ids
    np.testing.assert_allclose(dense_a.vectors(), dense_b.vectors(), rtol=0, atol=2e-6)
    with Archive.open(tmp_path / "local") as one, Archive.open(tmp_path / "ray") as two:
        for query in QUERIES:
            hits_a, hits_b = one.search(query, k=5, mode="semantic"), two.search(query, k=5, mode="semantic")
            assert [h.id for h in hits_a] == [h.id for h in hits_b]
            np.testing.assert_allclose([h.score for h in hits_a], [h.score for h in hits_b], rtol=0, atol=1e-5)


def _dies_once(marker: Path) -> Callable[[str, int], HashingEncoder]:
    """An encoder factory whose first encode anywhere kills its worker process (once: ``marker`` remembers)."""

    def make(spec: str, threads: int) -> HashingEncoder:
        class DiesOnFirstBatch(HashingEncoder):
            def encode_passages(self, texts):
                try:
                    fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    return super().encode_passages(texts)
                os.close(fd)
                os._exit(1)  # the worker process dies mid-job, as a killed or crashed one would

        return DiesOnFirstBatch()

    return make


@pytest.mark.slow
def test_dead_worker_batches_retried(ray_cluster, corpus: list[Document], tmp_path: Path) -> None:
    marker = tmp_path / "died"
    stats = embed_build(corpus, tmp_path / "ray", "hashing", batch_size=2, make_encoder=_dies_once(marker))
    assert marker.exists()  # a worker did die
    assert stats.retried >= 1
    texts = passage_texts(corpus)
    assert stats.embedded == len(set(texts))
    encoder = HashingEncoder()
    with EmbeddingCache(tmp_path / "ray" / CACHE_NAME, encoder.name, encoder.dim) as cache:
        vectors, found = cache.get_many(texts)
    assert found.all()
    np.testing.assert_array_equal(vectors, encoder.encode_passages(texts))


@pytest.mark.slow
def test_a_batch_that_always_kills_its_worker_stops_the_job(ray_cluster, tmp_path: Path) -> None:
    def make(spec: str, threads: int) -> HashingEncoder:
        class AlwaysDies(HashingEncoder):
            def encode_passages(self, texts):
                if any("سم" in t for t in texts):
                    os._exit(1)
                return super().encode_passages(texts)

        return AlwaysDies()

    texts = ["خبر عادي عن الطقس", "نص فيه سم قاتل", "خبر آخر عن الاقتصاد"]
    with pytest.raises(RayJobError, match="failed 3 times"):
        embed_texts(texts, "hashing", tmp_path / CACHE_NAME, batch_size=1, make_encoder=make)
    with EmbeddingCache(tmp_path / CACHE_NAME, "hashing/1", 256) as cache:
        _, found = cache.get_many(texts)
    assert found.tolist() == [True, False, True]  # what the other batches embedded is kept


@pytest.mark.slow
def test_worker_that_cannot_load_the_encoder_is_named(ray_cluster, tmp_path: Path) -> None:
    driver = os.getpid()

    def make(spec: str, threads: int) -> HashingEncoder:
        if os.getpid() != driver:  # loads here, not on the workers (a node without the model)
            raise FileNotFoundError(f"{spec}: no such model on this node")
        return HashingEncoder()

    with pytest.raises(RayJobError, match="could not load encoder 'st:/nowhere/model'.*no such model on this node"):
        embed_texts(["نص"], "st:/nowhere/model", tmp_path / CACHE_NAME, make_encoder=make)


@pytest.mark.slow
def test_cli_build_and_embed_with_ray(
    ray_cluster, corpus: list[Document], tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: ANN001
) -> None:
    sources = tmp_path / "news.jsonl"
    sources.write_text("\n".join(_jsonl(d) for d in corpus), encoding="utf-8")
    local, on_ray = tmp_path / "local", tmp_path / "on-ray"
    result = runner.invoke(app, ["build", str(sources), "--index", str(local), "--encoder", "hashing", "--procs", "1"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["build", str(sources), "--index", str(on_ray), "--encoder", "hashing", "--procs", "1",
                                 "--ray"])
    assert result.exit_code == 0, result.output
    passages = len(set(passage_texts(corpus)))
    assert f"embedded {passages} passages on Ray" in result.output
    assert "(0 embedded," in result.output  # the build found every passage in the cache
    _same_archive(local, on_ray)
    # `archive embed --ray`: the passages a build left waiting (here: all of them) are embedded on Ray
    words_only = tmp_path / "words-only"
    monkeypatch.setattr(building, "EMBED_INLINE_MAX", 0)
    monkeypatch.setattr(operations, "embed_pending", lambda *args, **kwargs: None)
    result = runner.invoke(app, ["build", str(sources), "--index", str(words_only), "--encoder", "hashing",
                                 "--procs", "1"])
    assert result.exit_code == 0, result.output
    assert "archive embed adds the rest" in result.output
    monkeypatch.undo()
    result = runner.invoke(app, ["embed", "--index", str(words_only), "--ray"])
    assert result.exit_code == 0, result.output
    assert f"embedded {passages} passages on Ray" in result.output and "meaning: all" in result.output
    _same_archive(local, words_only)

"""The embedding cache: nothing is embedded twice, across calls, reopenings and interruptions."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from archive.index.embcache import BATCH, EmbeddingCache, EmbedStats, embed_with_cache
from archive.errors import EncoderError, IndexFormatError

DIM = 16
NAME = "fake-encoder/1"
TEXTS = [
    "أعلنت وزارة الدفاع الروسية أن قواتها صدت هجوما أوكرانيا في منطقة كورسك.",
    "ارتفعت أسعار النفط بعد قرار أوبك خفض الإنتاج.",
    "حقق فريق الهلال فوزا ثمينا على النصر في ديربي الرياض.",
    "حذرت منظمة الصحة العالمية من موجة حر شديدة.",
    "أطلقت كوريا الشمالية صاروخا باليستيا باتجاه البحر.",
]


class FakeEncoder:
    """Deterministic unit vectors from the text's hash; records every batch it is asked to embed."""

    def __init__(self, dim: int = DIM, fail_on_batch: int | None = None) -> None:
        self.dim = dim
        self.batches: list[list[str]] = []
        self.fail_on_batch = fail_on_batch

    @property
    def seen(self) -> list[str]:
        return [t for batch in self.batches for t in batch]

    def __call__(self, texts: list[str]) -> np.ndarray:
        if self.fail_on_batch is not None and len(self.batches) == self.fail_on_batch:
            raise KeyboardInterrupt("the build is interrupted")
        self.batches.append(list(texts))
        return np.stack([vector(t, self.dim) for t in texts])


def vector(text: str, dim: int = DIM) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def cache_path(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "embeddings.sqlite"


def test_second_run_embeds_nothing_and_one_new_text_only_that_one(cache_path: Path) -> None:
    encoder = FakeEncoder()
    with EmbeddingCache(cache_path, NAME, DIM) as cache:
        first, stats = embed_with_cache(TEXTS, encoder, cache)
        assert stats == EmbedStats(embedded=5, reused=0)
        assert encoder.seen == TEXTS
        assert np.array_equal(first, np.stack([vector(t) for t in TEXTS]))

        again, stats = embed_with_cache(TEXTS, encoder, cache)
        assert stats == EmbedStats(embedded=0, reused=5)
        assert len(encoder.batches) == 1  # not called again
        assert np.array_equal(again, first)

        new = "خبر جديد عن الانتخابات."
        more, stats = embed_with_cache([TEXTS[2], new, TEXTS[0]], encoder, cache)
        assert stats == EmbedStats(embedded=1, reused=2)
        assert encoder.batches[-1] == [new]
        assert np.array_equal(more, np.stack([vector(TEXTS[2]), vector(new), vector(TEXTS[0])]))
        assert len(cache) == 6


def test_cache_persists_across_reopening(cache_path: Path) -> None:
    with EmbeddingCache(cache_path, NAME, DIM) as cache:
        embed_with_cache(TEXTS, FakeEncoder(), cache)
    encoder = FakeEncoder()
    with EmbeddingCache(cache_path, NAME, DIM) as cache:
        vectors, stats = embed_with_cache(TEXTS, encoder, cache)
    assert stats == EmbedStats(embedded=0, reused=5) and encoder.batches == []
    assert np.array_equal(vectors, np.stack([vector(t) for t in TEXTS]))


def test_identical_texts_in_one_call_are_embedded_once(cache_path: Path) -> None:
    texts = [TEXTS[0], TEXTS[1], TEXTS[0], TEXTS[0], TEXTS[1]]
    for cache in (None, EmbeddingCache(cache_path, NAME, DIM)):
        encoder = FakeEncoder()
        vectors, stats = embed_with_cache(texts, encoder, cache)
        assert stats == EmbedStats(embedded=2, reused=0)
        assert encoder.seen == TEXTS[:2]
        assert np.array_equal(vectors, np.stack([vector(t) for t in texts]))
        if cache is not None:
            cache.close()


def test_repeated_cached_texts_are_all_filled(cache_path: Path) -> None:
    with EmbeddingCache(cache_path, NAME, DIM) as cache:
        embed_with_cache(TEXTS[:1], FakeEncoder(), cache)
        vectors, found = cache.get_many([TEXTS[0], TEXTS[1], TEXTS[0]])
    assert found.tolist() == [True, False, True]
    assert np.array_equal(vectors[0], vector(TEXTS[0])) and np.array_equal(vectors[2], vector(TEXTS[0]))
    assert not vectors[1].any() and vectors.dtype == np.float32


def test_batches_and_progress(cache_path: Path) -> None:
    texts = [f"المقطع رقم {i}" for i in range(10)]
    calls: list[tuple[int, int]] = []
    encoder = FakeEncoder()
    with EmbeddingCache(cache_path, NAME, DIM) as cache:
        embed_with_cache(texts[:3], encoder, cache)
        _, stats = embed_with_cache(texts, encoder, cache, batch_size=3, progress=lambda d, t: calls.append((d, t)))
    assert stats == EmbedStats(embedded=7, reused=3)
    assert [len(b) for b in encoder.batches] == [3, 3, 3, 1]
    assert calls == [(0, 7), (3, 7), (6, 7), (7, 7)]  # texts to embed: the total first, then after each batch


def test_default_calls_hold_batch_texts_each_stored_before_the_next(cache_path: Path) -> None:
    """The default call size is :data:`BATCH` (large calls keep the fast engines' streams full);
    an interruption in the second call keeps the whole first call."""
    texts = [f"المقطع رقم {i} من خبر عن كورسك" for i in range(BATCH + 10)]
    with EmbeddingCache(cache_path, NAME, DIM) as cache:
        encoder = FakeEncoder()
        embed_with_cache(texts, encoder, cache)
        assert [len(b) for b in encoder.batches] == [BATCH, 10]
    with EmbeddingCache(cache_path.with_name("fresh.sqlite"), NAME, DIM) as cache:
        with pytest.raises(KeyboardInterrupt):
            embed_with_cache(texts, FakeEncoder(fail_on_batch=1), cache)
        assert len(cache) == BATCH


def test_interrupted_build_keeps_finished_batches(cache_path: Path) -> None:
    texts = [f"المقطع رقم {i}" for i in range(10)]
    with EmbeddingCache(cache_path, NAME, DIM) as cache:
        with pytest.raises(KeyboardInterrupt):
            embed_with_cache(texts, FakeEncoder(fail_on_batch=2), cache, batch_size=4)
    encoder = FakeEncoder()
    with EmbeddingCache(cache_path, NAME, DIM) as cache:
        _, stats = embed_with_cache(texts, encoder, cache, batch_size=4)
    assert stats == EmbedStats(embedded=2, reused=8)
    assert encoder.seen == texts[8:]


def test_another_encoder_never_sees_these_vectors(cache_path: Path) -> None:
    with EmbeddingCache(cache_path, NAME, DIM) as cache:
        embed_with_cache(TEXTS, FakeEncoder(), cache)
    encoder = FakeEncoder()
    with EmbeddingCache(cache_path, "fake-encoder/2", DIM) as cache:
        _, stats = embed_with_cache(TEXTS, encoder, cache)
    assert stats == EmbedStats(embedded=5, reused=0) and encoder.seen == TEXTS


def test_stored_vectors_of_another_dimension_are_an_error(cache_path: Path) -> None:
    with EmbeddingCache(cache_path, NAME, DIM) as cache:
        embed_with_cache(TEXTS, FakeEncoder(), cache)
    with EmbeddingCache(cache_path, NAME, DIM * 2) as cache:
        with pytest.raises(IndexFormatError, match="16-dim vector .* expected 32; delete the cache"):
            embed_with_cache(TEXTS, FakeEncoder(DIM * 2), cache)


def test_encoder_returning_the_wrong_shape_is_an_error(cache_path: Path) -> None:
    with EmbeddingCache(cache_path, NAME, DIM) as cache:
        with pytest.raises(EncoderError, match="shape"):
            embed_with_cache(TEXTS, FakeEncoder(DIM + 1), cache)
        with pytest.raises(EncoderError, match="shape"):
            embed_with_cache(TEXTS, lambda batch: np.zeros((len(batch) - 1, DIM)), cache)
        with pytest.raises(ValueError):
            cache.put_many(TEXTS, np.zeros((len(TEXTS), DIM + 1)))
        assert len(cache) == 0


def test_no_texts(cache_path: Path) -> None:
    encoder = FakeEncoder()
    with EmbeddingCache(cache_path, NAME, DIM) as cache:
        vectors, stats = embed_with_cache([], encoder, cache)
    assert vectors.shape == (0, DIM) and stats == EmbedStats(0, 0) and encoder.batches == []
    vectors, _ = embed_with_cache([], encoder, None)
    assert vectors.shape == (0, 0)


def test_a_file_that_is_not_a_cache_is_a_format_error(cache_path: Path) -> None:
    cache_path.parent.mkdir(parents=True)
    cache_path.write_bytes(b"this is not a SQLite database" * 100)
    with pytest.raises(IndexFormatError, match="delete it"):
        EmbeddingCache(cache_path, NAME, DIM)


def test_the_older_cache_layout_is_carried_over(cache_path: Path) -> None:
    cache_path.parent.mkdir(parents=True)
    db = sqlite3.connect(cache_path)
    db.execute("CREATE TABLE vectors (key BLOB PRIMARY KEY, vec BLOB NOT NULL) WITHOUT ROWID")
    key = hashlib.sha256(f"{NAME}\0{TEXTS[0]}".encode()).digest()
    db.execute("INSERT INTO vectors VALUES (?, ?)", (key, vector(TEXTS[0]).tobytes()))
    db.commit()
    db.close()
    encoder = FakeEncoder()
    with EmbeddingCache(cache_path, NAME, DIM) as cache:
        _, stats = embed_with_cache(TEXTS[:2], encoder, cache)
    assert stats == EmbedStats(embedded=1, reused=1) and encoder.seen == TEXTS[1:2]


def test_many_lookups_in_one_call(cache_path: Path) -> None:
    texts = [f"مقطع {i}" for i in range(3_000)]  # several chunks of the batched SELECT
    with EmbeddingCache(cache_path, NAME, DIM) as cache:
        embed_with_cache(texts[::2], FakeEncoder(), cache, batch_size=500)
        vectors, found = cache.get_many(texts)
    assert found.tolist() == [i % 2 == 0 for i in range(3_000)]
    assert np.array_equal(vectors[1234], vector(texts[1234])) and not vectors[1235].any()

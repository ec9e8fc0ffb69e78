"""The dense side: passages, vector index, embedding cache, encoders, semantic search."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from archive import Archive, Document, EncoderError, IndexFormatError, QueryError
from archive.index.embcache import EmbeddingCache, embed_with_cache
from archive.encoders import get_encoder
from archive.encoders.hashing import HashingEncoder
from archive.text.passages import split_passages
from archive.index.vectors import VectorIndex

SENTENCES = [
    "أعلنت وزارة الدفاع الروسية أن قواتها صدت هجوما أوكرانيا في منطقة كورسك.",
    "وقال المتحدث باسم الوزارة إن الهجوم شاركت فيه عشرات المدرعات.",
    "وفي كييف، قال مسؤولون إن القوات الأوكرانية ما زالت تسيطر على عدة بلدات.",
    "ودعا الأمين العام للأمم المتحدة إلى وقف فوري لإطلاق النار وحماية المدنيين؟",
    "من جهة أخرى، ارتفعت أسعار القمح في الأسواق العالمية بسبب المخاوف من تعطل الصادرات؛",
]
ARTICLE = " ".join(SENTENCES * 6)


class RecordingEncoder(HashingEncoder):
    """The hashing encoder, recording every text it is asked to embed."""

    def __init__(self) -> None:
        self.passages: list[str] = []
        self.queries: list[str] = []

    def encode_passages(self, texts):  # type: ignore[override]
        self.passages.extend(texts)
        return super().encode_passages(texts)

    def encode_queries(self, texts):  # type: ignore[override]
        self.queries.extend(texts)
        return super().encode_queries(texts)


# ------------------------------------------------------------------ passages
def test_passages_respect_size_and_overlap_and_lose_nothing() -> None:
    passages = split_passages(ARTICLE, max_words=40, overlap_words=12)
    assert len(passages) > 3
    for p in passages:
        assert len(p.text.split()) <= 40
        assert ARTICLE[p.start : p.end] == p.text
    for sentence in SENTENCES:
        assert any(sentence in p.text for p in passages)
    for before, after in zip(passages, passages[1:]):
        assert after.start < before.end  # overlapping
        assert after.start > before.start


def test_passage_edge_cases() -> None:
    assert split_passages("   \n ") == []
    (only,) = split_passages("خبر قصير عن كورسك")
    assert only.text == "خبر قصير عن كورسك"
    long_sentence = " ".join(["كلمة"] * 300)
    pieces = split_passages(long_sentence, max_words=120, overlap_words=0)
    assert [len(p.text.split()) for p in pieces] == [120, 120, 60]
    huge = "جملة طويلة في خبر كبير. " * 200_000
    assert len(split_passages(huge, max_passages=64)) == 64


# -------------------------------------------------------------- vector index
def _unit(rng: np.random.Generator, n: int, dim: int = 64) -> np.ndarray:
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_exact_search_matches_numpy_and_survives_save_load(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data, queries = _unit(rng, 500), _unit(rng, 5)
    index = VectorIndex.build(data)
    scores, rows = index.search(queries, 10)
    expected = np.argsort(-(queries @ data.T), axis=1)[:, :10]
    assert (rows == expected).all()
    index.save(tmp_path / "v")
    again = VectorIndex.load(tmp_path / "v")
    assert again.kind == "flat" and len(again) == 500
    scores2, rows2 = again.search(queries, 10)
    assert (rows2 == rows).all() and np.allclose(scores2, scores)


@pytest.mark.slow
def test_hnsw_recall_against_exact() -> None:
    rng = np.random.default_rng(1)
    data, queries = _unit(rng, 20_000, 48), _unit(rng, 100, 48)
    hnsw = VectorIndex.build(data, exact_max=1_000)
    assert hnsw.kind == "hnsw"
    _, approx = hnsw.search(queries, 10)
    truth = np.argsort(-(queries @ data.T), axis=1)[:, :10]
    recall = np.mean([len(set(a) & set(t)) / 10 for a, t in zip(approx, truth)])
    assert recall >= 0.98


@pytest.mark.slow
@pytest.mark.parametrize("exact_max", [100_000, 100])
def test_filtered_search_returns_only_allowed_rows(exact_max: int) -> None:
    rng = np.random.default_rng(2)
    data, query = _unit(rng, 3_000), _unit(rng, 1)
    index = VectorIndex.build(data, exact_max=exact_max)
    allowed = np.array([5, 17, 999, 2500], dtype=np.int64)
    scores, rows = index.search(query, 10, allowed=allowed)
    found = [r for r in rows[0] if r >= 0]
    assert sorted(found) == allowed.tolist()
    assert found[0] == allowed[np.argmax(data[allowed] @ query[0])]


def test_corrupt_vector_index_is_a_format_error(tmp_path: Path) -> None:
    VectorIndex.build(_unit(np.random.default_rng(3), 10)).save(tmp_path / "v")
    (tmp_path / "v" / "vectors.npy").write_bytes(b"garbage")
    with pytest.raises(IndexFormatError):
        VectorIndex.load(tmp_path / "v")


# ------------------------------------------------------------------- cache
def test_cache_embeds_each_text_once(tmp_path: Path) -> None:
    encoder = RecordingEncoder()
    texts = ["خبر أول عن كورسك", "خبر ثان عن النفط", "خبر أول عن كورسك"]
    with EmbeddingCache(tmp_path / "c.sqlite", encoder.name, encoder.dim) as cache:
        vectors, stats = embed_with_cache(texts, encoder.encode_passages, cache)
        assert (stats.embedded, stats.reused) == (2, 0)
        assert encoder.passages == texts[:2]
        assert np.allclose(vectors[0], vectors[2])
    with EmbeddingCache(tmp_path / "c.sqlite", encoder.name, encoder.dim) as cache:  # reopened
        again, stats = embed_with_cache([*texts, "خبر جديد"], encoder.encode_passages, cache)
        assert (stats.embedded, stats.reused) == (1, 3)
        assert encoder.passages == [*texts[:2], "خبر جديد"]
        assert np.allclose(again[:3], vectors)
    with EmbeddingCache(tmp_path / "c.sqlite", "other-encoder/1", encoder.dim) as cache:
        _, stats = embed_with_cache(texts[:1], encoder.encode_passages, cache)
        assert stats.embedded == 1  # another encoder never sees these vectors


# ----------------------------------------------------------------- encoders
def test_unknown_encoder() -> None:
    with pytest.raises(EncoderError, match="e5-small"):
        get_encoder("word2vec")
    assert get_encoder("none") is None


@pytest.fixture(scope="module")
def e5():
    return get_encoder("e5-small")


def test_e5_vectors_and_prefixes(e5) -> None:
    q = e5.encode_queries(["قوات كورية في كورسك"])
    p = e5.encode_passages(["قوات كورية في كورسك"])
    assert q.shape == p.shape == (1, 384) and q.dtype == np.float32
    assert np.allclose(np.linalg.norm(q, axis=1), 1, atol=1e-5)
    assert not np.allclose(q, p)  # "query: " and "passage: " prefixes differ
    assert e5.encode_passages([]).shape == (0, 384)


KURSK = "نشرت كوريا الشمالية آلاف الجنود في منطقة كورسك الروسية لدعم القوات الروسية في الحرب على أوكرانيا."
FOOTBALL = "فاز نادي الهلال على النصر بهدفين مقابل هدف في مباراة الدوري السعودي لكرة القدم."


@pytest.mark.slow
@pytest.mark.parametrize("name", ["e5-small", "use-multilingual"])
def test_paraphrase_outranks_unrelated(name: str) -> None:
    encoder = get_encoder(name)
    passages = encoder.encode_passages([KURSK, FOOTBALL])
    query = encoder.encode_queries(["جنود بيونغيانغ يقاتلون إلى جانب موسكو"])[0]
    assert passages[0] @ query > passages[1] @ query
    english = encoder.encode_queries(["North Korean troops in Kursk"])[0]
    assert passages[0] @ english > passages[1] @ english


# ---------------------------------------------------------- semantic search
def test_semantic_build_is_cached_and_incremental(tmp_path: Path, news: list[Document]) -> None:
    encoder = RecordingEncoder()
    first = Archive.build(news, tmp_path / "index", encoder=encoder, procs=1)
    assert first.manifest.encoder == "hashing/1" and first.manifest.passages == len(encoder.passages) > 0
    first.close()
    embedded = len(encoder.passages)
    extra = Document(id="extra", title="خبر جديد", body="أعلنت الحكومة عن خطة جديدة للنقل العام في المدن.")
    from archive import BuildReport

    report = BuildReport()
    Archive.build([*news, extra], tmp_path / "index", encoder=encoder, procs=1, report=report).close()
    assert report.embedded == 1 and report.reused == embedded
    assert encoder.passages[embedded:] == ["خبر جديد\nأعلنت الحكومة عن خطة جديدة للنقل العام في المدن."]


def test_semantic_search_filters_and_snippets(tmp_path: Path, news: list[Document]) -> None:
    archive = Archive.build(news, tmp_path / "index", encoder=RecordingEncoder(), procs=1)
    hits = archive.search("أسعار النفط", mode="semantic", k=3)
    assert hits[0].id == "econ-1" and hits.mode == "semantic"
    assert "النفط" in hits[0].snippet
    assert {h.id for h in archive.search("أسعار النفط", mode="semantic", source="BBC")} <= {"econ-1", "war-1"}
    assert archive.search("أسعار النفط", mode="semantic", since="2025-01-01") == []


def test_hybrid_keeps_explicit_constraints(tmp_path: Path, news: list[Document]) -> None:
    archive = Archive.build(news, tmp_path / "index", encoder=RecordingEncoder(), procs=1)
    ids = {h.id for h in archive.search("روسيا أوكرانيا كوريا", k=10)}
    assert {"war-1", "korea-1"} <= ids
    assert "war-1" not in {h.id for h in archive.search("روسيا أوكرانيا كوريا -خاركيف", k=10)}
    assert {h.id for h in archive.search('"كوريا الشمالية"', k=10)} == {"korea-1"}


CONSTRAINED = ['"كوريا الشمالية"', "روسيا أوكرانيا كوريا -خاركيف", 'النفط "كوريا الشمالية"', "+الصحة حر",
               "title:صاروخا OR النفط", "أسعار AND النفط"]


def _whoosh_ids(lexical, query) -> set[str]:  # noqa: ANN001 - what Whoosh itself says matches
    searcher = lexical.searcher
    return {searcher.stored_fields(n)["id"] for n in query.docs(searcher)}


def _mask_ids(lexical, mask) -> set[str]:  # noqa: ANN001
    return {lexical.ids[o] for o in np.flatnonzero(mask)}


def test_hybrid_constraints_hold_and_match_what_whoosh_matches(tmp_path: Path, news: list[Document]) -> None:
    from archive.search.query import parse_query

    archive = Archive.build(news, tmp_path / "index", encoder=RecordingEncoder(), procs=1)
    lexical = archive._searcher.lexical  # noqa: SLF001 - the matcher compared with Whoosh
    for query in CONSTRAINED:
        parsed = parse_query(query, lexical.schema).query
        matching = _mask_ids(lexical, lexical.matches(lexical.match(parsed)))
        assert matching == _whoosh_ids(lexical, parsed), query
        hybrid = [h.id for h in archive.search(query, k=10)]
        assert hybrid and set(hybrid) <= matching, query
    assert not set(h.id for h in archive.search("روسيا أوكرانيا كوريا -خاركيف", k=10)) & {"war-1"}


@pytest.mark.slow
def test_the_matcher_agrees_with_whoosh_after_updates(tmp_path: Path, shared_news: list[Document]) -> None:
    from archive.search.query import parse_query

    Archive.build(shared_news[:30], tmp_path / "index", encoder=None, procs=1).close()
    changed = Document(id=shared_news[0].id, title="تحديث", body="خبر جديد عن وزارة الصحة والمستشفيات")
    archive = Archive.update(tmp_path / "index", add=[changed, *shared_news[30:]], delete=[shared_news[1].id])
    lexical = archive._searcher.lexical  # noqa: SLF001
    compared = 0
    for query in ('"وزارة الصحة"', "+الصحة -المستشفيات", "الرياض OR الصحة", "المملكة AND مجلس", '"أمير منطقة"',
                  "الصحة NOT الرياض", "(الرياض OR جدة) AND الأمير", 'title:"وزارة الصحة" OR مجلس'):
        parsed = parse_query(query, lexical.schema).query
        expected = _whoosh_ids(lexical, parsed)
        assert _mask_ids(lexical, lexical.matches(lexical.match(parsed))) == expected, query
        compared += len(expected)
    assert compared > 5


def test_lexical_only_archive_says_so(tmp_path: Path, news: list[Document]) -> None:
    archive = Archive.build(news, tmp_path / "index", encoder=None, procs=1)
    with pytest.raises(QueryError, match="without an encoder"):
        archive.search("النفط", mode="semantic")
    assert archive.search("النفط").mode == "lexical"  # hybrid falls back to words


def test_wrong_encoder_fails_with_a_fix(tmp_path: Path, news: list[Document]) -> None:
    Archive.build(news, tmp_path / "index", encoder=RecordingEncoder(), procs=1).close()

    class Other(HashingEncoder):
        name = "hashing/2"

    with pytest.raises(IndexFormatError, match=r"hashing/1.*hashing/2.*archive build --full"):
        Archive.open(tmp_path / "index", encoder=Other())


@pytest.mark.slow
def test_e5_archive_finds_the_seed_by_meaning_and_in_english(
    tmp_path: Path, seed_document: Document, shared_news: list[Document]
) -> None:
    archive = Archive.build([*shared_news, seed_document], tmp_path / "index", encoder="e5-small", procs=2)
    assert len(archive) >= 51
    for query in ("North Korean troops in Kursk", "جنود بيونغيانغ يقاتلون إلى جانب موسكو"):
        top3 = [h.id for h in archive.search(query, mode="semantic", k=3)]
        assert seed_document.id in top3, (query, top3)
    assert archive.search("قوات كورية في كورسك")[0].id == seed_document.id  # hybrid default


@pytest.mark.slow
def test_sentence_transformers_model_built_locally(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sentence_transformers", reason="sentence-transformers not installed")
    tokenizers = pytest.importorskip("tokenizers")
    from sentence_transformers import SentenceTransformer
    try:
        from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import StaticEmbedding
    from transformers import PreTrainedTokenizerFast

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    corpus = [KURSK, FOOTBALL, *SENTENCES]
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tok.train_from_iterator(corpus, tokenizers.trainers.WordLevelTrainer(special_tokens=["[UNK]", "[PAD]"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]")
    model = SentenceTransformer(modules=[StaticEmbedding(fast, embedding_dim=32)])
    model.prompts = {"query": "query: ", "passage": "passage: "}
    path = tmp_path / "tiny-model"
    model.save(str(path))
    encoder = get_encoder(f"st:{path}")
    assert encoder.dim == 32 and encoder.name.startswith(f"st:{path}")
    vectors = encoder.encode_passages([KURSK, FOOTBALL])
    assert vectors.shape == (2, 32) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    q = encoder.encode_queries([KURSK])
    assert np.abs(q[0] @ vectors[0]) > 0.5 and re.match(r"st:", encoder.name)


def test_best_passages_agree_with_the_exact_search(tmp_path: Path, news: list[Document]) -> None:
    long_doc = Document(id="long", title="تقرير طويل", body=ARTICLE * 3)
    archive = Archive.build([*news, long_doc], tmp_path / "index", encoder=HashingEncoder(), procs=1)
    dense = archive._searcher.dense  # noqa: SLF001 - the dense side under test
    vector = HashingEncoder().encode_queries(["أسعار النفط وأوبك"])[0]
    ranked = dense.search(vector, len(news) + 1, depth=len(dense))
    ids = [doc_id for doc_id, _, _ in ranked]
    best = dense.best_passages(vector, [*ids, len(dense.ids)])  # the last: an ordinal with no passage
    for (doc_id, score, row), (found, found_row) in zip(ranked, best):
        assert found == pytest.approx(score) and found_row == row, doc_id
    assert best[-1] == (-1.0, None)
    archive.close()


def test_article_scores_are_each_articles_best_passage_on_one_blas_thread(tmp_path: Path, news: list[Document]) -> None:
    from threadpoolctl import threadpool_info

    archive = Archive.build(news, tmp_path / "index", encoder=HashingEncoder(), procs=1)
    dense = archive._searcher.dense  # noqa: SLF001 - the dense side under test
    vector = HashingEncoder().encode_queries(["أسعار النفط وأوبك"])[0]
    before = [lib["num_threads"] for lib in threadpool_info()]
    scores = dense.article_scores(vector)
    assert [lib["num_threads"] for lib in threadpool_info()] == before  # the limit is lifted afterwards
    sims = dense.vectors().astype(np.float64) @ vector.astype(np.float64)
    for ordinal in range(len(dense.ids)):
        rows = dense.rows_by_article(ordinal)
        assert scores[ordinal] == pytest.approx(sims[rows].max(), abs=1e-6) if len(rows) else scores[ordinal] == -np.inf
    archive.close()


def test_nearest_articles_are_the_exact_search_read_from_every_articles_best_cosine(
    tmp_path: Path, news: list[Document]
) -> None:
    long_doc = Document(id="long", title="تقرير طويل", body=ARTICLE * 3)
    archive = Archive.build([*news, long_doc], tmp_path / "index", encoder=HashingEncoder(), procs=1)
    dense = archive._searcher.dense  # noqa: SLF001 - the dense side under test
    vector = HashingEncoder().encode_queries(["أسعار النفط وأوبك"])[0]
    scores = dense.article_scores(vector)
    everything = dense.search(vector, len(dense.ids), depth=len(dense))  # exact: the graph is flat here
    for k in (1, 3, len(dense.ids) + 5):
        near = dense.nearest(vector, scores, k)
        assert [o for o, _, _ in near] == [o for o, _, _ in everything[:k]]
        assert [span for _, _, span in near] == [span for _, _, span in everything[:k]]
        assert [s for _, s, _ in near] == pytest.approx([s for _, s, _ in everything[:k]], abs=1e-6)
    allowed = np.zeros(len(dense.ids), dtype=bool)
    allowed[[o for o, _, _ in everything[1::2]]] = True  # every other article, from the second
    assert [o for o, _, _ in dense.nearest(vector, scores, 3, allowed=allowed)] == [o for o, _, _ in everything[1:7:2]]
    with pytest.raises(ValueError, match="k must be at least 1"):
        dense.nearest(vector, scores, 0)
    archive.close()


def test_hybrid_weight_defaults_to_the_one_tuned_for_the_encoder(tmp_path: Path, news: list[Document]) -> None:
    class FastEncoder(HashingEncoder):
        name = "use-multilingual-v3/test"

    archive = Archive.build(news, tmp_path / "index", encoder=FastEncoder(), procs=1)
    default = [(h.id, h.score) for h in archive.search("أسعار النفط في الأسواق", k=6)]
    assert default == [(h.id, h.score) for h in archive.search("أسعار النفط في الأسواق", k=6, alpha=0.8)]
    assert default != [(h.id, h.score) for h in archive.search("أسعار النفط في الأسواق", k=6, alpha=0.5)]
    archive.close()


def test_a_sample_of_articles_holds_each_ones_rows_together_and_leaves_out_those_without_vectors(
        tmp_path: Path) -> None:
    """``DenseIndex.sample_rows``: evenly spaced articles, each one's rows (as ``rows_by_article``) in one
    run from its start, articles without a vector (here a deleted one) left out."""
    from archive import Archive

    docs = [Document(id=f"d{i}", title=f"خبر رقم {i}", body=" ".join(["كلمة"] * (40 + 150 * (i % 3))) + f" رقم {i}")
            for i in range(12)]
    Archive.build(docs, tmp_path / "index", encoder="hashing", procs=1).close()
    Archive.update(tmp_path / "index", delete=["d4"])  # marked dead: its ordinal stays, its rows go
    with Archive(tmp_path / "index") as archive:
        dense = archive._searcher.dense
        ordinals, rows, starts = dense.sample_rows(6)
        dead = dense.ids.index("d4")  # the ids keep a deleted article's ordinal
        assert not len(dense.rows_by_article(dead)) and dead not in ordinals.tolist()
        assert len(ordinals) == len(starts) and 4 <= len(ordinals) <= 6
        ends = [*starts[1:].tolist(), len(rows)]
        for ordinal, start, end in zip(ordinals.tolist(), starts.tolist(), ends):
            assert sorted(rows[start:end].tolist()) == sorted(dense.rows_by_article(ordinal).tolist())
        every, _, _ = dense.sample_rows(100)
        assert len(every) == 11  # every live article with a vector, once
        assert dense.sample_rows(6) is dense.sample_rows(6)  # kept
        assert [len(part) for part in dense.sample_rows(0)] == [0, 0, 0]

"""The numpy term index ranks plain keyword queries as Whoosh's BM25F does, and follows every change."""

from __future__ import annotations

from pathlib import Path

import pytest
from whoosh.query import Or, Term

from archive import Archive, Document, IndexFormatError
from archive.index.layout import current_generation
from archive.index.matching import plain_terms
from archive.search.query import parse_query
from archive.index.schema import TITLE_BOOST
from archive.index.scoring import DEFAULT_SCORING, Scoring

GRAMS_1_2 = Scoring(gram_k1=1.2, gram_b=0.75)
WHOOSH = Scoring(k1=DEFAULT_SCORING.k1, b=DEFAULT_SCORING.b, title_b=DEFAULT_SCORING.b, title_weight=TITLE_BOOST,
                 combine="sum")
"""Whoosh's BM25F as the schema and the searcher set it (a sum of per-field BM25, one b)."""

QUERIES = ["وزارة الصحة", "أمير منطقة الرياض", "ارتفاع أسعار النفط", "الهلال النصر", "مجلس الوزراء يوافق على",
           "التعليم المدارس الطلاب", "قوات كورية في كورسك", "كورسك كورسك"]


def _whoosh(archive: Archive, query: str, k: int = 10) -> list[tuple[str, float]]:
    lexical = archive._searcher.lexical  # noqa: SLF001 - both engines of the lexical side, compared
    parsed = parse_query(query, lexical.schema)
    return [(hit["id"], hit.score) for hit in lexical.searcher.search(parsed.query, limit=k)]


def _fast(archive: Archive, query: str, k: int = 10) -> list[tuple[str, float]]:
    lexical = archive._searcher.lexical  # noqa: SLF001
    pairs = plain_terms(parse_query(query, lexical.schema).query)
    return lexical._terms.search(pairs, k, scoring=WHOOSH)  # noqa: SLF001


@pytest.fixture(scope="module")
def saudi(tmp_path_factory: pytest.TempPathFactory, shared_news: list[Document]) -> Archive:
    return Archive.build(shared_news, tmp_path_factory.mktemp("terms") / "index", encoder=None, procs=1)


@pytest.mark.slow
def test_plain_queries_score_as_whoosh_does(saudi: Archive) -> None:
    compared = 0
    for query in QUERIES:
        whoosh, fast = _whoosh(saudi, query, 5), _fast(saudi, query, 5)
        assert len(fast) == len(whoosh), query
        for (_, expected), (_, got) in zip(whoosh, fast):
            # Whoosh stores field lengths as one byte (a few percent off); nothing else differs
            assert got == pytest.approx(expected, rel=0.03), query
        if whoosh:
            assert {d for d, _ in fast[:3]} & {d for d, _ in whoosh[:3]}, query
        compared += len(whoosh)
    assert compared >= 20


def test_lexical_search_takes_the_fast_path_only_for_plain_words(saudi: Archive) -> None:
    schema = saudi._searcher.lexical.schema  # noqa: SLF001
    pairs = plain_terms(parse_query("أسعار النفط", schema).query)
    assert sorted(pairs) == [("body", "اسعار"), ("body", "نفط"), ("title", "اسعار"), ("title", "نفط")]
    assert plain_terms(Term("body", "نفط")) == [("body", "نفط")]
    for constrained in ('"أسعار النفط"', "النفط AND أوبك", "النفط -أوبك", "+النفط أوبك", "source:cnn"):
        assert plain_terms(parse_query(constrained, schema).query) is None, constrained
    assert plain_terms(Or([Term("body", "نفط"), Term("source", "cnn")])) is None
    assert plain_terms(Term("body", "نفط", boost=3.0)) is None
    assert plain_terms(Or([Term("body", "نفط"), Term("title", "نفط")], scale=0.9)) is None
    # through the public API, scored as Whoosh scores: the same ids, in the same order at the top
    saudi.scoring = WHOOSH
    try:
        hits = saudi.search("ارتفاع أسعار النفط", mode="lexical", k=5)
    finally:
        saudi.scoring = DEFAULT_SCORING
    assert [h.id for h in hits][:2] == [d for d, _ in _whoosh(saudi, "ارتفاع أسعار النفط", 2)]


@pytest.mark.slow
def test_the_term_index_follows_adds_and_deletes(tmp_path: Path, shared_news: list[Document]) -> None:
    first, later = shared_news[:40], shared_news[40:]
    Archive.build(first, tmp_path / "inc", encoder=None, procs=1).close()
    gone = [d.id for d in first[:5]]
    incremental = Archive.update(tmp_path / "inc", add=later, delete=gone)
    full = Archive.build(first[5:] + later, tmp_path / "full", encoder=None, procs=1)
    for query in QUERIES:
        inc, ful = _fast(incremental, query), _fast(full, query)
        assert [d for d, _ in inc] == [d for d, _ in ful], query
        assert [s for _, s in inc] == pytest.approx([s for _, s in ful], rel=1e-6), query
        assert not set(gone) & {d for d, _ in inc}
        ids = [d.id for d in first[5:] + later]
        assert incremental._searcher.lexical.gram_scores(query, ids) == pytest.approx(  # noqa: SLF001
            full._searcher.lexical.gram_scores(query, ids), rel=1e-6)  # noqa: SLF001
    incremental.close()
    full.close()


def test_a_missing_term_index_is_a_format_error(tmp_path: Path, news: list[Document]) -> None:
    Archive.build(news, tmp_path / "index", encoder=None, procs=1).close()
    (current_generation(tmp_path / "index") / "terms" / "body.docs.npy").unlink()
    with pytest.raises(IndexFormatError, match=r"terms/body\.docs\.npy: missing.*archive build --full"):
        Archive.open(tmp_path / "index")


def test_character_grams_reach_forms_the_stemmer_leaves_apart(tmp_path: Path, news: list[Document]) -> None:
    archive = Archive.build(news, tmp_path / "index", encoder=None, procs=1)
    ids = [d.id for d in news]
    # "بخاركيف" (with خاركيف) is one unknown term to BM25F; its grams still meet the article
    assert archive.search("بخاركيف", mode="lexical") == []
    scores = dict(zip(ids, archive._searcher.lexical.gram_scores("بخاركيف", ids)))  # noqa: SLF001
    assert max(scores, key=scores.get) == "war-1"
    assert scores["war-1"] > 0 and scores["sport-1"] == 0.0
    # grams most articles share ("#ال" of the article) weigh next to nothing against rare ones
    common = dict(zip(ids, archive._searcher.lexical.gram_scores("العالم", ids)))  # noqa: SLF001
    assert 0 < common["war-1"] < scores["war-1"] / 5
    assert archive._searcher.lexical.gram_scores("في", ids) == [0.0] * len(ids)  # noqa: SLF001 - a stop word: no grams
    assert archive._searcher.lexical.gram_scores("بخاركيف", ["no-such-id"]) == [0.0]  # noqa: SLF001
    archive.close()


def test_gram_rows_are_the_same_whatever_order_the_triplets_come_in(tmp_path: Path, news: list[Document]) -> None:
    import numpy as np

    from archive.index import terms as terms_module
    from archive.index import terms_build

    builder = terms_module.TermIndexBuilder()
    for doc in news:
        builder.add(doc)
    postings, lengths = builder.arrays(), builder.lengths()
    builder.write(tmp_path / "in-order")
    gram_terms, gram_docs, gram_weights = postings[terms_module.GRAMS]
    shuffled = np.random.default_rng(7).permutation(len(gram_docs))
    postings[terms_module.GRAMS] = (gram_terms[shuffled], gram_docs[shuffled], gram_weights[shuffled])
    terms_build.write_arrays(tmp_path / "shuffled", list(builder.vocab), builder.ids, postings, lengths)
    ordered = terms_module.TermIndex(tmp_path / "in-order")
    mixed = terms_module.TermIndex(tmp_path / "shuffled")
    try:
        ids = [doc.id for doc in news]
        for query in ("كورية كورسك", "أسعار النفط", "الهلال"):
            grams = terms_build.word_grams  # the query's grams, as the hybrid ranker makes them
            query_grams = [g for word in query.split() for g in grams(word)]
            expected = ordered.gram_scores(query_grams, ids, scoring=GRAMS_1_2)
            assert any(expected)
            # within a row the order of grams may differ; the scores may not
            assert np.allclose(mixed.gram_scores(query_grams, ids, scoring=GRAMS_1_2), expected)
    finally:
        ordered.close()
        mixed.close()

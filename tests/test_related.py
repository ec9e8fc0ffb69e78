"""Related articles (``Archive.related``) and whole-text marking (``Archive.highlight``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from archive import Archive, Document, DocumentNotFoundError, QueryError
from archive.search.related import LEAD_WORDS, lead_query

KOREA_2 = Document(
    id="korea-2", title="جنود كوريا الشمالية يصلون إلى منطقة كورسك الروسية",
    body="قالت الاستخبارات الكورية الجنوبية إن آلاف الجنود من كوريا الشمالية وصلوا إلى منطقة كورسك "
    "الروسية للمشاركة في القتال ضد القوات الأوكرانية، وإن البنتاغون أكد نشر قوات كورية شمالية في روسيا.",
    published=datetime(2024, 11, 5, tzinfo=UTC), source="Al Jazeera", category="world",
)


def _docs(seed: Document, news: list[Document]) -> list[Document]:
    return [seed, *news, KOREA_2]


@pytest.fixture(scope="module")
def dense_archive(tmp_path_factory: pytest.TempPathFactory, news: list[Document], seed_document: Document):
    twin = replace(seed_document, id="seed-twin", source="copy")  # identical body: folded into the seed
    archive = Archive.build([*_docs(seed_document, news), twin], tmp_path_factory.mktemp("dense") / "index",
                            encoder="hashing", procs=1)
    yield archive
    archive.close()


@pytest.fixture(scope="module")
def lexical_archive(tmp_path_factory: pytest.TempPathFactory, news: list[Document], seed_document: Document):
    twin = replace(seed_document, id="seed-twin", source="copy")
    archive = Archive.build([*_docs(seed_document, news), twin], tmp_path_factory.mktemp("lexical") / "index",
                            encoder=None, procs=1)
    yield archive
    archive.close()


def test_related_by_vectors_is_the_nearest_by_the_mean_passage_vector(dense_archive: Archive,
                                                                     seed_document: Document) -> None:
    hits = dense_archive.related(seed_document.id, k=3)
    assert hits.mode == "semantic"
    assert hits[0].id == "korea-2"  # the other story of Korean troops in Kursk
    assert seed_document.id not in {h.id for h in hits} and "seed-twin" not in {h.id for h in hits}
    # Brute force over every stored passage vector: the mean of the seed's, against each article's best passage.
    dense = dense_archive._searcher.dense
    ids = dense.ids
    seed = ids.index(seed_document.id)
    centre = dense.passage_vectors(seed).mean(axis=0)
    centre /= np.linalg.norm(centre)
    best = {i: float((dense.passage_vectors(o) @ centre).max()) for o, i in enumerate(ids) if o != seed}
    expected = sorted(best, key=lambda i: (-best[i], i))[:3]
    assert [h.id for h in hits] == expected
    assert [h.score for h in hits] == pytest.approx([best[i] for i in expected], abs=1e-5)


def test_related_of_a_folded_duplicate_is_that_of_its_article(dense_archive: Archive,
                                                             seed_document: Document) -> None:
    assert dense_archive.duplicate_of("seed-twin") == seed_document.id
    assert [h.id for h in dense_archive.related("seed-twin", k=4)] == [
        h.id for h in dense_archive.related(seed_document.id, k=4)]


def test_related_falls_back_to_title_and_lead_on_a_lexical_archive(lexical_archive: Archive,
                                                                   seed_document: Document) -> None:
    hits = lexical_archive.related(seed_document.id, k=5)
    assert hits.mode == "lexical"
    assert hits[0].id == "korea-2"
    assert {seed_document.id, "seed-twin"}.isdisjoint(h.id for h in hits)
    assert hits[0].marks, "the shared words are marked in the snippet"
    # The same ranking as a lexical search for the title and lead, less the article itself.
    searched = lexical_archive.search(lead_query(seed_document), k=6, mode="lexical")
    assert [h.id for h in hits] == [h.id for h in searched if h.id != seed_document.id][:5]


def test_lead_query_is_title_and_lead_words_without_query_syntax() -> None:
    doc = Document(id="x", title='قمة "الرياض" source:bbc', body=" ".join(["كلمة"] * 100) + " OR نهاية")
    query = lead_query(doc)
    assert '"' not in query and "source:" not in query
    assert query.split()[:2] == ["قمة", "الرياض"]
    assert query.split().count("كلمة") == LEAD_WORDS


def test_related_refuses_an_unknown_id_and_a_bad_k(lexical_archive: Archive, seed_document: Document) -> None:
    with pytest.raises(DocumentNotFoundError, match="no-such-id"):
        lexical_archive.related("no-such-id")
    with pytest.raises(QueryError, match="k must be a positive whole number"):
        lexical_archive.related(seed_document.id, k=0)
    with pytest.raises(QueryError, match="k is at most"):
        lexical_archive.related(seed_document.id, k=5000)


def test_highlight_marks_query_words_in_the_whole_text(lexical_archive: Archive, seed_document: Document) -> None:
    marked = lexical_archive.highlight(seed_document.body, "قوات كورية في كورسك")
    assert marked.text == seed_document.body  # whole, line breaks kept
    words = {seed_document.body[s:e] for s, e in marked.marks}
    assert {"كورسك", "قوات"} <= words and "القوات" in words  # the analyzer's forms, as in snippets
    assert "في" not in words  # a stop word is never marked
    assert lexical_archive.highlight("نص", "").marks == ()


def test_related_on_a_one_article_archive_says_so(tmp_path: Path, seed_document: Document) -> None:
    with Archive.build([seed_document], tmp_path / "index", encoder="hashing", procs=1) as archive:
        hits = archive.related(seed_document.id)
    assert list(hits) == [] and hits.reason

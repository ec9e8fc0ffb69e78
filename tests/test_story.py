"""A story's timeline (``Archive.story``, ``archive story``): related articles grouped into events by
meaning and date, oldest first, on the seed's story told by several outlets over three months
(:mod:`tests.storydata`)."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from archive import Archive, Document, DocumentNotFoundError, QueryError
from archive.cli import app
from archive.search import related
from archive.search.story import DEFAULT_LIMIT, MAX_LIMIT, Event, Story, cosines, group, standardized, word_vectors

from .storydata import BACKGROUND, CAPTURED, CASUALTIES, SEED_DATE, SENT, story_documents

KILLED = {d.id for d in CASUALTIES}
SENT_IDS = {d.id for d in SENT}
QUERY = "جنود كوريا الشمالية في كورسك"


@pytest.fixture(scope="module")
def meaning_archive(tmp_path_factory: pytest.TempPathFactory, seed_document: Document) -> Iterator[Archive]:
    """The story's articles with e5-small vectors (the archive's default encoder), and an identical
    copy of the seed from another outlet (folded into it)."""
    twin = replace(seed_document, id="seed-twin", source="copy", published=SEED_DATE)
    with Archive.build([*story_documents(seed_document), twin], tmp_path_factory.mktemp("story") / "index",
                       encoder="e5-small", procs=1) as built:
        yield built


@pytest.fixture(scope="module")
def words_archive(tmp_path_factory: pytest.TempPathFactory, seed_document: Document) -> Iterator[Archive]:
    """The same articles in a lexical-only archive (``--encoder none``)."""
    with Archive.build(story_documents(seed_document), tmp_path_factory.mktemp("story-words") / "index",
                       encoder=None, procs=1) as built:
        yield built


def _event_of(story: Story, doc_id: str) -> Event:
    (event,) = [e for e in story.events if doc_id in {a.id for a in e.articles}]
    return event


def _assert_timeline(story: Story) -> None:
    """Events oldest first, each one stretch of time with its articles oldest first."""
    starts = [e.start for e in story.events]
    assert starts == sorted(starts)
    for event in story.events:
        dates = [a.published for a in event.articles]
        assert dates == sorted(dates) and event.start == dates[0] and event.end == dates[-1]
        assert event.title in {a.title for a in event.articles}
        assert event.headline_id in {a.id for a in event.articles}


# --------------------------------------------------------------------------- the library
def test_an_articles_story_puts_events_a_month_apart_in_separate_events_in_date_order(
        meaning_archive: Archive, seed_document: Document) -> None:
    story = meaning_archive.story(seed_document.id)
    assert (story.seed, story.query, story.mode, story.grouping) == (seed_document.id, None, "semantic", "meaning")
    _assert_timeline(story)
    killed = _event_of(story, "nk-killed-bbc")
    assert {a.id for a in killed.articles} == KILLED  # three outlets, three days: one event
    assert killed.sources == ("Al Arabiya", "BBC", "France 24")  # each once: by name
    assert killed.start == datetime(2024, 12, 15, 10, tzinfo=UTC) and killed.end == datetime(2024, 12, 18, 10, tzinfo=UTC)
    october = _event_of(story, seed_document.id)
    assert october.start.month == 10 and october.end.month == 10  # type: ignore[union-attr]
    assert not KILLED & {a.id for a in october.articles}
    assert story.events.index(october) < story.events.index(killed) < story.events.index(_event_of(story, "nk-captured-cnn"))
    # Every article of the story's three stretches is in it, each once; the seed has no score.
    ids = [a.id for e in story.events for a in e.articles]
    assert len(ids) == len(set(ids)) == story.considered
    assert {seed_document.id, *SENT_IDS, *KILLED, *(d.id for d in CAPTURED)} <= set(ids)
    assert "seed-twin" not in ids  # an identical copy is folded into the seed, never listed twice
    (seed,) = [a for e in story.events for a in e.articles if a.id == seed_document.id]
    assert seed.score is None and all(a.score is not None for e in story.events for a in e.articles if a is not seed)


def test_far_unrelated_articles_stay_out_of_an_articles_story(meaning_archive: Archive, seed_document: Document) -> None:
    """Neighbours below the encoder's similarity floor are not neighbours (as in a search by meaning)."""
    ids = {a.id for e in meaning_archive.story(seed_document.id).events for a in e.articles}
    assert not {"sport-1", "tech-1"} & ids  # the derby and a satellite launch


@pytest.fixture(scope="module")
def background_archive(tmp_path_factory: pytest.TempPathFactory, seed_document: Document) -> Iterator[Archive]:
    """The story's articles among more unrelated news (:data:`tests.storydata.BACKGROUND`), e5-small."""
    with Archive.build([*story_documents(seed_document), *BACKGROUND],
                       tmp_path_factory.mktemp("story-background") / "index", encoder="e5-small", procs=1) as built:
        yield built


def test_an_articles_story_keeps_what_stands_out_from_the_archive_at_large(
        background_archive: Archive, seed_document: Document, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reports that clear the search floor but are no nearer the seed than the archive's other news are
    not its story (a heat wave warning, an asteroid probe...); every Kursk report stays."""
    kursk = {seed_document.id, *SENT_IDS, *KILLED, *(d.id for d in CAPTURED)}
    unrelated = {d.id for d in BACKGROUND} | {"health-1", "econ-1", "tech-1", "sport-1"}
    unbounded = {a.id for e in background_archive.story(seed_document.id, limit=14).events for a in e.articles}
    noise = unbounded & unrelated
    assert noise and kursk <= unbounded  # 31 articles: too few to measure a background (BACKGROUND_MIN)
    # 31 articles, a third of them the story: with the sample's top third left out, they stand on the rest
    monkeypatch.setattr(related, "BACKGROUND_MIN", 8)
    monkeypatch.setattr(related, "BACKGROUND_TRIM", 0.4)
    story = background_archive.story(seed_document.id, limit=14)
    ids = {a.id for e in story.events for a in e.articles}
    assert kursk <= ids and not ids & unrelated
    _assert_timeline(story)
    fewer = {a.id for e in background_archive.story(seed_document.id, limit=6).events for a in e.articles}
    assert len(fewer) == 7 and fewer <= ids  # the bar does not depend on how many articles are asked for


def test_the_story_bound_stands_on_the_background_without_the_storys_own_articles() -> None:
    """:func:`archive.search.related.story_floor`: ``STORY_Z`` standard deviations above the seed's mean
    similarity to a sample of the archive (each article by its best passage), the seed and the most
    similar ``BACKGROUND_TRIM`` of the sample left out; no bound from too small a sample."""
    rng = np.random.default_rng(5)
    dim, count = 16, 400
    seed, topic = np.eye(dim, dtype=np.float32)[:2]
    articles = 0.3 * seed + topic + 0.05 * rng.normal(size=(count, dim)).astype(np.float32)  # news at large
    articles[1:10] = seed + 0.1 * rng.normal(size=(9, dim))  # nine articles of the seed's story
    articles[0] = seed
    second = topic + 0.05 * rng.normal(size=(count, dim)).astype(np.float32)  # a second passage, off the seed
    second[:10] = seed + 0.1 * rng.normal(size=(10, dim))  # the story's second passages tell it too
    passages = np.empty((2 * count, dim), dtype=np.float32)
    passages[0::2], passages[1::2] = articles, second
    passages[[4, 10]] = topic  # two of the story whose best passage is their second one
    passages /= np.linalg.norm(passages, axis=1, keepdims=True)

    class Dense:  # two passages per article, rows 2i and 2i+1
        ids = [f"a{i}" for i in range(count)]

        def passage_vectors(self, ordinal: int) -> np.ndarray:
            return passages[2 * ordinal : 2 * ordinal + 2]

        def sample_rows(self, articles: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            picked = np.unique(np.linspace(0, count - 1, min(count, articles)).astype(np.int64))
            return picked, np.stack([2 * picked, 2 * picked + 1], axis=1).ravel(), 2 * np.arange(len(picked))

        def vectors(self) -> np.ndarray:
            return passages

    dense = Dense()
    centre = passages[0:2].mean(axis=0)
    centre /= np.linalg.norm(centre)
    best = (passages @ centre).reshape(count, 2).max(axis=1)[1:]  # every article but the seed
    kept = np.sort(best)[: len(best) - int(related.BACKGROUND_TRIM * len(best))]
    expected = float(kept.mean() + related.STORY_Z * kept.std())
    assert related.story_floor(dense, 0) == pytest.approx(expected, abs=1e-5)  # type: ignore[arg-type]
    untrimmed = float(best.mean() + related.STORY_Z * best.std())
    assert untrimmed > expected + 0.01  # left in, the story's own articles would raise the bar
    assert min(best[:9]) > expected > max(best[9:])  # the story is in, the news at large out
    assert related.story_floor(dense, 0, z=0.0) == pytest.approx(float(kept.mean()), abs=1e-5)  # type: ignore[arg-type]
    few = related.BACKGROUND_MIN
    Dense.ids = Dense.ids[:few]  # the seed and BACKGROUND_MIN - 1 others: too few
    count = few
    assert related.story_floor(dense, 0) is None  # type: ignore[arg-type]


def test_a_folded_copys_story_is_the_story_of_the_article_it_was_folded_into(
        meaning_archive: Archive, seed_document: Document) -> None:
    assert meaning_archive.story("seed-twin") == meaning_archive.story(seed_document.id)


def test_a_querys_story_groups_what_the_search_finds(meaning_archive: Archive) -> None:
    story = meaning_archive.story(query=QUERY)
    assert (story.seed, story.query, story.mode) == (None, QUERY, "hybrid")
    _assert_timeline(story)
    assert {a.id for a in _event_of(story, "nk-killed-france24").articles} == KILLED
    assert "sport-1" not in {a.id for e in story.events for a in e.articles}  # found by neither words nor meaning


def test_the_bound_on_articles_considered(meaning_archive: Archive, seed_document: Document) -> None:
    story = meaning_archive.story(seed_document.id, limit=3)
    nearest = [hit.id for hit in meaning_archive.related(seed_document.id, k=3)]
    assert story.limit == 3 and story.considered == 4  # the seed and its three nearest
    assert {a.id for e in story.events for a in e.articles} == {seed_document.id, *nearest}
    assert meaning_archive.story(query=QUERY, limit=2).considered == 2
    assert meaning_archive.story(query=QUERY).limit == DEFAULT_LIMIT
    assert meaning_archive.story(query=QUERY, limit=MAX_LIMIT).limit == MAX_LIMIT
    for bad in (0, MAX_LIMIT + 1, -1, True, 2.5, "10"):
        with pytest.raises(QueryError, match=r"limit \(articles a story considers\)"):
            meaning_archive.story(seed_document.id, limit=bad)  # type: ignore[arg-type]


def test_filters_restrict_the_articles_but_keep_the_seed(meaning_archive: Archive, seed_document: Document) -> None:
    story = meaning_archive.story(seed_document.id, since="2024-12-01")
    ids = {a.id for e in story.events for a in e.articles}
    assert seed_document.id in ids and not SENT_IDS & ids and KILLED <= ids
    story = meaning_archive.story(query=QUERY, source=["BBC"])
    assert {a.source for e in story.events for a in e.articles} == {"BBC"}


def test_bad_requests_are_typed_errors(meaning_archive: Archive) -> None:
    with pytest.raises(DocumentNotFoundError, match="no document with id 'nope'"):
        meaning_archive.story("nope")
    with pytest.raises(QueryError, match="exactly one"):
        meaning_archive.story()
    with pytest.raises(QueryError, match="exactly one"):
        meaning_archive.story("nk-sent-bbc", query=QUERY)
    with pytest.raises(QueryError, match="since"):
        meaning_archive.story(query=QUERY, since="2024-13")


def test_a_query_that_finds_nothing_says_why(meaning_archive: Archive) -> None:
    story = meaning_archive.story(query="في من على")  # stop words only
    assert story.events == () and story.reason
    story = meaning_archive.story(query=QUERY, since="2030")
    assert story.events == () and "no article" in (story.reason or "")


def test_a_lexical_only_archive_groups_by_words(words_archive: Archive, seed_document: Document) -> None:
    """No vectors: the related articles are found by the seed's title and lead, the events by the
    TF-IDF of each article's title and lead (and the dates)."""
    story = words_archive.story(seed_document.id)
    assert (story.mode, story.grouping) == ("lexical", "words")
    _assert_timeline(story)
    assert {a.id for a in _event_of(story, "nk-killed-bbc").articles} == KILLED
    assert _event_of(story, "nk-sent-bbc") is not _event_of(story, "nk-killed-bbc")
    story = words_archive.story(query=QUERY)
    assert story.mode == "lexical" and {a.id for a in _event_of(story, "nk-killed-arabiya").articles} == KILLED


def test_undated_articles_are_listed_apart(tmp_path: Path, seed_document: Document) -> None:
    undated = Document(id="nk-undated", title="جنود من كوريا الشمالية في كورسك",
                       body="قالت مصادر أوكرانية إن جنودا من كوريا الشمالية يقاتلون في منطقة كورسك الروسية.",
                       source="Reuters")
    with Archive.build([*story_documents(seed_document), undated], tmp_path / "index", encoder=None,
                       procs=1) as archive:
        story = archive.story("nk-undated")
    assert [a.id for a in story.undated] == ["nk-undated"]
    assert "nk-undated" not in {a.id for e in story.events for a in e.articles}


def test_the_story_as_json(meaning_archive: Archive, seed_document: Document) -> None:
    story = meaning_archive.story(seed_document.id)
    record = json.loads(json.dumps(story.as_dict(), ensure_ascii=False))
    assert record["seed"] == seed_document.id and record["considered"] == story.considered
    killed = next(e for e in record["events"] if e["headline_id"] in KILLED)
    assert killed["sources"] == ["Al Arabiya", "BBC", "France 24"]
    assert killed["start"] == "2024-12-15T10:00:00+00:00" and len(killed["articles"]) == 3
    assert set(killed["articles"][0]) == {"id", "title", "published", "source", "url", "score"}


# --------------------------------------------------------------------------- the grouping
def _days(*dates: str) -> np.ndarray:
    return np.array([datetime.fromisoformat(d).replace(tzinfo=UTC).timestamp() / 86400 for d in dates])


def test_grouping_two_topics_a_month_apart() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=16), rng.normal(size=16)
    vectors = np.array([a + 0.1 * rng.normal(size=16) for _ in range(3)] + [b + 0.1 * rng.normal(size=16) for _ in range(3)])
    labels = group(cosines(vectors), _days("2024-10-01", "2024-10-02", "2024-10-03", "2024-11-01", "2024-11-02", "2024-11-04"))
    assert labels.tolist() == [0, 0, 0, 1, 1, 1]


def test_an_event_is_cut_where_its_dates_leave_a_gap() -> None:
    """One topic in two stretches 12 days apart, where the days weigh nothing: two events all the same."""
    rng = np.random.default_rng(2)
    topic, other = rng.normal(size=16), rng.normal(size=16)
    vectors = np.array([topic + 0.05 * rng.normal(size=16) for _ in range(4)] + [other])
    days = _days("2024-10-01", "2024-10-02", "2024-10-14", "2024-10-15", "2024-10-15")
    labels = group(cosines(vectors), days, day_scale=1e9)
    assert labels[0] == labels[1] != labels[2] == labels[3] != labels[4]


def test_standard_scores_of_similarity() -> None:
    assert standardized(cosines(np.ones((2, 4)))).tolist() == [[0.0, 0.0], [0.0, 0.0]]  # too few to judge
    assert not standardized(cosines(np.eye(4))).any()  # no pair stands out
    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.0, 0.0]])
    scores = standardized(cosines(vectors))
    assert scores[0, 1] > 1 and scores[0, 2] < 0 and scores[3].tolist() == [0.0, 0.0, 0.0, 0.0]


# --------------------------------------------------------------------------- the command line
def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["story", *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_prints_one_line_per_event_oldest_first(meaning_archive: Archive, seed_document: Document) -> None:
    code, out, _ = _run(seed_document.id, "--index", str(meaning_archive.path), "--bidi", "off")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith(f"story of {seed_document.id}: ") and "nearest by meaning" in lines[0]
    events = [line for line in lines[1:] if re.match(r"\s*\d+\. ", line)]
    assert len(events) == len(meaning_archive.story(seed_document.id).events)
    (killed,) = [line for line in events if "2024-12-15 → 2024-12-18" in line]
    assert killed.endswith("— Al Arabiya, BBC, France 24 (3 articles)")
    dates = [re.search(r"\d{4}-\d\d-\d\d", line).group() for line in events]  # type: ignore[union-attr]
    assert dates == sorted(dates)


def test_cli_lists_articles_and_prints_json(meaning_archive: Archive, seed_document: Document) -> None:
    index = str(meaning_archive.path)
    code, out, _ = _run(seed_document.id, "--articles", "--index", index, "--bidi", "off")
    assert code == 0 and all(f"  {doc_id}  " in out for doc_id in KILLED)
    code, out, _ = _run("--query", QUERY, "--json", "--limit", "5", "--index", index)
    record = json.loads(out)
    assert code == 0 and record["query"] == QUERY and record["limit"] == 5 and record["considered"] == 5


def test_cli_errors(meaning_archive: Archive) -> None:
    index = str(meaning_archive.path)
    code, _, err = _run("nope", "--index", index)
    assert code == 1 and err.startswith("error: no document with id 'nope'")
    code, _, err = _run("nk-sent-bbc", "--limit", str(MAX_LIMIT + 1), "--index", index)
    assert code == 1 and f"from 1 to {MAX_LIMIT}" in err
    code, _, err = _run("--index", index)
    assert code == 2 and "give an article ID or --query" in err
    code, _, err = _run("nk-sent-bbc", "--query", QUERY, "--index", index)
    assert code == 2


def test_cli_help_states_the_librarys_bounds() -> None:
    result = CliRunner().invoke(app, ["story", "--help"], env={"COLUMNS": "200"})
    assert f"default {DEFAULT_LIMIT}, at most {MAX_LIMIT}" in " ".join(result.stdout.split())


# --------------------------------------------------------------------------- the web
@pytest.fixture(scope="module")
def client(meaning_archive: Archive) -> Iterator[object]:
    from fastapi.testclient import TestClient

    from archive.web.app import create_app

    with TestClient(create_app(meaning_archive)) as test_client:
        yield test_client


def test_api_story_is_the_librarys_story(client, meaning_archive: Archive, seed_document: Document) -> None:
    answer = client.get("/api/story", params={"id": seed_document.id})
    assert answer.status_code == 200
    assert answer.json() == json.loads(json.dumps(meaning_archive.story(seed_document.id).as_dict()))
    answer = client.get("/api/story", params={"q": QUERY, "limit": 4, "since": "2024-12"})
    record = answer.json()
    assert record["query"] == QUERY and record["considered"] <= 4 and record["limit"] == 4
    assert all(e["start"] >= "2024-12" for e in record["events"])


def test_api_story_refusals_name_the_problem_and_no_path(client, meaning_archive: Archive) -> None:
    root = str(meaning_archive.path)
    cases = [({"id": "nope"}, 404, "no article with id 'nope'"), ({}, 400, "exactly one"),
             ({"id": "nk-sent-bbc", "q": QUERY}, 400, "exactly one"),
             ({"id": "nk-sent-bbc", "limit": MAX_LIMIT + 1}, 400, f"limit: Input should be less than or equal to {MAX_LIMIT}"),
             ({"q": QUERY, "until": "2024-99"}, 400, "until")]
    for params, status, words in cases:
        answer = client.get("/api/story", params=params)
        assert answer.status_code == status and words in answer.json()["message"], (params, answer.text)
        page = client.get("/story", params=params)
        assert page.status_code == status and 'lang="ar"' in page.text
        assert root not in answer.text and root not in page.text


def test_story_page_lists_events_oldest_first_and_opens_to_articles(client, seed_document: Document) -> None:
    page = client.get("/story", params={"id": seed_document.id})
    assert page.status_code == 200 and 'dir="rtl"' in page.text and "الخط الزمني لقصة" in page.text
    starts = re.findall(r'<span class="when"><bdi dir="ltr"><time datetime="([^"]+)"', page.text)
    assert len(starts) >= 4 and starts == sorted(starts)
    assert "2024-12-15</time> – <time" in page.text and "3 مقالات" in page.text
    assert 'class="seed"' in page.text and "هذا المقال" in page.text
    assert f'href="/article?id={seed_document.id}"' in page.text
    english = client.get("/story", params={"q": QUERY}, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert 'dir="ltr"' in english.text and "Timeline of the news about" in english.text


def test_article_and_results_pages_link_to_their_story(client, seed_document: Document) -> None:
    article = client.get("/article", params={"id": seed_document.id})
    assert f'href="/story?id={seed_document.id}" id="story-link"' in article.text
    results = client.get("/", params={"q": QUERY, "source": "BBC", "since": "2024-10"})
    (link,) = re.findall(r'href="(/story\?[^"]+)" id="story-link"', results.text)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(link.replace("&amp;", "&")).query)
    assert query == {"q": [QUERY], "source": ["BBC"], "since": ["2024-10"]}
    assert 'id="story-link"' not in client.get("/").text  # no search, no story to link


def test_story_page_of_a_lexical_only_archive_says_how_it_grouped(words_archive: Archive,
                                                                  seed_document: Document) -> None:
    from fastapi.testclient import TestClient

    from archive.web.app import create_app

    with TestClient(create_app(words_archive)) as words_client:
        page = words_client.get("/story", params={"id": seed_document.id})
        assert page.status_code == 200 and "جُمعت حسب الكلمات والتاريخ" in page.text
        assert words_client.get("/api/story", params={"q": QUERY}).json()["grouping"] == "words"
        empty = words_client.get("/story", params={"q": QUERY, "since": "2030"})
        assert 'id="no-events"' in empty.text and "لا مقال يحوي هذه الكلمات ضمن الحدود المختارة" in empty.text


def test_near_copies_of_one_story_are_one_event() -> None:
    """The build's near copies (folding's groups) join one event whatever their vectors say."""
    vectors = np.eye(5)  # five articles that share nothing
    days = _days("2024-12-15", "2024-12-16", "2024-12-17", "2024-12-18", "2024-12-19")
    assert len(set(group(cosines(vectors), days).tolist())) == 5
    labels = group(cosines(vectors), days, np.array([0, -1, -1, 0, -1]))
    assert labels[0] == labels[3] and len(set(labels.tolist())) == 4


def test_word_vectors_weigh_what_sets_an_article_apart(seed_document: Document) -> None:
    """TF-IDF within the story: two reports of the casualties are nearer each other than either is to a
    report of the capture, though all share "كوريا الشمالية" and "كورسك"."""
    texts = [f"{d.title}\n{d.body}" for d in (*CASUALTIES, *CAPTURED)]
    similarity = cosines(word_vectors(texts))
    assert np.allclose(np.diagonal(similarity), 1.0)
    assert similarity[0, 1] > max(similarity[0, 3], similarity[1, 3])
    assert not cosines(word_vectors(["", "كورسك"]))[0].any()  # no words: no similarity


def test_article_vectors_in_one_gather_are_each_articles_own(meaning_archive: Archive) -> None:
    from archive.search.related import article_vector, article_vectors

    dense = meaning_archive._searcher.dense
    ordinals = list(range(len(dense.ids)))[::-1]
    together = article_vectors(dense, ordinals)
    for row, ordinal in zip(together, ordinals):
        alone = article_vector(dense, ordinal)
        assert alone is not None and np.allclose(row, alone, atol=1e-6)

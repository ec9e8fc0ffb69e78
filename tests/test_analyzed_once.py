"""Every indexed article is analyzed once per write, and its words feed the term index and Whoosh alike."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from archive import Archive, Document
from archive.index.schema import make_schema
from archive.index.stores_keyed import whoosh_fields
from archive.text import analysis
from archive.index import near_build as folding


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _Recorder:
    """Stands in for the analyzer's token pattern and logs a digest of every text it tokenizes, to a
    file: Whoosh's indexing processes are forked from the test's, so their calls are logged too."""

    def __init__(self, pattern: re.Pattern[str], log: Path) -> None:
        self._pattern, self._log = pattern, log

    def _record(self, text: str) -> None:
        with open(self._log, "a", encoding="utf-8") as fh:
            fh.write(_digest(text) + "\n")

    def findall(self, text: str) -> list[str]:
        self._record(text)
        return self._pattern.findall(text)

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        self._record(text)
        return self._pattern.finditer(text)


@pytest.fixture
def tokenized(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], Counter[str]]:
    """Logs every text the indexes' analysis tokenizes from here on; the fixture reads how many times
    each text (by digest) was tokenized, and starts the log afresh."""
    log = tmp_path / "tokenized.log"
    log.touch()
    pattern = analysis._TOKEN_RE  # noqa: SLF001 - the one pattern every analysis tokenizes with
    monkeypatch.setattr(analysis, "_TOKEN_RE", _Recorder(pattern, log))
    # Near-copy detection reads raw words for its shingles (no terms): not the indexes' analysis.
    monkeypatch.setattr(folding, "tokens", pattern.findall)

    def read() -> Counter[str]:
        counts = Counter(log.read_text(encoding="utf-8").split())
        log.write_text("", encoding="utf-8")
        return counts

    return read


def _filler(n: int) -> list[Document]:
    topics = ["النفط والغاز", "الانتخابات البرلمانية", "كرة القدم", "الزلزال والإغاثة", "الذكاء الاصطناعي"]
    return [Document(id=f"n{i}", title=f"خبر {i} عن {topics[i % 5]}",
                     body=f"تقرير رقم {i} يتناول {topics[i % 5]} في المنطقة العربية وما يتبعه من تطورات يوم {i}.")
            for i in range(n)]


def test_a_full_build_analyzes_each_title_and_body_once(
    tmp_path: Path, tokenized: Callable[[], Counter[str]], news: list[Document]
) -> None:
    docs = [*news, *_filler(30)]
    # Two indexing processes, Whoosh's default: a worker that analyzed the text again would log it.
    archive = Archive.build(docs, tmp_path / "index", encoder=None, procs=2)
    counts = tokenized()
    for doc in docs:
        assert counts[_digest(doc.body)] == 1, doc.id
        assert counts[_digest(doc.title)] == 1, doc.id
    # Whoosh kept the positions: a phrase is found, the same words apart are not a phrase.
    assert [h.id for h in archive.search('"منظمة الصحة العالمية"', mode="lexical")] == ["health-1"]
    assert [h.id for h in archive.search('"صاروخا باليستيا"', mode="lexical")] == ["korea-1"]
    assert archive.search('"باليستيا صاروخا"', mode="lexical").total == 0
    archive.close()


def test_an_increment_analyzes_each_added_article_once(
    tmp_path: Path, tokenized: Callable[[], Counter[str]], news: list[Document]
) -> None:
    kept, added = [*_filler(30), *news[:4]], news[4:]
    Archive.build(kept, tmp_path / "index", encoder=None, procs=1).close()
    tokenized()
    archive = Archive.update(tmp_path / "index", add=added)
    counts = tokenized()
    for doc in added:
        assert counts[_digest(doc.body)] == 1, doc.id
        assert counts[_digest(doc.title)] == 1, doc.id
    for doc in kept:  # carried over by the increment, never analyzed again
        assert counts[_digest(doc.body)] == 0, doc.id
    assert [h.id for h in archive.search('"موجة حر شديدة"', mode="lexical")] == ["health-1"]
    archive.close()


def test_whoosh_indexes_the_terms_as_its_analyzer_would_the_text(news: list[Document]) -> None:
    """The words given to Whoosh are the tokens its own analyzer makes of the text: same terms, same
    positions (stop words take none), so phrases match as before."""
    schema = make_schema()
    for doc in news:
        fields = whoosh_fields(doc)
        for name in ("title", "body"):
            given = sorted(schema[name].index(fields[name]))
            analyzed = sorted(schema[name].index(getattr(doc, name)))
            assert given == analyzed, (doc.id, name)
            assert given  # every title and body has words

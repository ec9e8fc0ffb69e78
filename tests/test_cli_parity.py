"""Command line parity (issue 25, item 4): `archive related`, `export` with the search's options,
month and year dates, CSV with a byte order mark, ids never broken in an 80-column table, and
result numbers as handles for `archive show`."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archive import Archive, Document, QueryError
from archive.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

KOREA_2 = Document(
    id="korea-2", title="جنود كوريا الشمالية يصلون إلى منطقة كورسك الروسية",
    body="قالت الاستخبارات الكورية الجنوبية إن آلاف الجنود من كوريا الشمالية وصلوا إلى منطقة كورسك "
    "الروسية للمشاركة في القتال ضد القوات الأوكرانية، وإن البنتاغون أكد نشر قوات كورية شمالية في روسيا.",
    published=datetime(2024, 11, 5, tzinfo=UTC), source="Al Jazeera", category="world", author="أحمد علي",
)
NUMBERED = Document(
    id="1", title="صاروخ كوري شمالي جديد يسقط في بحر اليابان",
    body="قالت اليابان إن صاروخا أطلقته كوريا الشمالية سقط في بحر اليابان خارج منطقتها الاقتصادية الخالصة.",
    published=datetime(2024, 10, 1, tzinfo=UTC), source="NHK", category="world",
)
ANT_ID = "SKY-internationalNews-2029-20180723"  # the shape of an ANT DOCNO: 35 characters
LONG_ID = "saudinewsnet-2015-07-21-okaz-local-news-000123"  # 46: the title column narrows for it
HUGE_ID = "archive-of-a-long-feed/2018/07/23/international/story-000000000123"  # 66: on its own line


def _cli(*args: str, columns: int = 80):  # noqa: ANN202 - click's Result
    return runner.invoke(app, list(args), env={"COLUMNS": str(columns)})


def _flat(output: str) -> str:
    """A usage error's text without its frame and line breaks."""
    return " ".join(re.sub("[│╭╮╰╯─]", " ", output).split())


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, news: list[Document]) -> Path:
    path = tmp_path_factory.mktemp("parity") / "index"
    Archive.build([*news, KOREA_2, NUMBERED], path, encoder="none", procs=1).close()
    return path


# ---------------------------------------------------------------------- dates
def test_month_and_year_dates_cover_the_whole_month_and_year(index: Path) -> None:
    with Archive(index) as arc:
        def ids(**filters: str) -> list[str]:
            out = io.StringIO()
            arc.export(out, None, sort="date", **filters)
            return [json.loads(line)["id"] for line in out.getvalue().splitlines()]

        assert ids(until="2023") == ["tech-1"]  # 2023-12-05: "until 2023" runs through December 31st
        assert ids(since="2024", until="2024-04") == ["sport-1", "econ-1"]  # 2024-04-10 is inside April
        assert ids(since="2024-09", until="2024-10") == ["korea-1", "1"]  # September 18th, October 1st
        assert [h.id for h in arc.search("كوريا", since="2024-10", mode="lexical", sort="date")] == ["1", "korea-2"]
        with pytest.raises(QueryError, match=r"until: '2024-13' is not a date; use YYYY-MM-DD, YYYY-MM, YYYY"):
            arc.search("كوريا", until="2024-13")


def test_bad_date_names_the_option_and_the_forms(index: Path) -> None:
    for command in (["search", "كوريا"], ["export"]):
        result = _cli(*command, "--since", "2024-6", "--index", str(index))
        assert result.exit_code == 2
        message = _flat(result.output)
        assert "Invalid value for '--since': '2024-6' is not a date; use YYYY-MM-DD, YYYY-MM, YYYY" in message, message
    result = _cli("search", "كوريا", "--until", "أمس", "--index", str(index))
    assert result.exit_code == 2 and "Invalid value for '--until': 'أمس' is not a date" in _flat(result.output)
    result = _cli("search", "كوريا", "--mode", "lexical", "--since", "2024-10", "--until", "2024", "--sort", "date",
                  "--json", "--index", str(index))
    assert [json.loads(line).get("id") for line in result.output.splitlines()][:-1] == ["1", "korea-2"]


def test_web_takes_month_and_year_dates(index: Path) -> None:
    from starlette.testclient import TestClient

    from archive.web.app import create_app

    with Archive(index) as arc, TestClient(create_app(arc)) as client:
        answer = client.get("/api/search", params={"q": "كوريا", "mode": "lexical", "since": "2024-10", "until": "2024",
                                                    "sort": "date"})
        assert answer.status_code == 200, answer.text
        assert [hit["id"] for hit in answer.json()["hits"]] == ["1", "korea-2"]
        bad = client.get("/api/search", params={"q": "كوريا", "since": "2024-6"})
        assert bad.status_code == 400 and "YYYY-MM" in bad.json()["message"]


# -------------------------------------------------------------------- related
def test_related_prints_what_the_library_and_the_web_give(index: Path) -> None:
    with Archive(index) as arc:
        expected = [h.id for h in arc.related("korea-1", k=3)]
    assert expected[0] in {"korea-2", "1"}  # the other North Korean stories share its words
    result = _cli("related", "korea-1", "-k", "3", "--json", "--index", str(index))
    assert result.exit_code == 0, result.output
    *records, summary = [json.loads(line) for line in result.output.splitlines()]
    assert [r["id"] for r in records] == expected and [r["rank"] for r in records] == [1, 2, 3]
    assert records[0]["title"] and records[0]["snippet"]
    assert summary["summary"]["related_to"] == "korea-1" and summary["summary"]["mode"] == "lexical"
    table = _cli("related", "korea-1", "--limit", "2", "--index", str(index)).output
    assert "articles nearest to korea-1 by their words" in table
    assert expected[0] in table and expected[2] not in table
    missing = _cli("related", "nope", "--index", str(index))
    assert missing.exit_code == 1 and missing.output.startswith("error: no document with id 'nope'")


# --------------------------------------------------------------------- export
@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory, shared_news: list[Document]) -> Path:
    path = tmp_path_factory.mktemp("parity-many") / "index"
    Archive.build(shared_news, path, encoder="none", procs=1).close()
    return path


@pytest.mark.slow
def test_export_with_a_query_writes_every_result_not_one_page(many: Path) -> None:
    query = "وزارة"  # in 18 of the 60 articles
    with Archive(many) as arc:
        hits = arc.search(query, k=1000, mode="lexical")
        by_date = arc.search(query, k=1000, mode="lexical", sort="-date")
    assert hits.total == len(hits) > 10  # more than one page of `archive search`
    result = _cli("export", query, "--mode", "lexical", "--index", str(many))
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [h.id for h in hits]
    assert f"exported {len(hits)} articles" in result.stderr
    limited = _cli("export", query, "-k", "12", "--sort", "-date", "--format", "csv", "--index", str(many))
    rows = list(csv.DictReader(io.StringIO(limited.stdout)))
    assert [r["id"] for r in rows] == [h.id for h in by_date][:12]
    dates = [r["published"] for r in rows]
    assert dates == sorted(dates, reverse=True)


def test_export_by_meaning_writes_what_the_search_finds(tmp_path: Path, news: list[Document]) -> None:
    with Archive.build([*news, KOREA_2, NUMBERED], tmp_path / "index", encoder="hashing", procs=1) as arc:
        for mode in ("hybrid", "semantic"):
            for sort in ("relevance", "-date"):
                hits = arc.search("صاروخ كوريا الشمالية", k=1000, mode=mode, sort=sort)
                out = io.StringIO()
                assert arc.export(out, "صاروخ كوريا الشمالية", mode=mode, sort=sort) == hits.total == len(hits) > 1
                assert [json.loads(line)["id"] for line in out.getvalue().splitlines()] == [h.id for h in hits]
        out = io.StringIO()
        assert arc.export(out, "صاروخ كوريا الشمالية", mode="semantic", limit=1) == 1


def test_export_filters_author_sort_and_mode_like_search(index: Path) -> None:
    result = _cli("export", "--since", "2024-04", "--until", "2024-07", "--sort", "-date", "--index", str(index))
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ["health-1", "war-1", "econ-1"]
    result = _cli("export", "كورسك", "--author", "احمد علي", "--index", str(index))  # the author, normalized
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ["korea-2"]
    result = _cli("export", "--limit", "2", "--index", str(index))
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ["sport-1", "econ-1"]
    result = _cli("export", "كوريا", "--mode", "semantic", "--index", str(index))
    assert result.exit_code == 1 and "semantic search needs vectors" in result.output


def test_csv_export_with_a_byte_order_mark(index: Path, tmp_path: Path) -> None:
    marked, plain = tmp_path / "marked.csv", tmp_path / "plain.csv"
    assert _cli("export", "-f", "csv", "--bom", "-o", str(marked), "--index", str(index)).exit_code == 0
    assert _cli("export", "-f", "csv", "-o", str(plain), "--index", str(index)).exit_code == 0
    assert marked.read_bytes()[:11] == b"\xef\xbb\xbfid,title"
    assert plain.read_bytes()[:8] == b"id,title"
    assert marked.read_bytes()[3:] == plain.read_bytes()
    rows = list(csv.DictReader(io.StringIO(marked.read_text(encoding="utf-8-sig"))))
    assert rows[1]["title"] == "ارتفاع أسعار النفط بعد قرار أوبك خفض الإنتاج"
    refused = _cli("export", "--bom", "--index", str(index))
    assert refused.exit_code == 2 and "Invalid value for --bom" in _flat(refused.output)
    assert "add --format csv" in _flat(refused.output)


# ------------------------------------------------------------ the results table
@pytest.fixture(scope="module")
def long_ids(tmp_path_factory: pytest.TempPathFactory, news: list[Document]) -> Path:
    path = tmp_path_factory.mktemp("long-ids") / "index"
    docs = [replace(news[1], id=ANT_ID, source="Sky News Arabia, Abu Dhabi newsroom, international desk"),
            replace(news[2], id=LONG_ID), replace(news[3], id="war-2")]
    Archive.build(docs, path, encoder="none", procs=1).close()
    return path


@pytest.mark.parametrize("bidi", ["off", "on"])
def test_ids_are_never_broken_in_80_columns(long_ids: Path, bidi: str) -> None:
    result = _cli("search", "أعلن OR ارتفعت", "--bidi", bidi, "--index", str(long_ids))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    for doc_id in (ANT_ID, LONG_ID):
        assert any(f"│ {doc_id} " in line for line in lines), (doc_id, result.output)
    assert "│ Sky News Arabia, Abu Dhabi newsroom, internat… │" in result.output  # the source is cut short
    assert "«ارتفعت»" in result.output or bidi == "on"  # the text narrowed, its match still marked


def test_an_id_too_long_to_sit_beside_the_text_goes_above_it(tmp_path: Path, news: list[Document]) -> None:
    Archive.build([replace(news[1], id=HUGE_ID), news[2]], tmp_path / "index", encoder="none", procs=1).close()
    result = _cli("search", "أسعار النفط", "--mode", "lexical", "--index", str(tmp_path / "index"))
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    row = next(n for n, line in enumerate(lines) if HUGE_ID in line)
    assert "2024-04-10 · BBC" in lines[row + 1]
    assert "ارتفاع أسعار النفط" in lines[row + 2]


# ----------------------------------------------------------- numbers as handles
def test_show_takes_a_result_number_of_the_last_search(index: Path) -> None:
    before = sorted(p.relative_to(index) for p in index.rglob("*"))
    table = _cli("search", "أطلقت OR الهلال OR النفط", "--mode", "lexical", "--index", str(index)).output
    assert "archive show N opens result N" in table
    shown = [line.split("│")[2].strip() for line in table.splitlines() if re.match(r"│ +\d+ │", line)]
    assert len(shown) >= 3
    result = _cli("show", "3", "--json", "--index", str(index))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["id"] == shown[2]
    third = _cli("related", "3", "--json", "--index", str(index))
    assert json.loads(third.output.splitlines()[-1])["summary"]["related_to"] == shown[2]
    assert sorted(p.relative_to(index) for p in index.rglob("*")) == before  # nothing written into the index
    from archive.last_results import listing_path

    mode = stat.S_IMODE(listing_path(index).stat().st_mode)
    assert mode == 0o600  # the queries are the user's own


def test_an_id_that_is_a_number_is_an_id_first(index: Path) -> None:
    table = _cli("search", "منظمة", "--mode", "lexical", "--index", str(index)).output
    first = next(line.split("│")[2].strip() for line in table.splitlines() if re.match(r"│ +1 │", line))
    assert first != "1"
    result = _cli("show", "1", "--json", "--index", str(index))
    assert json.loads(result.output)["title"] == NUMBERED.title  # the article whose id is "1"
    result = _cli("show", "2", "--json", "--index", str(index))
    assert json.loads(result.output)["id"] in {"econ-1", "health-1"}  # no article "2": the second result


def test_numbers_out_of_range_and_other_archives_say_why(index: Path, tmp_path: Path, news: list[Document]) -> None:
    _cli("search", "النفط", "--page", "2", "-k", "1", "--mode", "lexical", "--index", str(index))  # 1 hit: no page 2
    _cli("search", "أطلقت OR الهلال", "--mode", "lexical", "-k", "1", "--page", "2", "--index", str(index))
    result = _cli("show", "1", "--json", "--index", str(index))
    assert json.loads(result.output)["id"] == "1"
    result = _cli("show", "7", "--index", str(index))
    assert result.exit_code == 1
    assert "the last results (search 'أطلقت OR الهلال') were numbered 2–2" in result.output
    other = tmp_path / "other"
    Archive.build(news[:2], other, encoder="none", procs=1).close()
    result = _cli("show", "2", "--index", str(other))
    assert result.exit_code == 1 and "no earlier results of this archive" in result.output


def test_a_cache_that_cannot_be_written_only_loses_the_numbers(index: Path, tmp_path: Path) -> None:
    remembered = _cli("search", "النفط", "--index", str(index))
    assert "1–1 of 1; archive show N opens result N" in remembered.output
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("x", encoding="utf-8")
    result = runner.invoke(app, ["search", "النفط", "--index", str(index)],
                           env={"COLUMNS": "80", "NEWS_ARCHIVE_CACHE": str(blocked)})
    assert result.exit_code == 0, result.output
    assert "ارتفاع أسعار النفط" in result.output and "archive show N" not in result.output


@pytest.mark.slow
def test_numbers_work_on_a_read_only_index(news: list[Document]) -> None:
    """The index cannot be written by its reader (owned by root, read as nobody; or chmod a-w): the
    numbers live in the reader's own cache, so `archive show 2` still follows a search."""
    folder = Path(tempfile.mkdtemp(prefix="archive-read-only-"))
    try:
        os.chmod(folder, 0o755)
        index, cache = folder / "index", folder / "cache"
        Archive.build(news, index, encoder="none", procs=1).close()
        cache.mkdir(mode=0o777)
        os.chmod(cache, 0o777)  # the reader's cache (nobody's, when the tests run as root)
        for path in [index, *index.rglob("*")]:
            os.chmod(path, path.stat().st_mode & ~0o222)
        prefix: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                pytest.skip("running as root without setpriv: cannot make the index read-only")
            prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "NEWS_ARCHIVE_CACHE": str(cache), "COLUMNS": "80"}

        def run(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([*prefix, sys.executable, "-m", "archive", *args, "--index", str(index)], env=env,
                                  capture_output=True, text=True, cwd=folder, timeout=120, check=False)

        table = run("search", "أطلقت OR منظمة", "--mode", "lexical")
        assert table.returncode == 0 and "archive show N opens result N" in table.stdout, table.stderr
        second = [line.split("│")[2].strip() for line in table.stdout.splitlines() if re.match(r"│ +2 │", line)]
        shown = run("show", "2", "--json")
        assert shown.returncode == 0, shown.stderr
        assert [json.loads(shown.stdout)["id"]] == second
    finally:
        for path in [folder, *folder.rglob("*")]:
            os.chmod(path, path.stat().st_mode | 0o200)
        shutil.rmtree(folder)

"""Honest reports: a write's counts add up and its time is the time it took (issue 21, item 4).

A 72-second build printed "in 8.5 s" (the time of the word index only, not of
the embedding after it); "2000 added" stood beside "1985 articles" (15 were
folded copies of others) and "2001 unchanged" beside 1,986 articles. Now
``read == added + updated + unchanged + skipped`` with each skipped kind named,
and the time printed is the command's wall time.
"""

from __future__ import annotations

import json
import re
import time
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archive import Archive, BuildReport, Document
from archive.cli import app

from .conftest import ROOT, SHARED_DATA

runner = CliRunner()
SNN_DAY = "2015-08-01.zip"
"""A SaudiNewsNet day whose articles repeat (bodies filed twice or more)."""


def _snn_day() -> Path:
    for data in (SHARED_DATA, ROOT.parents[1] / "shared" / "data"):  # a checkout in a worktree folder too
        if (data / "saudinewsnet" / SNN_DAY).is_file():
            return data / "saudinewsnet" / SNN_DAY
    pytest.skip(f"SaudiNewsNet not found under {SHARED_DATA} (needed for its repeated articles)")


def _snn_records(count: int) -> list[dict[str, str]]:
    """The first ``count`` articles of :data:`SNN_DAY` whose bodies repeat, then others, then the first
    three again (an export overlapping the previous one: the same ids)."""
    with zipfile.ZipFile(_snn_day()) as archive:
        (name,) = archive.namelist()
        articles = json.loads(archive.read(name))
    articles = [a for a in articles if len(a["content"].strip()) > 100]  # some SaudiNewsNet bodies are empty
    seen: dict[str, int] = {}
    for article in articles:
        seen[article["content"]] = seen.get(article["content"], 0) + 1
    repeated = [a for a in articles if seen[a["content"]] > 1]
    chosen = repeated + [a for a in articles if seen[a["content"]] == 1][: count - len(repeated)]
    records = [{"id": a["url"], "title": a["title"], "body": a["content"], "source": a["source"]} for a in chosen]
    return records + records[:3]


def _check_sums(report: BuildReport) -> None:
    assert report.read == report.added + report.updated + report.unchanged + report.skipped_count, report


@pytest.mark.slow
def test_counts_of_real_repeated_articles_add_up(tmp_path: Path) -> None:
    records = _snn_records(60)
    docs = [Document(**r) for r in records]
    bodies = {d.body_key for d in docs}
    root = tmp_path / "index"
    report = BuildReport()
    archive = Archive.build(docs, root, encoder=None, procs=1, report=report)
    _check_sums(report)
    assert report.read == len(records)
    assert report.duplicate_ids == 3
    assert report.added == len(archive) == len(bodies)  # what was added is what the archive holds
    assert report.folded == len(records) - 3 - len(bodies) > 0
    archive.close()
    new = Document(id="snn-new", title="افتتاح معرض الكتاب", body="افتتح معرض الكتاب الدولي أبوابه في جدة مساء الأحد.")
    report = BuildReport()
    archive = Archive.build([*docs, new], root, encoder=None, procs=1, report=report)
    _check_sums(report)
    assert (report.added, report.updated, report.unchanged, report.duplicate_ids) == (1, 0, len(records) - 3, 3)
    assert len(archive) == len(bodies) + 1
    archive.close()
    report = BuildReport()
    Archive.update(root, add=[new, Document(id="snn-new-copy", body=new.body)], report=report).close()
    _check_sums(report)
    assert (report.read, report.unchanged, report.folded, report.added) == (2, 1, 1, 0)


def test_the_command_line_counts_add_up_and_name_each_skipped_kind(tmp_path: Path) -> None:
    records = _snn_records(40)
    source = tmp_path / "snn.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    index = tmp_path / "index"
    result = runner.invoke(app, ["build", str(source), "--index", str(index), "--encoder", "none", "--procs", "1"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if ": read " in x)
    found = re.search(r"read (\d+) articles: (\d+) added, (\d+) updated, (\d+) unchanged, (\d+) skipped "
                      r"\((\d+) folded into an identical article, (\d+) duplicate id\)", line)
    assert found, line
    read, added, updated, unchanged, skipped, folded, duplicates = map(int, found.groups())
    assert read == len(records) == added + updated + unchanged + skipped and skipped == folded + duplicates
    assert duplicates == 3
    with Archive.open(index) as archive:
        held = len(archive)
        copies = archive.manifest.aliases
    assert added == held
    assert f"the archive holds {held} articles and {copies} folded duplicates" in result.output


@pytest.mark.slow
def test_the_reported_time_is_the_wall_time_embedding_included(tmp_path: Path, seed_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Embedding after the words are committed is part of the build: its time is in the report."""
    import archive.writing.operations as operations

    embed = operations.embed_pending

    def slow_embed(*args: object, **kwargs: object) -> None:
        time.sleep(1.0)  # stands for minutes of embedding
        embed(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(operations, "embed_pending", slow_embed)
    report = BuildReport()
    started = time.perf_counter()
    Archive.build([Document(id="seed", body=seed_path.read_text(encoding="utf-8"))], tmp_path / "lib",
                  encoder="hashing", procs=1, report=report).close()
    took = time.perf_counter() - started
    assert 1.0 <= report.seconds <= took
    result = runner.invoke(app, ["build", str(seed_path), "--index", str(tmp_path / "cli"), "--encoder", "hashing",
                                 "--procs", "1"])
    assert result.exit_code == 0, result.output
    printed = float(re.search(r" in (\d+\.\d) s", result.output).group(1))  # type: ignore[union-attr]
    assert printed >= 1.0, result.output

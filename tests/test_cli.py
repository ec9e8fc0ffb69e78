"""The command line through typer's CliRunner: output and exact exit codes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archive.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, seed_path: Path) -> Path:
    """The seed and one more article, built once by ``archive build`` (the default encoder) for the
    tests that only read it; a test that writes takes :func:`own_built`."""
    tmp_path = tmp_path_factory.mktemp("cli")
    sources = tmp_path / "sources"
    sources.mkdir()
    shutil.copy(seed_path, sources)
    (sources / "more.jsonl").write_text(
        json.dumps({"id": "oil", "title": "أسعار النفط ترتفع", "body": "ارتفعت أسعار النفط بعد قرار أوبك",
                    "source": "BBC", "date": "2024-04-10"}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    index = tmp_path / "index"
    result = runner.invoke(app, ["build", str(sources), "--index", str(index), "--procs", "1"])
    assert result.exit_code == 0, result.output
    assert "the archive holds 2 articles" in result.output, result.output
    return index


@pytest.fixture()
def own_built(built: Path, tmp_path: Path) -> Path:
    """A private copy of :func:`built` (sources and index) for a test that writes to it."""
    shutil.copytree(built.parent, tmp_path / "copy")
    return tmp_path / "copy" / "index"


def test_search_prints_a_table_with_the_seed_first(built: Path, seed_path: Path) -> None:
    result = runner.invoke(app, ["search", "قوات كورية في كورسك", "--index", str(built)])
    assert result.exit_code == 0, result.output
    assert "طالبت الولايات المتحدة" in result.output
    assert "كورسك" in result.output


def test_search_json_lines(built: Path, seed_path: Path) -> None:
    result = runner.invoke(app, ["search", "النفط OR كورسك", "--json", "--index", str(built)])
    assert result.exit_code == 0, result.output
    *records, summary = [json.loads(line) for line in result.output.splitlines()]
    assert summary["summary"]["total"] == 2
    assert {r["id"] for r in records} == {"oil", seed_path.stem}
    assert [r["rank"] for r in records] == [1, 2]
    oil = next(r for r in records if r["id"] == "oil")
    assert oil["source"] == "BBC" and oil["published"].startswith("2024-04-10")
    start, end = oil["marks"][0]
    assert oil["snippet"][start:end] == "النفط"


def test_search_filters_and_no_results(built: Path) -> None:
    result = runner.invoke(app, ["search", "النفط", "--source", "CNN", "--index", str(built)])
    assert result.exit_code == 0
    assert result.output.startswith("no results:")
    result = runner.invoke(app, ["search", "في من", "--index", str(built)])
    assert result.exit_code == 0
    assert "stop words" in result.output


def test_show_and_stats(built: Path) -> None:
    result = runner.invoke(app, ["show", "oil", "--index", str(built)])
    assert result.exit_code == 0
    assert "ارتفعت أسعار النفط" in result.output and "BBC" in result.output
    result = runner.invoke(app, ["show", "oil", "--json", "--index", str(built)])
    assert json.loads(result.output)["title"] == "أسعار النفط ترتفع"
    result = runner.invoke(app, ["stats", "--index", str(built)])
    assert result.exit_code == 0
    assert re.search(r"documents:\s+2", result.output)


def test_errors_are_one_line_and_exit_1(tmp_path: Path, built: Path) -> None:
    result = runner.invoke(app, ["search", "كورسك", "--index", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("error: ")
    assert "archive build" in result.output
    result = runner.invoke(app, ["show", "nope", "--index", str(built)])
    assert result.exit_code == 1 and "no document with id 'nope'" in result.output
    result = runner.invoke(app, ["search", "كورسك", "--mode", "fuzzy", "--index", str(built)])
    assert result.exit_code == 2 and "fuzzy" in result.output  # a bad option value is a usage error
    result = runner.invoke(app, ["build", str(tmp_path / "nowhere"), "--index", str(tmp_path / "i2")])
    assert result.exit_code == 1 and "nowhere" in result.output
    assert not (tmp_path / "i2").exists()


def test_usage_error_exit_2(built: Path) -> None:
    result = runner.invoke(app, ["search", "كورسك", "-k", "0", "--index", str(built)])
    assert result.exit_code == 2


@pytest.mark.slow
def test_build_lists_skipped_files(tmp_path: Path, seed_path: Path) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    shutil.copy(seed_path, sources)
    (sources / "empty.txt").write_bytes(b"")
    (sources / "bad.jsonl").write_text('{"id": "a", "body": "نص"}\n{broken\n', encoding="utf-8")
    result = runner.invoke(app, ["build", str(sources), "--index", str(tmp_path / "index"), "--procs", "1"])
    assert result.exit_code == 0, result.output
    assert "the archive holds 2 articles" in result.output, result.output
    assert "empty.txt" in result.output and "bad.jsonl:2" in result.output


def test_every_command_has_help_and_is_documented() -> None:
    """Help and a section in docs/cli.md for each command (every option there: tests/test_docs.py)."""
    reference = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text(encoding="utf-8")
    for command in app.registered_commands:
        name = command.name or command.callback.__name__
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0
        assert (command.callback.__doc__ or "").strip(), name
        assert f"## `archive {name}`" in reference, f"docs/cli.md does not document `archive {name}`"


def test_field_mapping_author_filter_and_show(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "feed.csv").write_text(
        "guid,headline,text_ar,pub_date,writer\n"
        "n-1,أسعار النفط ترتفع,ارتفعت أسعار النفط بعد قرار أوبك خفض الإنتاج,١٢ نوفمبر ٢٠٢٤,سارة أحمد\n"
        "n-2,النفط يتراجع,تراجعت أسعار النفط مع زيادة المخزون الأمريكي,13 تشرين الثاني 2024,محمد علي\n",
        encoding="utf-8",
    )
    index = tmp_path / "index"
    mapping = ["--field", "id=guid", "--field", "title=headline", "--field", "body=text_ar",
               "--field", "published=pub_date", "--field", "author=writer"]
    result = runner.invoke(app, ["build", str(sources), "--index", str(index), "--encoder", "none", "--procs", "1",
                                 *mapping])
    assert result.exit_code == 0, result.output
    assert "the archive holds 2 articles" in result.output
    result = runner.invoke(app, ["search", "النفط", "--author", "ساره احمد", "--json", "--index", str(index)])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in result.output.splitlines() if '"id"' in line] == ["n-1"]
    result = runner.invoke(app, ["show", "n-2", "--index", str(index)])
    assert result.exit_code == 0 and re.search(r"author:\s+محمد علي", result.output), result.output
    assert "2024-11-13" in result.output
    record = json.loads(runner.invoke(app, ["show", "n-1", "--json", "--index", str(index)]).output)
    assert (record["author"], record["title"]) == ("سارة أحمد", "أسعار النفط ترتفع")
    (sources / "more.csv").write_text("guid,text_ar,writer\nn-3,النفط يستقر في التعاملات الآسيوية,منى حسن\n",
                                      encoding="utf-8")
    result = runner.invoke(app, ["add", str(sources / "more.csv"), "--index", str(index),
                                 "--field", "id=guid", "--field", "body=text_ar", "--field", "author=writer"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["search", "النفط", "--author", "منى حسن", "--json", "--index", str(index)])
    assert [json.loads(line)["id"] for line in result.output.splitlines() if '"id"' in line] == ["n-3"]


@pytest.mark.parametrize("value", ["body", "bodyy=text", "=text", "body="])
def test_bad_field_mapping_is_a_usage_error(tmp_path: Path, value: str) -> None:
    result = runner.invoke(app, ["build", str(tmp_path), "--index", str(tmp_path / "i"), "--field", value])
    assert result.exit_code == 2, result.output
    assert "--field" in result.output
    assert not (tmp_path / "i").exists()


def test_build_from_a_fifo_fails_without_touching_the_archive(tmp_path: Path, own_built: Path) -> None:
    built = own_built
    import os

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = runner.invoke(app, ["build", str(fifo), "--index", str(built), "--procs", "1"])
    assert result.exit_code == 1, result.output
    assert f"error: {fifo}: a named pipe (FIFO)" in result.output
    result = runner.invoke(app, ["search", "النفط", "--mode", "lexical", "--json", "--index", str(built)])
    assert [json.loads(line)["id"] for line in result.output.splitlines() if '"id"' in line] == ["oil"]

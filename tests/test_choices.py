"""A user's choices stick: the archive's encoder stays until the user asks for another (issue 21, item 1).

A bare build used to replace a lexical-only or ``use-multilingual`` archive's
encoder with e5-small and re-embed everything; ``--encoder X`` on an archive
built with Y re-embedded it without a word. Now a build keeps the archive's
encoder, another one is refused with the fix unless ``full`` asks for it, and
a dry run says what it would embed, with which encoder, for how long.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archive import Archive, BuildReport, Document, SettingChangeError
from archive.cli import app
from archive.encoders.hashing import HashingEncoder
from archive.index.layout import current_generation
from archive.index.manifest import Manifest

runner = CliRunner()
NEW = Document(id="new-1", title="افتتاح معرض الكتاب في الرياض",
               body="افتتح معرض الرياض الدولي للكتاب أبوابه أمام الزوار بمشاركة أكثر من ألف دار نشر عربية وأجنبية.")


def _manifest(root: Path) -> Manifest:
    return Manifest.read(current_generation(root))


def _seed_articles(seed_path: Path, count: int) -> list[Document]:
    """``count`` real Arabic articles made from the seed article (rotations of its words)."""
    words = seed_path.read_text(encoding="utf-8").split()
    return [Document(id=f"seed-{n}", title=" ".join(words[n : n + 6]), body=" ".join(words[n * 3 :] + words[: n * 3]))
            for n in range(count)]


def test_a_bare_build_keeps_a_lexical_archive_lexical(tmp_path: Path, news: list[Document]) -> None:
    root = tmp_path / "index"
    Archive.build(news, root, encoder=None, procs=1).close()
    report = BuildReport()
    Archive.build([*news, NEW], root, procs=1, report=report).close()  # no encoder named
    assert _manifest(root).encoder is None
    assert (report.added, report.unchanged, report.embedded) == (1, len(news), 0)


def test_a_bare_build_keeps_the_archive_encoder(tmp_path: Path, news: list[Document]) -> None:
    root = tmp_path / "index"
    Archive.build(news, root, encoder="hashing", procs=1).close()
    report = BuildReport()
    Archive.build([*news, NEW], root, procs=1, report=report).close()
    manifest = _manifest(root)
    assert manifest.encoder == HashingEncoder.name and manifest.encoder_spec == "hashing"
    assert report.embedded == 1  # only the new article's one passage, with the archive's encoder


def test_another_encoder_is_refused_without_full_and_nothing_changes(tmp_path: Path, news: list[Document]) -> None:
    root = tmp_path / "index"
    Archive.build(news, root, encoder=None, procs=1).close()
    before = current_generation(root)
    with pytest.raises(SettingChangeError) as caught:
        Archive.build([*news, NEW], root, encoder="hashing", procs=1)
    message = str(caught.value)
    assert "no encoder (lexical only)" in message and "Fix: archive build --full --encoder hashing" in message
    assert "\n" not in message
    assert current_generation(root) == before and "new-1" not in Archive.open(root)
    with pytest.raises(SettingChangeError):
        Archive.plan([*news, NEW], root, encoder="hashing")  # the dry run says the same
    Archive.build([*news, NEW], root, encoder="hashing", full=True, procs=1).close()  # asked for: done
    assert _manifest(root).encoder == HashingEncoder.name
    with pytest.raises(SettingChangeError, match="encoder hashing; building it with no encoder .* would drop the "
                                                 "vectors of its"):
        Archive.build(news, root, encoder=None, procs=1)
    with pytest.raises(SettingChangeError, match="re-embed all"):
        Archive.build(news, root, encoder=replace_name(HashingEncoder(), "other/1"), procs=1)


def replace_name(encoder: HashingEncoder, name: str) -> HashingEncoder:
    encoder.name = name  # type: ignore[misc]
    return encoder


def test_the_same_encoder_by_another_spelling_is_not_a_change(tmp_path: Path, news: list[Document]) -> None:
    root = tmp_path / "index"
    Archive.build(news, root, encoder="hashing", procs=1).close()
    Archive.build([*news, NEW], root, encoder=" Hashing ", procs=1).close()
    Archive.build([*news, NEW], root, encoder=HashingEncoder(), procs=1).close()
    assert _manifest(root).encoder == HashingEncoder.name and len(Archive.open(root)) == len(news) + 1


def test_the_command_line_keeps_the_encoder_and_refuses_another_in_one_line(tmp_path: Path, seed_path: Path) -> None:
    index = tmp_path / "index"
    result = runner.invoke(app, ["build", str(seed_path), "--index", str(index), "--encoder", "none"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["build", "--index", str(index)])  # the remembered source, the archive's encoder
    assert result.exit_code == 0, result.output
    assert "e5" not in result.output and _manifest(index).encoder is None
    result = runner.invoke(app, ["build", "--index", str(index), "--encoder", "hashing"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "archive build --full --encoder hashing" in lines[0]
    result = runner.invoke(app, ["build", "--index", str(index), "--encoder", "hashing", "--full"])
    assert result.exit_code == 0, result.output
    assert _manifest(index).encoder == HashingEncoder.name


@pytest.mark.slow
def test_a_dry_run_says_what_it_would_embed_with_which_encoder_and_how_long(
        tmp_path: Path, seed_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWS_ARCHIVE_CACHE", str(tmp_path / "user-cache"))  # no rate measured on this machine yet
    docs = _seed_articles(seed_path, 12)
    root = tmp_path / "index"
    Archive.build(docs, root, encoder=None, procs=1).close()
    planned = Archive.plan(docs, root, encoder="e5-small", full=True)
    estimate = planned.estimate
    assert estimate is not None and estimate.encoder == "e5-small" and estimate.rate_from == "default"
    from archive.index.dense import MAX_PASSAGES, plan_passages
    from archive.encoders.registry import engine_here
    from archive.writing.choices import E5_ENGINE_RATES

    rate = E5_ENGINE_RATES[engine_here("e5-small")]  # the engine this machine runs e5-small on
    expected = len(set(plan_passages(docs, 0, MAX_PASSAGES)[1]))
    assert estimate.passages == expected > len(docs)
    assert estimate.seconds == pytest.approx(expected / rate)
    assert Archive.plan(docs, root).estimate is None  # lexical only: nothing to embed
    result = runner.invoke(app, ["build", str(tmp_path / "none"), "--index", str(root), "--dry-run"])
    assert result.exit_code == 1  # no such source
    src = tmp_path / "src.jsonl"
    src.write_text("".join(f'{{"id": "{d.id}", "title": "{d.title}", "body": "{d.body}"}}\n' for d in docs),
                   encoding="utf-8")
    result = runner.invoke(app, ["build", str(src), "--index", str(root), "--dry-run", "--full", "--encoder", "e5-small"])
    assert result.exit_code == 0, result.output
    assert f"would embed {expected} passages with e5-small" in result.output, result.output
    assert f"{rate:.1f} passages/s (the default rate for e5-small" in result.output
    numpy = runner.invoke(app, ["build", str(src), "--index", str(root), "--dry-run", "--full", "--encoder", "e5-small",
                                "--engine", "numpy"])
    assert "18.0 passages/s (the default rate for e5-small" in numpy.output, numpy.output  # the engine's own rate


@pytest.mark.slow
def test_the_measured_rate_is_recorded_and_used_by_the_dry_run(tmp_path: Path, seed_path: Path) -> None:
    docs = _seed_articles(seed_path, 120)  # more passages than a write embeds inline: they are embedded after
    root = tmp_path / "index"
    Archive.build(docs, root, encoder="hashing", procs=1).close()
    rate = _manifest(root).embedding_rate
    assert rate > 0
    more = [replace(d, id=f"more-{n}", body=d.body + " وأضاف المتحدث أن المحادثات مستمرة.") for n, d in enumerate(docs)]
    estimate = Archive.plan([*docs, *more], root).estimate
    assert estimate is not None and estimate.rate_from == "measured" and estimate.rate == rate
    assert estimate.encoder == "hashing" and estimate.passages > 0


def test_a_new_archive_is_estimated_at_the_rate_this_machine_measured(
        tmp_path: Path, seed_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An archive that has measured no rate of its own is estimated at the one the last embedding with
    the same encoder and engine measured on this machine (kept in the per-user cache), and says so;
    a damaged record of rates is ignored, not an error."""
    from archive.writing import rates

    monkeypatch.setenv("NEWS_ARCHIVE_CACHE", str(tmp_path / "user-cache"))
    docs = _seed_articles(seed_path, 120)  # enough passages for the first archive to measure a rate
    first = tmp_path / "first"
    Archive.build(docs, first, encoder="hashing", procs=1).close()
    measured = rates.measured_here(HashingEncoder.name, "numpy")
    assert measured is not None and measured > 0
    fresh = tmp_path / "fresh"
    estimate = Archive.plan(docs[:5], fresh, encoder="hashing").estimate
    assert estimate is not None and estimate.rate_from == "measured here" and estimate.rate == measured
    src = tmp_path / "src.jsonl"
    src.write_text("".join(json.dumps({"id": d.id, "title": d.title, "body": d.body}, ensure_ascii=False) + "\n"
                           for d in docs[:5]), encoding="utf-8")
    shown = runner.invoke(app, ["build", str(src), "--index", str(fresh), "--dry-run", "--encoder", "hashing"])
    assert shown.exit_code == 0 and "the last embedding with hashing on this machine measured" in shown.output
    (tmp_path / "user-cache" / rates.FILE_NAME).write_text("[1, 2", encoding="utf-8")
    again = Archive.plan(docs[:5], fresh, encoder="hashing").estimate
    assert again is not None and again.rate_from == "default"
    rates.remember(HashingEncoder.name, "numpy", 123.0)  # a damaged file is replaced by the next measure
    assert rates.measured_here(HashingEncoder.name, "numpy") == 123.0


@pytest.mark.parametrize(("seconds", "text"), [(5, "5 s"), (80.1, "1 min 20 s"), (2220, "37 min"), (9000, "2.5 h")])
def test_estimated_durations_read_as_a_person_would_say_them(seconds: float, text: str) -> None:
    from archive.cli_report import duration

    assert duration(seconds) == text

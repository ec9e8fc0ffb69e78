"""Hostile input files: a bad line costs its own record, sizes are bounded, deep pages are read or named.

Sizes are scaled down through :class:`~archive.files.limits.ReadLimits`; ``scripts/probe.py``
runs the same cases at full size.
"""

from __future__ import annotations

import json
import random
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archive import Archive
from archive.cli import app
from archive.errors import SourceError
from archive.files.readers import read_documents, read_file

WORDS = ("افتتح معرض الكتاب الدولي في جدة بمشاركة دور نشر عربية وأجنبية وسط إقبال كبير من الزوار "
         "وقال سليم المدير إن الدورة الحالية تضم ندوات عن الرواية والشعر والترجمة").split()


def _article(i: int) -> dict[str, str]:
    return {"id": f"n{i}", "title": f"خبر رقم {i} عن معرض الكتاب", "body": f"قال سليم في الخبر {i}: " + " ".join(WORDS)}


def _jsonl(path: Path, n: int, bad_line: int | None = None) -> Path:
    lines = [json.dumps(_article(i), ensure_ascii=False).encode("utf-8") for i in range(1, n + 1)]
    if bad_line is not None:
        lines[bad_line - 1] = lines[bad_line - 1][:40] + b"\xff\xfe\xc3\x28" + lines[bad_line - 1][40:]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _errors() -> tuple[list[SourceError], dict]:
    errors: list[SourceError] = []
    return errors, {"on_error": errors.append}


# ---------------------------------------------------------------- item 9: invalid UTF-8 inside a file
def test_a_bad_line_in_json_lines_costs_only_its_record(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "feed.jsonl", 1000, bad_line=501)
    errors, on = _errors()
    docs = list(read_documents(path, **on))
    assert len(docs) == 999 and "n501" not in {d.id for d in docs}
    expected = {f"n{i}": _article(i) for i in range(1, 1001)}
    assert all(d.body == expected[d.id]["body"] and d.title == expected[d.id]["title"] for d in docs)
    (error,) = errors
    assert error.line == 501 and error.path == str(path) and "invalid UTF-8" in str(error)


def test_a_bad_line_in_a_text_file_refuses_that_file_naming_the_line(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("معرض الكتاب\nقال سليم إن المعرض يفتح أبوابه غدا", encoding="utf-8")
    bad = tmp_path / "bad.txt"
    bad.write_bytes("معرض الكتاب\nسطر أول\n".encode() + b"\xff\xfe\xc3\x28" + "\nسطر أخير عن سليم".encode())
    errors, on = _errors()
    docs = list(read_documents(tmp_path, **on))
    assert [d.id for d in docs] == ["good"] and docs[0].body == "قال سليم إن المعرض يفتح أبوابه غدا"
    (error,) = errors
    assert error.path == str(bad) and error.line == 3 and "invalid UTF-8" in str(error)


def test_a_bad_line_in_csv_costs_only_its_row(tmp_path: Path) -> None:
    path = tmp_path / "sheet.csv"
    rows = [b"id,title,body"] + [f"c{i},عنوان {i},نص الخبر {i} عن سليم".encode() for i in range(1, 6)]
    rows[3] += b" \xe9t\xe9"  # a Latin-1 word in row c3 (line 4)
    path.write_bytes(b"\n".join(rows))
    errors, on = _errors()
    docs = list(read_documents(path, **on))
    assert [d.id for d in docs] == ["c1", "c2", "c4", "c5"] and docs[2].body == "نص الخبر 4 عن سليم"
    assert [e.line for e in errors] == [4]


def test_wholly_windows_1256_is_still_read_but_half_and_half_is_not(tmp_path: Path) -> None:
    legacy = tmp_path / "legacy.jsonl"
    legacy.write_bytes("\n".join(json.dumps(_article(i), ensure_ascii=False) for i in range(3)).encode("cp1256"))
    assert [d.body for d in read_file(legacy)] == [_article(i)["body"] for i in range(3)]
    mixed = tmp_path / "mixed.jsonl"
    lines = [json.dumps(_article(i), ensure_ascii=False) for i in range(6)]
    mixed.write_bytes(b"\n".join(line.encode("cp1256" if i < 3 else "utf-8") for i, line in enumerate(lines)))
    errors, on = _errors()
    docs = list(read_file(mixed, **on))
    assert [d.body for d in docs] == [_article(i)["body"] for i in range(3, 6)]  # never mojibake
    assert [e.line for e in errors] == [1, 2, 3]


def test_add_of_a_file_with_a_bad_line_keeps_the_others_findable(tmp_path: Path) -> None:
    index = tmp_path / "index"
    path = _jsonl(tmp_path / "feed.jsonl", 40, bad_line=21)
    result = CliRunner().invoke(app, ["build", str(path), "--index", str(index), "--encoder", "none", "--procs", "1"])
    assert result.exit_code == 0, result.output
    assert f"{path}:21: invalid UTF-8" in result.output
    with Archive.open(index) as archive:
        assert len(archive) == 39 and archive.search("سليم", mode="lexical", k=50, fold=False).total == 39


# ---------------------------------------------------------------- item 12: zip bombs
def _random_arabic(chars: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    out, size = [], 0
    while size < chars:
        word = "".join(rng.choice("ابتثجحخدذرزسشصضطظعغفقكلمنهوي") for _ in range(rng.randint(2, 8)))
        out.append(word)
        size += len(word) + 1
    return " ".join(out)


@pytest.mark.slow
def test_a_zip_member_over_the_size_limit_is_not_inflated_past_it(tmp_path: Path) -> None:
    from archive.files.limits import MiB, ReadLimits

    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.txt", "خبر كبير\n" + _random_arabic(1_500_000))  # ~2.7 MB of UTF-8, packs ~2x
        zf.writestr("small.txt", "خبر صغير\nقال سليم إن المعرض يفتح أبوابه غدا")
    errors, on = _errors()
    docs = list(read_documents(path, limits=ReadLimits(max_file_size=MiB, max_article_size=10**7), **on))
    assert [d.id for d in docs] == ["small"]
    (error,) = errors
    assert error.path == f"{path}!big.txt" and "over the 1.0 MB limit" in str(error) and "--max-file-size" in str(error)


def test_a_zip_bomb_member_is_refused_by_its_ratio(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bomb.jsonl", (json.dumps(_article(1), ensure_ascii=False) + "\n") * 40_000)  # ~9 MB → ~40 KB
        zf.writestr("real.jsonl", json.dumps(_article(2), ensure_ascii=False))
    errors, on = _errors()
    docs = list(read_documents(path, **on))
    assert [d.id for d in docs] == ["n2"]
    (error,) = errors
    assert error.path == f"{path}!bomb.jsonl" and "zip bomb" in str(error) and "not read" in str(error)


def test_a_zip_of_many_bombs_names_a_few_and_counts_the_rest(tmp_path: Path) -> None:
    from archive.errors import SourceLimitError
    from archive.files.readers import SHOWN_REFUSALS

    path = tmp_path / "copies.zip"
    copy = "خبر مكرر\n" + "قال سليم إن المعرض يفتح أبوابه غدا في جدة. " * 30_000  # ~2 MB, packs ~1000 times
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(SHOWN_REFUSALS + 7):
            zf.writestr(f"copy{i:02d}.txt", copy)
        zf.writestr("real.txt", "خبر حقيقي\nقال سليم إن المعرض يفتح أبوابه غدا")
    errors, on = _errors()
    assert [d.id for d in read_documents(path, **on)] == ["real"]
    assert all(isinstance(e, SourceLimitError) for e in errors) and len(errors) == SHOWN_REFUSALS + 1
    assert [e.path for e in errors[:2]] == [f"{path}!copy00.txt", f"{path}!copy01.txt"]
    assert str(errors[-1]) == f"{path}: 7 more members over a size limit, not read (as the ones named above)"


def test_many_small_bomb_members_are_caught_together(tmp_path: Path) -> None:
    from archive.files.limits import RATIO_FLOOR

    path = tmp_path / "small-copies.zip"
    copy = "خبر مكرر\n" + "قال سليم إن المعرض يفتح أبوابه غدا في جدة. " * 3_000  # ~220 KB each, under the floor
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(40):  # ~9 MB together from ~40 KB packed
            zf.writestr(f"copy{i:02d}.txt", copy)
    errors, on = _errors()
    docs = list(read_documents(path, **on))
    assert 0 < len(docs) * len(copy.encode()) <= RATIO_FLOOR + len(copy.encode())  # read until the zip's budget
    assert errors and "zip bomb" in str(errors[0])


def test_duplicate_ids_are_summarized(tmp_path: Path) -> None:
    path = tmp_path / "copies.jsonl"
    path.write_text("\n".join(json.dumps({**_article(1), "body": f"نسخة {i} عن سليم"}, ensure_ascii=False)
                              for i in range(60)), encoding="utf-8")
    result = CliRunner().invoke(app, ["build", str(path), "--index", str(tmp_path / "ix"), "--encoder", "none",
                                      "--procs", "1"])
    assert result.exit_code == 0, result.output
    assert result.output.count("duplicate id 'n1'") == 5
    assert "... and 54 more duplicate ids" in result.output


# ---------------------------------------------------------------- item 13: one oversized article
@pytest.mark.slow
def test_an_article_over_the_size_limit_is_named_not_read(tmp_path: Path) -> None:
    path = tmp_path / "sheet.csv"
    huge = " ".join(WORDS) * 12_000  # ~1.3 million characters: over the default limit
    path.write_text(f'id,title,body\nok,عنوان,قال سليم إن المعرض يفتح غدا\nhuge,عنوان كبير,"{huge}"\n',
                    encoding="utf-8")
    errors, on = _errors()
    docs = list(read_documents(path, **on))
    assert [d.id for d in docs] == ["ok"]
    (error,) = errors
    assert error.line == 3 and "'huge'" in str(error) and "1,000,000-character limit" in str(error)
    assert "--max-article-size" in str(error)
    runner = CliRunner()
    index = tmp_path / "index"
    result = runner.invoke(app, ["build", str(path), "--index", str(index), "--encoder", "none", "--procs", "1",
                                 "--max-article-size", "2000000"])
    assert result.exit_code == 0, result.output
    with Archive.open(index) as archive:
        assert len(archive.get("huge").body) == len(huge)


def test_snippets_look_at_a_bounded_start_of_the_text() -> None:
    from archive.search.snippets import SCAN_CHARS, make_snippet, mark_text

    filler = "كلام عام عن الطقس والمواصلات " * (SCAN_CHARS // 20)
    late = make_snippet(filler + " سليم في آخر النص", {"سليم"})
    assert not late.marks and late.text.startswith("كلام عام")  # past the scanned start: not searched for
    early = make_snippet("قال سليم " + filler, {"سليم"})
    assert early.marks and early.marked().startswith("قال «سليم»")
    assert mark_text("قال سليم", {"سليم"}).marks == ((4, 8),)


# ---------------------------------------------------------------- item 15: deeply nested pages
def _page(path: Path, depth: int) -> Path:
    para = "<p>افتتح معرض الكتاب الدولي في جدة بمشاركة أكثر من ألف دار نشر عربية وأجنبية هذا العام.</p>"
    path.write_text(
        "<!DOCTYPE html><html><head><title>معرض الكتاب</title></head><body><article>" + para
        + "<div>" * depth + "<p>نص عميق داخل العناصر المتداخلة عن الثقافة والقراءة في المملكة.</p>" + "</div>" * depth
        + "<p>الفقرة الأخيرة من الخبر عن ختام المعرض وعدد الزوار.</p></article></body></html>", encoding="utf-8")
    return path


@pytest.mark.slow
def test_a_page_nested_300_deep_is_read_whole(tmp_path: Path) -> None:
    warnings: list[str] = []
    (doc,) = read_file(_page(tmp_path / "deep.html", 300), on_warning=warnings.append)
    assert "نص عميق داخل العناصر المتداخلة" in doc.body and "الفقرة الأخيرة من الخبر" in doc.body
    assert not warnings


@pytest.mark.slow
def test_a_page_nested_deeper_than_the_parser_reads_is_named(tmp_path: Path) -> None:
    from archive.files.pages import MAX_DEPTH

    path = _page(tmp_path / "deeper.html", MAX_DEPTH + 1000)
    warnings: list[str] = []
    (doc,) = read_file(path, on_warning=warnings.append)
    assert "افتتح معرض الكتاب" in doc.body
    (warning,) = warnings
    assert warning.startswith(f"{path}:1:") and f"deeper than {MAX_DEPTH:,} levels" in warning
    assert "was not read" in warning

"""Readers: every format, encoding and bad input, on real Arabic text."""

from __future__ import annotations

import json
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from archive import Archive
from archive.document import Document
from archive.errors import DocumentNotFoundError, SourceError, UsageError
from archive.files.readers import decode, list_source_files, read_documents, read_file

from .conftest import SHARED_DATA

ARTICLE = "أعلنت وزارة الصحة عن حملة تطعيم جديدة تشمل جميع المحافظات.\nوقال الوزير إن الحملة تستمر أسبوعين."


def test_seed_file_title_and_body(seed_path: Path) -> None:
    (doc,) = read_file(seed_path)
    assert doc.id == seed_path.stem
    assert doc.title.startswith("طالبت الولايات المتحدة وكوريا الجنوبية")
    assert doc.body.startswith("وقال وزير الدفاع الأميركي")
    assert doc.published is None and doc.language == "ar"


def test_plain_text_without_short_first_line_has_no_title(tmp_path: Path) -> None:
    long_line = " ".join(["كلمة"] * 30)
    (tmp_path / "a.txt").write_text(f"\n\n{long_line}\nسطر ثان", encoding="utf-8")
    (tmp_path / "b.txt").write_text("سطر واحد فقط", encoding="utf-8")
    a, b = read_documents(tmp_path)
    assert (a.title, a.body) == ("", f"{long_line}\nسطر ثان")
    assert (b.id, b.title, b.body) == ("b", "", "سطر واحد فقط")


def test_utf8_bom_and_windows_1256(tmp_path: Path) -> None:
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbf" + f"عنوان\n{ARTICLE}".encode())
    (tmp_path / "legacy.txt").write_bytes(f"عنوان الخبر\n{ARTICLE}".encode("cp1256"))
    bom, legacy = read_documents(tmp_path)
    assert bom.title == "عنوان" and bom.body == ARTICLE
    assert legacy.title == "عنوان الخبر" and legacy.body == ARTICLE


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "empty file"), (b"  \n\t", "empty file"), (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
     ("Ceci n'est pas de l'arabe: café, crème, élève".encode("latin-1"), "cannot decode")],
)
def test_bad_files_name_the_file(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(SourceError, match=reason) as info:
        list(read_file(path))
    assert str(path) in str(info.value)


def test_missing_path() -> None:
    with pytest.raises(SourceError, match="no such file"):
        list_source_files("/no/such/place")


def test_json_lines_fields_dates_and_derived_ids(tmp_path: Path) -> None:
    path = tmp_path / "news.jsonl"
    rows = [
        {"id": 7, "title": "خبر", "body": ARTICLE, "date": "2024-03-01T10:00:00+03:00", "source": "BBC",
         "url": "https://x.org/7", "category": "health"},
        {"text": "نص بلا معرف عن الانتخابات", "published": "2024-03-02"},
        {"content": "محتوى ثالث", "date_extracted": "2015-07-21 02:51:32"},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n", encoding="utf-8")
    a, b, c = read_file(path)
    assert (a.id, a.title, a.source, a.category, a.url) == ("7", "خبر", "BBC", "health", "https://x.org/7")
    assert a.published == datetime(2024, 3, 1, 7, tzinfo=timezone.utc)
    assert b.id.startswith("h-") and len(b.id) == 18 and b.published == datetime(2024, 3, 2, tzinfo=timezone.utc)
    assert c.published == datetime(2015, 7, 21, 2, 51, 32, tzinfo=timezone.utc)
    assert a.origin == f"{path}:1"
    assert list(read_file(path))[1].id == b.id  # derived ids are stable


def test_json_lines_errors_name_the_line_and_can_be_skipped(tmp_path: Path) -> None:
    path = tmp_path / "news.jsonl"
    path.write_text(
        '{"id": "a", "body": "نص أول"}\n{"id": "b", "body": \n{"id": "c", "title": "بلا نص"}\n'
        '{"id": "d", "body": ["list"]}\n{"id": "e", "body": "نص أخير"}\n',
        encoding="utf-8",
    )
    with pytest.raises(SourceError, match=r"news.jsonl:2: invalid JSON"):
        list(read_file(path))
    errors: list[SourceError] = []
    docs = list(read_file(path, on_error=errors.append))
    assert [d.id for d in docs] == ["a", "e"]
    assert [e.line for e in errors] == [2, 3, 4]
    assert "missing body" in str(errors[1]) and "'body' must be text" in str(errors[2])


def test_unparseable_date_is_kept_as_none_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "news.jsonl"
    path.write_text(json.dumps({"id": "x", "body": "نص", "date": "أمس مساء"}, ensure_ascii=False), encoding="utf-8")
    warnings: list[str] = []
    (doc,) = read_file(path, on_warning=warnings.append)
    assert doc.published is None
    assert len(warnings) == 1 and "news.jsonl:1" in warnings[0] and "أمس مساء" in warnings[0]


def test_json_array_and_zip_of_saudinewsnet_records(tmp_path: Path) -> None:
    records = [
        {"source": "aawsat", "url": "http://aawsat.com/1", "date_extracted": "2015-07-21 02:51:32",
         "title": "بريطانيا تعلن استراتيجية جديدة", "author": "لندن", "content": ARTICLE},
        {"source": "aawsat", "url": "http://aawsat.com/2", "date_extracted": "2015-07-21 03:00:00",
         "title": "", "author": "", "content": ""},
    ]
    array = tmp_path / "day.json"
    array.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    errors: list[SourceError] = []
    (doc,) = read_file(array, on_error=errors.append)
    assert (doc.source, doc.title, doc.body) == ("aawsat", "بريطانيا تعلن استراتيجية جديدة", ARTICLE)
    assert "record 2" in str(errors[0])
    zipped = tmp_path / "2015-07-21.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("2015-07-21.json", json.dumps(records[:1], ensure_ascii=False))
    (doc2,) = read_file(zipped)
    assert doc2 == doc and doc2.origin.startswith(f"{zipped}!2015-07-21.json")


MALFORMED_ANT = """<DOC>
<DOCNO>SK-world-1-20180301</DOCNO>
<URL>https://www.skynewsarabia.com/world/1</URL>
<SRC>skynews</SRC>
<CAT>world</CAT>
<TITLE>قمة بين ترامب & كيم في سنغافورة</TITLE>
<TIME>Thu, 01 Mar 2018 10:00:00 GMT</TIME>
<AUTHOR></AUTHOR>
<ABSTRACT>
أعلن البيت الأبيض أن القمة ستعقد في سنغافورة
</ABSTRACT>
<TEXT>
أعلن البيت الأبيض أن القمة ستعقد في سنغافورة.
وقال مسؤول إن عدد الحضور < 100 شخص & أن الأمن مشدد.
</TEXT>
</DOC>
<DOC>
<DOCNO>SK-world-2-20180302</DOCNO>
<TITLE>خبر ثان</TITLE>
<TIME>not a date</TIME>
<ABSTRACT>ملخص جديد لا يتكرر</ABSTRACT>
<TEXT>نص الخبر الثاني &amp; الأخير</TEXT>
</DOC>
"""


def test_trec_documents_tolerate_stray_ampersands_and_angles(tmp_path: Path) -> None:
    path = tmp_path / "SK-world.txt"
    path.write_text(MALFORMED_ANT, encoding="utf-8")
    warnings: list[str] = []
    first, second = read_file(path, on_warning=warnings.append)
    assert first.id == "SK-world-1-20180301" and first.title == "قمة بين ترامب & كيم في سنغافورة"
    assert (first.source, first.category) == ("skynews", "world")
    assert first.published == datetime(2018, 3, 1, 10, tzinfo=timezone.utc)
    assert first.body.startswith("أعلن البيت الأبيض") and "< 100 شخص & أن" in first.body
    assert first.body.count("أعلن البيت الأبيض") == 1  # the abstract repeats the lead: not duplicated
    assert second.body == "ملخص جديد لا يتكرر\n\nنص الخبر الثاني & الأخير"
    assert second.published is None and "not a date" in warnings[0]


def test_bad_file_in_a_directory_is_reported_and_the_rest_read(tmp_path: Path, seed_path: Path) -> None:
    (tmp_path / "good.txt").write_text(f"عنوان\n{ARTICLE}", encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\x00\x00")
    (tmp_path / ".hidden.txt").write_text("مخفي", encoding="utf-8")
    errors: list[SourceError] = []
    docs = list(read_documents(tmp_path, on_error=errors.append))
    assert [d.id for d in docs] == ["good"]
    assert sorted(Path(e.path).name for e in errors) == ["empty.txt", "image.png"]
    with pytest.raises(SourceError):
        list(read_documents(tmp_path))


def test_decode_prefers_utf8() -> None:
    assert decode("x", "كورسك".encode()) == "كورسك"


def test_real_saudinewsnet_zip() -> None:
    zips = sorted((SHARED_DATA / "saudinewsnet").glob("*.zip"))
    if not zips:
        pytest.skip(f"SaudiNewsNet not found under {SHARED_DATA}")
    errors: list[SourceError] = []
    docs = list(read_file(zips[0], on_error=errors.append))
    assert len(docs) > 1000
    assert all(d.body and d.published and d.source for d in docs)
    assert all("missing body" in str(e) for e in errors)


# ------------------------------------------------ what is skipped is named (issue 11, section 5)
def _article(path: Path, title: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{title}\n{ARTICLE}", encoding="utf-8")


def test_symlinked_folders_are_read_and_loops_named(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "2024"
    for number in range(3):
        _article(outside / f"linked-{number}.txt", f"خبر مرتبط رقم {number}")
    root = tmp_path / "archive"
    _article(root / "local.txt", "خبر محلي")
    (root / "old").symlink_to(outside, target_is_directory=True)  # a folder of links, as archives gather
    (root / "old" / "back").symlink_to(root, target_is_directory=True)  # a loop back to the top
    (root / "again").symlink_to(outside, target_is_directory=True)  # the same folder a second way
    (root / "self").symlink_to(root / "self")  # a link to itself
    (root / "gone.txt").symlink_to(tmp_path / "deleted.txt")  # broken
    errors: list[SourceError] = []
    warnings: list[str] = []
    docs = list(read_documents(root, on_error=errors.append, on_warning=warnings.append))
    assert sorted(d.id for d in docs) == ["linked-0", "linked-1", "linked-2", "local"]
    assert {d.title for d in docs} >= {"خبر مرتبط رقم 0", "خبر محلي"}
    named = {Path(e.path).name: e.reason for e in errors}
    assert "broken symbolic link" in named["gone.txt"] and "symbolic link loop" in named["self"]
    # both links lead to one folder: the first in name order is read, the other named
    assert f"{root / 'old'}: skipped, the same folder as {root / 'again'} (read once)" in warnings
    assert any(w.startswith(f"{root / 'again' / 'back'}: skipped, symbolic link loop") for w in warnings), warnings
    with pytest.raises(SourceError, match="gone.txt|self"):  # strict: the first problem stops the read
        list(read_documents(root))


def test_same_file_through_a_link_is_read_once_and_hidden_and_readme_are_named(tmp_path: Path) -> None:
    _article(tmp_path / "a.txt", "خبر أول")
    (tmp_path / "b.txt").symlink_to(tmp_path / "a.txt")
    _article(tmp_path / ".git" / "x.txt", "مخفي")
    (tmp_path / "README.md").write_text("وصف المجلد", encoding="utf-8")
    warnings: list[str] = []
    docs = list(read_documents(tmp_path, on_warning=warnings.append))
    assert [d.id for d in docs] == ["a"]
    assert any("b.txt: skipped, the same file as" in w for w in warnings)
    assert any(".git: skipped, hidden folder" in w for w in warnings)
    assert any("README.md: skipped" in w for w in warnings)


def test_a_fifo_is_named_and_never_opened(tmp_path: Path) -> None:
    import os
    import threading

    _article(tmp_path / "good.txt", "خبر")
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    opened = threading.Event()

    def writer() -> None:  # blocks until someone opens the pipe for reading, then gives it EOF
        with open(fifo, "wb"):
            opened.set()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        errors: list[SourceError] = []
        docs = list(read_documents(tmp_path, on_error=errors.append))
        assert [d.id for d in docs] == ["good"]
        assert [Path(e.path).name for e in errors] == ["pipe.txt"] and "named pipe" in errors[0].reason
        with pytest.raises(SourceError, match="named pipe"):
            list(read_file(fifo))
        with pytest.raises(SourceError, match="named pipe"):
            list(read_documents(fifo))
        assert not opened.is_set()  # nobody opened it for reading
    finally:
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # release the writer
        thread.join()
        os.close(reader)


def test_zip_members_with_outside_paths_are_read_in_memory_and_named(tmp_path: Path) -> None:
    zipped = tmp_path / "batch.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("../up.json", json.dumps([{"id": "up", "body": ARTICLE}], ensure_ascii=False))
        zf.writestr("/abs/root.jsonl", json.dumps({"id": "root", "body": "نص مطلق المسار"}, ensure_ascii=False))
        zf.writestr("__MACOSX/._up.json", b"\x00\x05\x16\x07")
    before = sorted(p.name for p in tmp_path.parent.iterdir())
    warnings: list[str] = []
    docs = list(read_file(zipped, on_warning=warnings.append))
    assert sorted(d.id for d in docs) == ["root", "up"]
    assert sum("leads outside the zip" in w for w in warnings) == 2
    assert any("skipped 1 hidden" in w for w in warnings)
    assert sorted(p.name for p in tmp_path.parent.iterdir()) == before  # nothing written outside


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_with_bom_are_decoded(tmp_path: Path, codec: str) -> None:
    text = f"عنوان الخبر\n{ARTICLE}"
    data = text.encode(codec)
    if codec.endswith(("-le", "-be")):  # explicit byte order: write the BOM as Notepad does
        data = "\ufeff".encode(codec) + data
    path = tmp_path / "unicode.txt"
    path.write_bytes(data)
    (doc,) = read_file(path)
    assert doc.title == "عنوان الخبر" and doc.body == ARTICLE


def test_nul_and_control_characters_are_stripped_from_every_field(tmp_path: Path) -> None:
    filler = "\n".join([ARTICLE] * 80)  # past the first 8 KB, where the binary check looks
    assert len(filler.encode()) > 8192
    path = tmp_path / "late-nul.txt"
    path.write_bytes(f"عنوان\n{filler}\nكور\x00سك\x1b[31m أحمر\x7f\x85سطر\u202eمعكوس\u202c".encode())
    (doc,) = read_file(path)
    assert "\x00" not in doc.body and "\x1b" not in doc.body and "\u202e" not in doc.body
    assert doc.body.endswith("كورسك[31m أحمر\nسطرمعكوس")
    jsonl = tmp_path / "escaped.jsonl"
    record = {"id": "x\u0007", "title": "عنوان\u0000", "body": "نص\u202dمع\u200cفاصل", "author": "سارة\u001b"}
    jsonl.write_text(json.dumps(record), encoding="utf-8")
    (rec,) = read_file(jsonl)
    assert (rec.id, rec.title, rec.body, rec.author) == ("x", "عنوان", "نصمع\u200cفاصل", "سارة")


def test_nul_byte_never_reaches_the_index_or_snippets(tmp_path: Path) -> None:
    from archive import Archive

    filler = "\n".join([ARTICLE] * 80)
    path = tmp_path / "src" / "late-nul.txt"
    path.parent.mkdir()
    path.write_bytes(f"عنوان\n{filler}\nوصلت قوات إلى كور\x00سك".encode())
    with Archive.build(read_documents(path.parent), tmp_path / "index", encoder="none", procs=1) as archive:
        (hit,) = archive.search("كورسك", mode="lexical")
        assert "\x00" not in hit.snippet and "كورسك" in hit.snippet
        assert "\x00" not in archive.get("late-nul").body


@pytest.mark.parametrize(("raw", "shown"), [("NaN", "NaN"), ("Infinity", "Infinity"), ("-Infinity", "-Infinity"),
                                            ("1.5", "1.5"), ("7.0", "7.0"), ("true", "true")])
def test_json_ids_that_are_not_text_or_whole_numbers_are_refused(tmp_path: Path, raw: str, shown: str) -> None:
    path = tmp_path / "ids.jsonl"
    path.write_text(f'{{"id": 12, "body": "نص أول"}}\n{{"id": {raw}, "body": "نص ثان"}}\n', encoding="utf-8")
    errors: list[SourceError] = []
    docs = list(read_file(path, on_error=errors.append))
    assert [d.id for d in docs] == ["12"]
    assert len(errors) == 1 and errors[0].line == 2 and f"id {shown} is neither text" in errors[0].reason
    array = tmp_path / "ids.json"
    array.write_text(f'[{{"id": {raw}, "body": "نص"}}]', encoding="utf-8")
    with pytest.raises(SourceError, match=r"ids.json \(record 1\): id"):
        list(read_file(array))


def test_ids_with_a_line_break_or_tab_are_refused_by_name_and_line(tmp_path: Path) -> None:
    """An id is printed on one line everywhere (tables, show, story): one that spans lines is refused."""
    path = tmp_path / "ids.jsonl"
    path.write_text('{"id": "a-1", "body": "نص أول"}\n{"id": "a\\nb", "body": "نص ثان"}\n'
                    '{"id": "c\\td", "body": "نص ثالث"}\n', encoding="utf-8")
    errors: list[SourceError] = []
    assert [d.id for d in read_file(path, on_error=errors.append)] == ["a-1"]
    assert [(e.line, e.reason[:9]) for e in errors] == [(2, "id 'a\\nb'"), (3, "id 'c\\td'")]
    assert all("holds a line break or a tab" in e.reason for e in errors)
    trec = tmp_path / "docs.txt"
    trec.write_text("<DOC>\n<DOCNO>x\ny</DOCNO>\n<TEXT>نص الخبر</TEXT>\n</DOC>\n"
                    "<DOC>\n<DOCNO>z</DOCNO>\n<TEXT>نص آخر</TEXT>\n</DOC>\n", encoding="utf-8")
    errors.clear()
    assert [d.id for d in read_file(trec, on_error=errors.append)] == ["z"]
    assert len(errors) == 1 and "document 1" in str(errors[0]) and "line break" in errors[0].reason


def test_ids_from_file_names_are_one_line_too_and_dates_past_year_one_in_utc_are_not_dates(tmp_path: Path) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "x\ty.txt").write_text("عنوان\nنص الخبر الأول", encoding="utf-8")
    (folder / "ok.txt").write_text("عنوان\nنص الخبر الثاني", encoding="utf-8")
    errors: list[SourceError] = []
    assert [d.id for d in read_documents(folder, on_error=errors.append)] == ["ok"]
    assert len(errors) == 1 and "line break or a tab" in errors[0].reason
    early = tmp_path / "early.jsonl"
    early.write_text('{"id": "e1", "body": "نص", "date": "0001-01-01T00:30:00+05:00"}\n'
                     '{"id": "e2", "body": "نص", "date": "0001-01-01T06:00:00+05:00"}\n', encoding="utf-8")
    warnings: list[str] = []
    first, second = read_documents(early, on_warning=warnings.append)
    assert first.published is None
    assert warnings == [f"{early}:1: unparseable date '0001-01-01T00:30:00+05:00'; kept without a date"]
    assert second.published is not None and second.published.year == 1
    with pytest.raises(UsageError, match="item 2: id 'a\\\\nb' holds a line break"):
        Archive.build([Document(id="a", body="نص"), Document(id="a\nb", body="نص")], tmp_path / "ix", encoder="none")
    assert not (tmp_path / "ix").exists()
    with pytest.raises(ValueError, match="outside the years 1-9999"):
        Document(id="z", body="نص", published=datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=5))))


def test_an_id_asked_for_with_its_bidi_control_or_spaces_finds_the_stored_article(tmp_path: Path) -> None:
    path = tmp_path / "ids.jsonl"
    path.write_text('{"id": "rtl\u202e", "body": "خبر عن كورسك"}\n{"id": "  padded ", "body": "خبر آخر"}\n',
                    encoding="utf-8")
    with Archive.build(read_documents(path), tmp_path / "index", encoder="none") as archive:
        assert sorted(d.id for d in archive) == ["padded", "rtl"]
        assert archive.get("rtl\u202e").id == "rtl" and archive.get(" padded ").id == "padded"
        assert "rtl\u202e" in archive and archive.duplicate_of(" padded ") is None
        with pytest.raises(DocumentNotFoundError):
            archive.get("rtl\u202ex")


def test_clean_text_keeps_joiners_and_marks_and_drops_overrides() -> None:
    from archive.files.readers import clean_text

    persian = "می\u200cخواهم"  # ZWNJ is spelling in Persian
    assert clean_text(persian) == persian
    assert clean_text("\u200fعربي\u200e") == "\u200fعربي\u200e"  # stateless marks stay
    assert clean_text("أ\u2066ب\u2069ج\u202bد\u202c") == "أبجد"
    assert clean_text("سطر\x0cصفحة\u2028جديدة") == "سطر\nصفحة\nجديدة"
    assert clean_text("\t\r\n") == "\t\r\n"


# ------------------------------------------------ bringing your own articles (issue 12)
def test_csv_with_header_quoted_multiline_body_author_and_arabic_dates(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "ID,Title,Body,Date,Source,Author,Category\n"
        'csv-1,الهلال يفوز على النصر,"حقق الهلال فوزا ثمينا على النصر.\nوأقيمت المباراة في الرياض، مساء الجمعة.",'
        "١٢ نوفمبر ٢٠٢٤,الرياضية,سارة أحمد,رياضة\n"
        "csv-2,خبر بلا نص,,2024-11-13,,,\n"
        "csv-3,عنوان,نص زائد,2024-11-14,مصدر,كاتب,فئة,حقل زائد\n"
        "\n"
        "csv-4,أسعار النفط,ارتفعت أسعار النفط بعد قرار أوبك,الثلاثاء 12 تشرين الثاني 2024,بي بي سي,,اقتصاد\n",
        encoding="utf-8",
    )
    errors: list[SourceError] = []
    first, oil = read_file(path, on_error=errors.append)
    assert (first.id, first.title, first.author, first.category) == ("csv-1", "الهلال يفوز على النصر", "سارة أحمد", "رياضة")
    assert first.body == "حقق الهلال فوزا ثمينا على النصر.\nوأقيمت المباراة في الرياض، مساء الجمعة."
    assert first.published == oil.published == datetime(2024, 11, 12, tzinfo=timezone.utc)
    assert first.origin == f"{path}:2" and oil.origin == f"{path}:7"
    assert [(e.line, e.reason.split(" (")[0]) for e in errors] == [
        (4, "missing body"), (5, "8 fields where the header has 7")]


def test_tsv_saved_by_excel_as_utf16_and_semicolon_csv(tmp_path: Path) -> None:
    tsv = tmp_path / "sheet.tsv"
    tsv.write_bytes("\ufeffid\ttext\tauthor\nt-1\tأطلقت الإمارات قمرا صناعيا لمراقبة المناخ\tفريق التحرير\n".encode("utf-16-le"))
    (doc,) = read_file(tsv)
    assert (doc.id, doc.body, doc.author) == ("t-1", "أطلقت الإمارات قمرا صناعيا لمراقبة المناخ", "فريق التحرير")
    semi = tmp_path / "semi.csv"
    semi.write_text("id;body;date\ns-1;حذرت منظمة الصحة العالمية من موجة حر, شديدة;2024-07-02\n", encoding="utf-8")
    (doc,) = read_file(semi)
    assert doc.body == "حذرت منظمة الصحة العالمية من موجة حر, شديدة"


def test_field_mapping_for_json_csv_and_doc_tags(tmp_path: Path) -> None:
    jsonl = tmp_path / "feed.jsonl"
    jsonl.write_text(json.dumps({"guid": "f-1", "headline": "خبر", "text_ar": ARTICLE, "pub_date": "12 أيار 2024",
                                 "body": "", "writer": "محمد علي"}, ensure_ascii=False), encoding="utf-8")
    fields = {"id": "guid", "title": "headline", "body": "text_ar", "date": "pub_date", "author": "writer"}
    (doc,) = read_documents(jsonl, fields=fields)
    assert (doc.id, doc.title, doc.body, doc.author) == ("f-1", "خبر", ARTICLE, "محمد علي")
    assert doc.published == datetime(2024, 5, 12, tzinfo=timezone.utc)
    errors: list[SourceError] = []
    assert list(read_file(jsonl, fields={"body": "missing_key"}, on_error=errors.append)) == []
    assert "expected a non-empty 'missing_key' field" in str(errors[0])
    csv_path = tmp_path / "sheet.csv"
    csv_path.write_text("Guid,Texte\nc-9,نص الخبر من جدول\n", encoding="utf-8")
    (row,) = read_file(csv_path, fields={"id": "GUID", "body": "texte"})  # column names match in any case
    assert (row.id, row.body) == ("c-9", "نص الخبر من جدول")
    trec = tmp_path / "lead.sgml"
    trec.write_text("<DOC>\n<DOCNO>L-1</DOCNO>\n<LEAD>نص المقدمة فقط</LEAD>\n<BYLINE>مراسلنا</BYLINE>\n</DOC>\n",
                    encoding="utf-8")
    (lead,) = read_file(trec, fields={"body": "LEAD", "author": "BYLINE"})
    assert (lead.body, lead.author) == ("نص المقدمة فقط", "مراسلنا")
    from archive.errors import FieldMappingError

    with pytest.raises(FieldMappingError, match="unknown article field 'bodyy'"):
        list(read_documents(jsonl, fields={"bodyy": "text"}))
    with pytest.raises(FieldMappingError, match="must map article fields"):
        list(read_documents(jsonl, fields=["body=text"]))  # type: ignore[arg-type]


def test_author_from_ant_and_saudinewsnet_records(tmp_path: Path) -> None:
    ant = tmp_path / "ant.txt"
    ant.write_text(MALFORMED_ANT.replace("<AUTHOR></AUTHOR>", "<AUTHOR>سكاي نيوز عربية - أبوظبي</AUTHOR>"),
                   encoding="utf-8")
    first, second = read_file(ant, on_warning=lambda _: None)
    assert (first.author, second.author) == ("سكاي نيوز عربية - أبوظبي", "")
    sn = tmp_path / "sn.json"
    sn.write_text(json.dumps([{"source": "aawsat", "author": "لندن: «الشرق الأوسط»", "content": ARTICLE}],
                             ensure_ascii=False), encoding="utf-8")
    (doc,) = read_file(sn)
    assert doc.author == "لندن: «الشرق الأوسط»"
    assert doc.content_hash != Document(**{**_fields(doc), "author": ""}).content_hash


def _fields(doc: Document) -> dict[str, object]:
    return {name: getattr(doc, name) for name in Document.__dataclass_fields__}


NEWS_PAGE = """<!DOCTYPE html>
<html lang="ar" dir="rtl"><head><meta charset="utf-8">
<title>وزارة الصحة تطلق حملة تطعيم | أخبار اليوم</title>
<link rel="canonical" href="https://news.example.com/2024/11/12/health-campaign">
<meta property="og:url" content="https://news.example.com/2024/11/12/health-campaign">
<meta property="og:site_name" content="أخبار اليوم">
<meta property="article:published_time" content="2024-11-12T09:30:00+03:00">
<meta name="author" content="سارة أحمد">
</head><body>
<header><a href="/">أخبار اليوم</a></header>
<nav><ul><li><a href="/">الرئيسية</a></li><li><a href="/sport">رياضة</a></li><li><a href="/eco">اقتصاد</a></li>
<li><a href="/subscribe">اشترك في النشرة البريدية</a></li></ul></nav>
<main><article><h1>وزارة الصحة تطلق حملة تطعيم</h1>
<p>أعلنت وزارة الصحة اليوم الثلاثاء عن حملة تطعيم جديدة تشمل جميع المحافظات، وتستهدف الأطفال دون سن الخامسة.</p>
<p>وقال الوزير في مؤتمر صحفي إن الحملة تستمر أسبوعين، وإن فرقا متنقلة ستزور القرى النائية لضمان وصول اللقاح إلى الجميع.</p>
</article>
<aside><h3>الأكثر قراءة</h3><ul><li><a href="/a">الهلال يفوز على النصر</a></li><li><a href="/b">ارتفاع أسعار الذهب</a></li></ul></aside></main>
<footer><p>جميع الحقوق محفوظة © 2019 أخبار اليوم</p><a href="/privacy">سياسة الخصوصية</a></footer>
</body></html>"""


def test_html_news_page_main_text_title_url_date_author_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    import trafilatura  # noqa: F401 - imported before the network is cut (it types with socket.socket)

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the HTML reader tried to use the network")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    path = tmp_path / "health-campaign.html"
    path.write_text(NEWS_PAGE, encoding="utf-8")
    (doc,) = read_file(path)
    assert doc.id == "health-campaign" and doc.title == "وزارة الصحة تطلق حملة تطعيم"
    assert doc.body.startswith("أعلنت وزارة الصحة اليوم الثلاثاء") and "فرقا متنقلة" in doc.body
    for boilerplate in ("الرئيسية", "اشترك في النشرة", "جميع الحقوق محفوظة", "سياسة الخصوصية", "الأكثر قراءة"):
        assert boilerplate not in doc.body
    assert doc.url == "https://news.example.com/2024/11/12/health-campaign"
    assert doc.published is not None and doc.published.date().isoformat() == "2024-11-12"
    assert (doc.author, doc.source) == ("سارة أحمد", "أخبار اليوم")
    # no date in the markup: the footer's "© 2019" is not taken for one
    undated = tmp_path / "undated.html"
    undated.write_text(NEWS_PAGE.replace("2024-11-12T09:30:00+03:00", "").replace("/2024/11/12", ""), encoding="utf-8")
    (doc,) = read_file(undated)
    assert doc.published is None and doc.url == "https://news.example.com/health-campaign"


def test_html_page_in_windows_1256_and_a_page_without_article_text(tmp_path: Path) -> None:
    legacy = tmp_path / "old.htm"
    legacy.write_bytes(NEWS_PAGE.replace('<meta charset="utf-8">', "").encode("cp1256"))
    declared = tmp_path / "declared.html"
    declared.write_bytes(NEWS_PAGE.replace("utf-8", "windows-1256").encode("cp1256"))
    saved = tmp_path / "article.php"  # saved from a site whose pages end in .php
    saved.write_text(NEWS_PAGE, encoding="utf-8")
    for path in (legacy, declared, saved):
        (doc,) = read_file(path)
        assert doc.title == "وزارة الصحة تطلق حملة تطعيم" and "حملة تطعيم جديدة" in doc.body
    empty = tmp_path / "empty.html"
    empty.write_text("<html><head><title>صفحة</title><script>var x = 1;</script></head><body> </body></html>",
                     encoding="utf-8")
    with pytest.raises(SourceError, match="empty.html: no article text"):
        list(read_file(empty))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-11-12", datetime(2024, 11, 12, tzinfo=timezone.utc)),
        ("2024-11-12T10:30:00+03:00", datetime(2024, 11, 12, 7, 30, tzinfo=timezone.utc)),
        ("2015-07-21 02:51:32", datetime(2015, 7, 21, 2, 51, 32, tzinfo=timezone.utc)),
        ("Tue, 12 Nov 2024 10:30:00 +0300", datetime(2024, 11, 12, 7, 30, tzinfo=timezone.utc)),
        ("12 Nov 2024", datetime(2024, 11, 12, tzinfo=timezone.utc)),
        ("November 12, 2024", datetime(2024, 11, 12, tzinfo=timezone.utc)),
        ("١٢ نوفمبر ٢٠٢٤", datetime(2024, 11, 12, tzinfo=timezone.utc)),
        ("12 تشرين الثاني 2024", datetime(2024, 11, 12, tzinfo=timezone.utc)),
        ("الثلاثاء، ١٢ تشرين الثاني ٢٠٢٤", datetime(2024, 11, 12, tzinfo=timezone.utc)),
        ("يوم الأحد 3 آذار 2024م", datetime(2024, 3, 3, tzinfo=timezone.utc)),
        ("1 كانون الثاني 2024", datetime(2024, 1, 1, tzinfo=timezone.utc)),
        ("31 كانون الأول 2023", datetime(2023, 12, 31, tzinfo=timezone.utc)),
        ("15 يونية 2023", datetime(2023, 6, 15, tzinfo=timezone.utc)),
        ("5 جويلية 2022", datetime(2022, 7, 5, tzinfo=timezone.utc)),
        ("20 غشت 2021", datetime(2021, 8, 20, tzinfo=timezone.utc)),
        ("۱۲ اغسطس ۲۰۲۴", datetime(2024, 8, 12, tzinfo=timezone.utc)),
        ("الخميس 7 مارس 2024 الساعة 9:15 م", datetime(2024, 3, 7, 21, 15, tzinfo=timezone.utc)),
        ("7 مارس 2024 12:05 ص", datetime(2024, 3, 7, 0, 5, tzinfo=timezone.utc)),
        ("12 نوفمبر 2024 10:00 +03:00", datetime(2024, 11, 12, 7, tzinfo=timezone.utc)),
    ],
)
def test_dates_as_news_files_write_them(text: str, expected: datetime) -> None:
    from archive.files.dates import parse_date

    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["أمس مساء", "قبل ساعتين", "31 فبراير 2024", "12 بريل 2024", "2024", "نوفمبر"])
def test_dates_not_understood_are_none(text: str) -> None:
    from archive.files.dates import parse_date

    assert parse_date(text) is None


def test_author_is_stored_shown_and_filterable(tmp_path: Path) -> None:
    from archive import Archive
    from archive.errors import QueryError

    src = tmp_path / "src.jsonl"
    rows = [
        {"id": "a1", "title": "حملة تطعيم", "body": "أعلنت وزارة الصحة عن حملة تطعيم في المحافظات", "author": "أحمد سالم"},
        {"id": "a2", "title": "تطعيم الأطفال", "body": "بدأت حملة تطعيم الأطفال في المدارس", "author": "سارة علي, أحمد سالم"},
        {"id": "a3", "title": "لقاح جديد", "body": "وصلت شحنة لقاح جديد لحملة التطعيم", "author": "منى حسن"},
    ]
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    with Archive.build(read_documents(src), tmp_path / "index", encoder="none", procs=1) as archive:
        assert archive.get("a2").author == "سارة علي, أحمد سالم"
        assert {h.id for h in archive.search("تطعيم", mode="lexical")} == {"a1", "a2", "a3"}
        by_ahmad = archive.search("تطعيم", mode="lexical", author="احمد سالم")  # alef without hamza finds أحمد
        assert sorted(h.id for h in by_ahmad) == ["a1", "a2"] and by_ahmad[0].author
        assert [h.id for h in archive.search("تطعيم", mode="lexical", author="سارة علي")] == ["a2"]
        assert list(archive.search("تطعيم", mode="lexical", author="كاتب آخر")) == []
        with pytest.raises(QueryError, match="author must be text"):
            archive.search("تطعيم", author=7)  # type: ignore[arg-type]


def test_an_id_derived_from_the_text_does_not_move_when_the_text_is_cleaned(tmp_path: Path) -> None:
    """Records without ids (SaudiNewsNet) get an id from their URL and body as written: stripping a
    stray bidi override or control character from the body must not change it, or every rebuild
    would delete and re-add those articles (and judged sets would lose them)."""
    import hashlib

    from archive.files.readers import read_file

    body = "\u202bارتفعت أسعار النفط\x07 في الأسواق العالمية"
    path = tmp_path / "feed.json"
    path.write_text(json.dumps([{"url": "https://example.org/a", "content": body}], ensure_ascii=False), encoding="utf-8")
    (doc,) = list(read_file(path))
    expected = "h-" + hashlib.sha256(("https://example.org/a\n" + body).encode("utf-8")).hexdigest()[:16]
    assert doc.id == expected and "\x07" not in doc.body and "\u202b" not in doc.body


def test_what_a_document_would_refuse_is_named_by_file_and_line_and_the_rest_read(tmp_path: Path) -> None:
    """A lone surrogate (a JSON escape, a file name that is not UTF-8) failed the build halfway with a raw
    UnicodeEncodeError; an id of direction marks alone, or a file name of spaces, gave an id no one can
    see or type. Each is named now, and the rest of the folder is built."""
    import os

    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "x.jsonl").write_text('{"id": "j1", "body": "نص \\ud800 عن معرض الكتاب"}\n'
                                    '{"id": "\\u200f", "body": "خبر عن معرض الكتاب في جدة"}\n'
                                    '{"id": "j3", "body": "خبر سليم عن معرض الكتاب"}\n', encoding="utf-8")
    (folder / "  spaced .txt").write_text("عنوان\nنص الخبر عن الكتاب", encoding="utf-8")
    (folder / " .txt").write_text("نص خبر بلا اسم", encoding="utf-8")
    with open(os.fsencode(folder) + b"/a\xffb.txt", "w", encoding="utf-8") as out:
        out.write("نص خبر في ملف اسمه ليس UTF-8")
    errors: list[SourceError] = []
    docs = list(read_documents(folder, on_error=errors.append))
    ids = {d.id for d in docs}
    assert ids - {"spaced", "j3"} == {next(i for i in ids if i.startswith("h-"))}, ids  # "\u200f": made from the text
    surrogates = [e for e in errors if "document 'j1': body holds a lone surrogate" in e.reason]
    assert [(e.path, e.line) for e in surrogates] == [(str(folder / "x.jsonl"), 1)]
    assert sum("only spaces or invisible" in e.reason for e in errors) == 1
    assert sum("file name is not UTF-8" in e.reason for e in errors) == 1 and len(errors) == 3
    with Archive.build(docs, tmp_path / "index", encoder="none") as archive:
        assert len(archive) == 3 and archive.get("spaced").title == "عنوان"


def test_an_article_read_from_a_file_keeps_every_field_and_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_text('{"id": "n1", "title": "ارتفاع أسعار النفط", "body": "ارتفعت أسعار النفط بعد قرار أوبك", '
                    '"source": "الجزيرة", "author": "سارة", "published": "2024-05-01T10:00:00+03:00"}\n',
                    encoding="utf-8")
    [doc] = list(read_documents([path]))
    assert doc.file == str(path.resolve()) and (doc.id, doc.source, doc.author) == ("n1", "الجزيرة", "سارة")
    assert doc == Document(id="n1", title="ارتفاع أسعار النفط", body="ارتفعت أسعار النفط بعد قرار أوبك",
                           source="الجزيرة", author="سارة", published=doc.published)
    assert doc.published.utcoffset().total_seconds() == 3 * 3600

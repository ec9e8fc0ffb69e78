"""Readers: every format, encoding and bad input, on real Arabic text."""

from __future__ import annotations

import json
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from archive.errors import SourceError
from archive.readers import decode, list_source_files, read_documents, read_file

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

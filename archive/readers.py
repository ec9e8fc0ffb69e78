"""Readers: article files on disk → :class:`~archive.document.Document`.

One job: find source files, decode them, recognise their format and yield
documents, naming the file (and line or record) of anything it cannot read.

Formats, picked by extension and content:

* plain ``.txt`` (or ``.md``): one article per file, id = file stem; the first
  non-empty line is the title when it is short (<= 25 words) and more text
  follows (the seed article's format);
* TREC-style ``<DOC>`` files (the ANT corpus), any extension, several
  documents per file; parsed with regular expressions, not an XML parser,
  because ~30 ANT files hold stray ``&`` and ``<`` that strict XML rejects;
* JSON Lines (``.jsonl``/``.ndjson``, or any file of one object per line);
* a JSON array of objects (``.json``), SaudiNewsNet's fields included;
* ``.zip`` archives of any of these (SaudiNewsNet ships as zips), read in memory.

Encodings: UTF-8 (BOM or not), else Windows-1256 when the bytes decode to
plausible Arabic text. We decide with an explicit rule rather than a general
charset detector because the only legacy encoding that matters for Arabic
archives is cp1256, and a detector's guess between cp1256, ISO-8859-6 and
MacArabic on short files is less reliable than "valid cp1256 and mostly
Arabic letters".
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import io
import json
import logging
import os
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from .document import Document
from .errors import SourceError

TITLE_MAX_WORDS = 25
TEXT_SUFFIXES = {".txt", ".md", ".text", ".sgml", ".xml", ".trec", ""}
JSON_SUFFIXES = {".json", ".jsonl", ".ndjson"}

OnError = Callable[[SourceError], None]
OnWarning = Callable[[str], None]

_log = logging.getLogger(__name__)
_DOC_RE = re.compile(r"<DOC>(.*?)(?:</DOC>|(?=<DOC>)|\Z)", re.S | re.I)
_ARABIC_RE = re.compile(r"[\u0600-\u06ff]")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_BODY_FIELDS = ("body", "text", "content")
_DATE_FIELDS = ("date", "published", "date_extracted")


# ------------------------------------------------------------------ locating
def list_source_files(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """Every file under ``paths`` (directories walked recursively, hidden entries skipped), sorted."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise SourceError(str(path), "no such file or directory")
        if path.is_file():
            files.append(path)
            continue
        for child in sorted(path.rglob("*")):
            rel = child.relative_to(path).parts
            if child.is_file() and not any(part.startswith(".") for part in rel) and child.name != "README.md":
                files.append(child)
    return files


def read_documents(
    paths: str | Path | Iterable[str | Path],
    *,
    on_error: OnError | None = None,
    on_warning: OnWarning | None = None,
) -> Iterator[Document]:
    """Documents from every file under ``paths``.

    Without ``on_error`` the first problem raises :class:`SourceError`; with it,
    each problem is reported through it and reading goes on.
    """
    for path in list_source_files(paths):
        file = os.path.abspath(path)  # where the article lives: a build deletes it only when this is gone
        try:
            for doc in read_file(path, on_error=on_error, on_warning=on_warning):
                yield doc if doc.file else dataclasses.replace(doc, file=file)
        except SourceError as exc:
            if on_error is None:
                raise
            on_error(exc)


def read_file(
    path: str | Path, *, on_error: OnError | None = None, on_warning: OnWarning | None = None
) -> Iterator[Document]:
    """Documents of one file (see the module docstring for formats).

    File-level problems (missing, empty, binary, undecodable) always raise;
    record-level ones (a bad JSON line, a record without body) go to
    ``on_error`` when given, else raise.
    """
    path = Path(path)
    warn = on_warning or _log.warning
    fail = on_error or _raise
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(str(path), f"cannot read ({exc.strerror})") from None
    if path.suffix.lower() == ".zip":
        yield from _read_zip(path, data, fail, warn)
        return
    yield from _read_bytes(str(path), path.stem, path.suffix.lower(), data, fail, warn)


def _raise(error: SourceError) -> None:
    raise error


# ------------------------------------------------------------------ decoding
def decode(name: str, data: bytes) -> str:
    """Text of ``data``: UTF-8 (BOM or not), else plausible Windows-1256; else a clear error."""
    if not data.strip():
        raise SourceError(name, "empty file")
    if b"\x00" in data[:8192]:
        raise SourceError(name, "binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1256")
    except UnicodeDecodeError:
        text = ""
    if text and not _CONTROL_RE.search(text):
        letters = [c for c in text if c.isalpha()]
        arabic = sum(1 for c in letters if _ARABIC_RE.match(c))
        if letters and arabic / len(letters) >= 0.5:
            return text
    raise SourceError(name, "cannot decode: neither UTF-8 nor Windows-1256 Arabic text")


def _read_zip(path: Path, data: bytes, fail: OnError, warn: OnWarning) -> Iterator[Document]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise SourceError(str(path), "not a valid zip file") from None
    with archive:
        for info in archive.infolist():
            inner = Path(info.filename)
            if info.is_dir() or any(p.startswith((".", "__MACOSX")) for p in inner.parts):
                continue
            name = f"{path}!{info.filename}"
            try:
                yield from _read_bytes(name, inner.stem, inner.suffix.lower(), archive.read(info), fail, warn)
            except SourceError as exc:
                fail(exc)


def _read_bytes(
    name: str, stem: str, suffix: str, data: bytes, fail: OnError, warn: OnWarning
) -> Iterator[Document]:
    text = decode(name, data)
    head = text.lstrip()[:64]
    if head[:5].upper() == "<DOC>":
        yield from _read_trec(name, text, fail, warn)
    elif suffix in JSON_SUFFIXES or head.startswith(("{", "[")):
        if head.startswith("[") or (suffix == ".json" and not _looks_like_lines(text)):
            yield from _read_json_array(name, text, fail, warn)
        else:
            yield from _read_json_lines(name, text, fail, warn)
    elif suffix in TEXT_SUFFIXES or not suffix.isascii():
        yield _read_plain(name, stem, text)
    else:
        raise SourceError(name, f"unknown file type {suffix!r} (expected .txt, .jsonl, .json, .zip or <DOC> text)")


def _looks_like_lines(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    return len(lines) > 1 and all(line.lstrip().startswith("{") for line in lines[:3])


# ------------------------------------------------------------------- formats
def _read_plain(name: str, stem: str, text: str) -> Document:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[0].strip():
        lines.pop(0)
    first = lines[0].strip() if lines else ""
    rest = _tidy("\n".join(lines[1:]))
    if first and rest and len(first.split()) <= TITLE_MAX_WORDS:
        return Document(id=stem, title=first, body=rest, origin=name)
    return Document(id=stem, body=_tidy("\n".join(lines)), origin=name)


def _tidy(text: str) -> str:
    """Strip line ends, collapse runs of blank lines."""
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in text.strip().splitlines()))


def _tag(block: str, tag: str) -> str:
    match = re.search(rf"<{tag}>(.*?)</{tag}>", block, re.S | re.I)
    return html.unescape(match.group(1)).strip() if match else ""


def _is_lead(abstract: str, body: str) -> bool:
    """True when ``abstract`` is the start of ``body`` up to whitespace and a cut-off last word."""
    squashed = re.sub(r"\s+", "", abstract)
    probe = squashed[: max(len(squashed) // 2, len(squashed) - 15)]
    return re.sub(r"\s+", "", body[: len(abstract) * 2]).startswith(probe)


def _read_trec(name: str, text: str, fail: OnError, warn: OnWarning) -> Iterator[Document]:
    for number, match in enumerate(_DOC_RE.finditer(text), 1):
        block = match.group(1)
        where = f"{name} (document {number})"
        doc_id, body = _tag(block, "DOCNO"), _tag(block, "TEXT")
        abstract = _tag(block, "ABSTRACT")
        # ANT abstracts repeat the lead of the text (cut short, lines joined): keep them only when new.
        if abstract and not _is_lead(abstract, body):
            body = f"{abstract}\n\n{body}" if body else abstract
        if not doc_id:
            fail(SourceError(where, "missing field DOCNO"))
            continue
        if not body.strip():
            fail(SourceError(where, f"document {doc_id!r} has no TEXT"))
            continue
        yield Document(
            id=doc_id,
            title=_tag(block, "TITLE"),
            body=_tidy(body),
            published=_date(_tag(block, "TIME"), where, warn),
            source=_tag(block, "SRC"),
            url=_tag(block, "URL"),
            category=_tag(block, "CAT"),
            origin=name,
        )


def _read_json_lines(name: str, text: str, fail: OnError, warn: OnWarning) -> Iterator[Document]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            fail(SourceError(name, f"invalid JSON ({exc.msg}, column {exc.colno})", line=number))
            continue
        doc = _from_record(record, where, name, number, fail, warn)
        if doc is not None:
            yield doc


def _read_json_array(name: str, text: str, fail: OnError, warn: OnWarning) -> Iterator[Document]:
    try:
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(name, f"invalid JSON ({exc.msg})", line=exc.lineno) from None
    if isinstance(records, dict):
        records = [records]
    if not isinstance(records, list):
        raise SourceError(name, "a JSON file must hold an array of article objects")
    for number, record in enumerate(records, 1):
        doc = _from_record(record, f"{name} (record {number})", name, None, fail, warn)
        if doc is not None:
            yield doc


def _from_record(
    record: object, where: str, name: str, line: int | None, fail: OnError, warn: OnWarning
) -> Document | None:
    def error(reason: str) -> None:
        fail(SourceError(name if line else where, reason, line=line))

    if not isinstance(record, dict):
        error("expected a JSON object")
        return None
    fields: dict[str, str] = {}
    for key in ("id", "title", "source", "url", "category", "language", *_BODY_FIELDS, *_DATE_FIELDS):
        value = record.get(key)
        if value is None:
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key == "id":
            value = str(value)
        if not isinstance(value, str):
            error(f"field {key!r} must be text, not {type(value).__name__}")
            return None
        fields[key] = value
    body = next((fields[k] for k in _BODY_FIELDS if fields.get(k, "").strip()), "")
    if not body:
        error("missing body (expected a non-empty 'body', 'text' or 'content' field)")
        return None
    raw_date = next((fields[k] for k in _DATE_FIELDS if fields.get(k, "").strip()), "")
    doc_id = fields.get("id", "").strip()
    if not doc_id:
        digest = hashlib.sha256((fields.get("url", "") + "\n" + body).encode("utf-8")).hexdigest()
        doc_id = f"h-{digest[:16]}"
    return Document(
        id=doc_id,
        title=fields.get("title", "").strip(),
        body=_tidy(body),
        published=_date(raw_date, where, warn),
        source=fields.get("source", "").strip(),
        url=fields.get("url", "").strip(),
        category=fields.get("category", "").strip(),
        language=fields.get("language", "").strip() or "ar",
        origin=where,
    )


def parse_date(value: str) -> datetime | None:
    """A UTC-aware datetime from RFC 2822, ISO 8601 or ``YYYY-MM-DD hh:mm:ss``; ``None`` if unparseable."""
    value = value.strip()
    if not value:
        return None
    moment: datetime | None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            moment = None
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _date(value: str, where: str, warn: OnWarning) -> datetime | None:
    if not value:
        return None
    moment = parse_date(value)
    if moment is None:
        warn(f"{where}: unparseable date {value!r}; kept without a date")
    return moment

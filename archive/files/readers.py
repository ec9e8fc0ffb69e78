"""Readers: article files on disk → :class:`~archive.document.Document`.

One job: decode source files, recognise their format and yield documents,
naming the file (and line or record) of anything it cannot read. Finding the
files (links followed, loops and pipes named) is :mod:`archive.files.sourcefiles`;
dates are :mod:`archive.files.dates`.

Formats, picked by extension and content:

* plain ``.txt`` (or ``.md``): one article per file, id = file stem (as ids are stored:
  :func:`~archive.files.cleaning.stored_id`); the first
  non-empty line is the title when it is short (<= 25 words) and more text
  follows (the seed article's format);
* TREC-style ``<DOC>`` files (the ANT corpus), any extension, several
  documents per file; parsed with regular expressions, not an XML parser,
  because ~30 ANT files hold stray ``&`` and ``<`` that strict XML rejects;
* JSON Lines (``.jsonl``/``.ndjson``, or any file of one object per line);
* a JSON array of objects (``.json``), SaudiNewsNet's fields included;
* CSV and TSV (``.csv``, ``.tsv``) with a header row, one article per row (a ``'``
  that an export put before a formula character is taken off: :mod:`.cells`);
* HTML pages of news sites (``.html``, ``.htm``, or any file that starts
  as a page does, ``<!DOCTYPE html>`` or ``<html>``): the main text, title,
  author, URL (canonical link or ``og:url``) and date extracted with
  trafilatura, which drops navigation, footers and other boilerplate;
* ``.zip`` archives of any of these (SaudiNewsNet ships as zips), read in
  memory, never extracted: a member's path is only a name, so members named
  ``../x`` or ``/x`` are read like any other (and named in a warning).

Records (JSON, CSV) and ``<DOC>`` blocks take each article field from a list
of keys (:data:`FIELD_KEYS`); a field mapping (``fields={"body": "text"}``)
replaces the list for the fields it names.

Encodings: see :mod:`archive.files.decoding` (a line that is not UTF-8 in a
UTF-8 file costs its own record only, named by file and line). Sizes: see
:mod:`archive.files.limits` (a file, zip member or article over a limit is not
read, and named).

Every text a reader returns passes through :func:`clean_text`, so the store,
the index and snippets never hold control characters (see its docstring).
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import logging
import os
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Set
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from .cells import unguard_formula
from .cleaning import clean_text, multiline_id, stored_id, visible
from .dates import parse_date
from ..document import Document
from ..errors import FieldMappingError, SourceError, SourceLimitError
from .decoding import decode, decode_lines
from .limits import ReadLimits, ZipBudget, oversized, read_member
from .sourcefiles import SKIPPED_NAMES, list_source_files, open_regular, read_bytes

__all__ = [
    "FIELD_KEYS", "ReadLimits", "clean_text", "decode", "list_source_files", "parse_date", "read_documents", "read_file",
]

TITLE_MAX_WORDS = 25
TEXT_SUFFIXES = {".txt", ".md", ".text", ".sgml", ".xml", ".trec", ""}
JSON_SUFFIXES = {".json", ".jsonl", ".ndjson"}
CSV_SUFFIXES = {".csv": ",", ".tsv": "\t"}
HTML_SUFFIXES = {".html", ".htm"}

FIELD_KEYS: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "title": ("title",),
    "body": ("body", "text", "content"),
    "published": ("date", "published", "date_extracted"),
    "source": ("source",),
    "url": ("url",),
    "category": ("category",),
    "language": ("language",),
    "author": ("author",),
}
"""For each article field, the record keys it is read from (the first non-empty one wins)."""
TREC_TAGS: dict[str, str] = {
    "id": "DOCNO", "title": "TITLE", "body": "TEXT", "published": "TIME", "source": "SRC",
    "url": "URL", "category": "CAT", "language": "LANGUAGE", "author": "AUTHOR",
}
"""The ``<DOC>`` tag each article field is read from."""
FIELD_ALIASES = {"date": "published", "text": "body"}
SHOWN_REFUSALS = 5
"""Zip members over a size limit named one by one; the rest of one zip are counted."""

OnError = Callable[[SourceError], None]
OnWarning = Callable[[str], None]
FieldMap = Mapping[str, str]

_log = logging.getLogger(__name__)
_DOC_RE = re.compile(r"<DOC>(.*?)(?:</DOC>|(?=<DOC>)|\Z)", re.S | re.I)
_HTML_HEAD_RE = re.compile(rb"(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)[\s>]", re.I | re.S)
"""A saved page of another extension (``.php``, ``.aspx``, none) is read as HTML too."""


# ------------------------------------------------------------------ reading
@dataclass(frozen=True, slots=True)
class _Context:
    """How one read reports problems and which keys it reads each field from."""

    fail: OnError
    warn: OnWarning
    keys: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(FIELD_KEYS))
    limits: ReadLimits = field(default_factory=ReadLimits)


def field_map(fields: FieldMap | None) -> dict[str, tuple[str, ...]]:
    """The keys each article field is read from, after a mapping ``{field: key}`` is applied.

    ``date`` is accepted for ``published`` and ``text`` for ``body``. An
    unknown field or an empty key raises :class:`FieldMappingError`.
    """
    if fields is not None and not isinstance(fields, Mapping):
        raise FieldMappingError(f"fields must map article fields to keys, e.g. {{'body': 'text'}}, not {fields!r}")
    keys = dict(FIELD_KEYS)
    for name, key in (fields or {}).items():
        target = FIELD_ALIASES.get(name, name) if isinstance(name, str) else name
        if target not in FIELD_KEYS:
            raise FieldMappingError(
                f"unknown article field {name!r} in the field mapping; choose from: {', '.join(FIELD_KEYS)}"
            )
        if not isinstance(key, str) or not key.strip():
            raise FieldMappingError(f"field {name!r} is mapped to {key!r}; give the name of a key, column or tag")
        keys[target] = (key.strip(),)
    return keys


def read_documents(
    paths: str | Path | Iterable[str | Path],
    *,
    on_error: OnError | None = None,
    on_warning: OnWarning | None = None,
    fields: FieldMap | None = None,
    limits: ReadLimits | None = None,
) -> Iterator[Document]:
    """Documents from every file under ``paths`` (folders walked, links followed).

    Without ``on_error`` the first problem raises :class:`SourceError`; with it,
    each problem is reported through it and reading goes on. Every path not
    read is named through ``on_error`` or ``on_warning`` (see
    :mod:`archive.files.sourcefiles`). ``fields`` maps article fields to the keys
    (JSON), columns (CSV) or tags (``<DOC>``) to read them from, e.g.
    ``{"body": "text", "published": "pub_date"}``. ``limits``: the sizes of a
    file, zip member and article read (:class:`ReadLimits`; over one, it is
    named through ``on_error`` and not read).
    """
    field_map(fields)  # a bad mapping fails before any file is read
    for path in list_source_files(paths, on_error=on_error, on_warning=on_warning):
        file = os.path.abspath(path)  # where the article lives: a build deletes it only when this is gone
        try:
            for doc in read_file(path, on_error=on_error, on_warning=on_warning, fields=fields, limits=limits):
                yield doc if doc.file else doc.read_from(file)
        except SourceError as exc:
            if on_error is None:
                raise
            on_error(exc)


def read_file(
    path: str | Path,
    *,
    on_error: OnError | None = None,
    on_warning: OnWarning | None = None,
    fields: FieldMap | None = None,
    limits: ReadLimits | None = None,
) -> Iterator[Document]:
    """Documents of one file (see the module docstring for formats).

    File-level problems (missing, not a regular file, empty, binary,
    undecodable) always raise; record-level ones (a bad JSON line, a record
    without body) go to ``on_error`` when given, else raise. A named pipe or
    device is refused without being opened for reading. ``fields``, ``limits``:
    as for :func:`read_documents`.
    """
    path = Path(path)
    ctx = _Context(on_error or _raise, on_warning or _log.warning, field_map(fields), limits or ReadLimits())
    if path.suffix.lower() == ".zip":
        with open_regular(path) as fh:
            yield from _read_zip(path, fh, ctx)
        return
    data = read_bytes(path, ctx.limits)
    yield from _read_bytes(str(path), path.stem, path.suffix.lower(), data, ctx)


def _raise(error: SourceError) -> None:
    raise error


# ------------------------------------------------------------------ zips and formats
def _read_zip(path: Path, fh: BinaryIO, ctx: _Context) -> Iterator[Document]:
    """Members of a zip, each inflated in memory within the limits (never extracted: a member's path is
    only its name)."""
    try:
        archive = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError):
        raise SourceError(str(path), "not a valid zip file") from None
    hidden = refused = 0
    budget = ZipBudget()
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            inner = PurePosixPath(info.filename.replace("\\", "/"))
            names = [p for p in inner.parts if p not in ("/", ".", "..")]
            if not names or any(p.startswith(".") or p == "__MACOSX" for p in names) or names[-1] in SKIPPED_NAMES:
                hidden += 1
                continue
            name = f"{path}!{info.filename}"
            if inner.is_absolute() or ".." in inner.parts:
                ctx.warn(f"{name}: member path leads outside the zip; read in memory as any other (nothing is extracted)")
            try:
                data = read_member(archive, info, name, ctx.limits, budget)
            except SourceLimitError as exc:  # a zip of 2,000 bombs: the first few named, then a count
                refused += 1
                if refused <= SHOWN_REFUSALS:
                    ctx.fail(exc)
                continue
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as exc:
                ctx.fail(SourceError(name, f"cannot read zip member ({exc})"))
                continue
            try:
                yield from _read_bytes(name, inner.stem, inner.suffix.lower(), data, ctx)
            except SourceError as exc:
                ctx.fail(exc)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as exc:  # damaged, encrypted
                ctx.fail(SourceError(name, f"cannot read zip member ({exc})"))
    if refused > SHOWN_REFUSALS:
        ctx.fail(SourceLimitError(str(path), f"{refused - SHOWN_REFUSALS:,} more members over a size limit, not read "
                                             "(as the ones named above)"))
    if hidden:
        ctx.warn(f"{path}: skipped {hidden} hidden, __MACOSX or README member(s)")


def _read_bytes(name: str, stem: str, suffix: str, data: bytes, ctx: _Context) -> Iterator[Document]:
    """The documents of one file's bytes, each within ``ctx.limits`` (an article over it is named, not read)."""
    for doc in _read_text(name, stem, suffix, data, ctx):
        error = oversized(doc, ctx.limits)
        if error is None and multiline_id(doc.id):  # an id from a file name: records were checked as read
            error = SourceError(name, multiline_id(doc.id))
        if error is None:
            yield doc
        else:
            ctx.fail(error)


def _read_text(name: str, stem: str, suffix: str, data: bytes, ctx: _Context) -> Iterator[Document]:
    # JSON strings and <DOC> tags are cleaned one by one (JSON escapes can spell controls too);
    # plain text, CSV and HTML are cleaned whole.
    markup = suffix in HTML_SUFFIXES or _HTML_HEAD_RE.match(data[:512]) is not None
    decoded = decode_lines(name, data, markup=markup)
    text = decoded.text
    head = text.lstrip()[:64]
    if head[:5].upper() == "<DOC>":
        kind = "trec"
    elif markup and suffix not in JSON_SUFFIXES and suffix not in CSV_SUFFIXES:
        kind = "html"
    elif suffix in CSV_SUFFIXES:
        kind = "csv"
    elif suffix in JSON_SUFFIXES or head.startswith(("{", "[")):
        array = head.startswith("[") or (suffix == ".json" and not _looks_like_lines(text))
        kind = "json" if array else "lines"
    elif suffix in TEXT_SUFFIXES or not suffix.isascii():
        kind = "plain"
    else:
        raise SourceError(
            name,
            f"unknown file type {suffix!r} (expected .txt, .jsonl, .json, .csv, .tsv, .html, .zip or <DOC> text)",
        )
    bad = {line for line, _ in decoded.bad_lines}
    if bad and kind not in ("trec", "csv", "lines"):  # one article, or one JSON array: the file is not read
        decode(name, data, markup=markup)  # raises, naming the first bad line
    for line, column in decoded.bad_lines:  # the record holding each is left out below
        ctx.fail(SourceError(name, decoded.reason(line, column), line=line))
    if kind == "trec":
        yield from _read_trec(name, text, ctx, bad)
    elif kind == "html":
        yield _read_html(name, _file_id(name, stem), clean_text(text), ctx.warn)
    elif kind == "csv":
        yield from _read_csv(name, clean_text(text), CSV_SUFFIXES[suffix], ctx, bad)
    elif kind == "json":
        yield from _read_json_array(name, text, ctx)
    elif kind == "lines":
        yield from _read_json_lines(name, text, ctx)
    else:
        yield _read_plain(name, _file_id(name, stem), clean_text(text))


def _file_id(name: str, stem: str) -> str:
    """The id of the one article of file ``name``: its name without the extension, as ids are stored
    (:func:`stored_id`: a space around it or a control character in it taken out); a name that gives
    none, or is not UTF-8 text, is a :class:`SourceError` (rename the file)."""
    doc_id = stored_id(stem)
    try:
        doc_id.encode("utf-8")
    except UnicodeEncodeError:
        raise SourceError(name, "the file name is not UTF-8 text, and an article's id is its file name: "
                                "rename the file") from None
    if not visible(doc_id):
        raise SourceError(name, "the file name, the article's id, is only spaces or invisible characters: "
                                "rename the file")
    return doc_id


def _looks_like_lines(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    return len(lines) > 1 and all(line.lstrip().startswith("{") for line in lines[:3])


# ------------------------------------------------------------------- formats
def _read_plain(name: str, doc_id: str, text: str) -> Document:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[0].strip():
        lines.pop(0)
    first = lines[0].strip() if lines else ""
    rest = _tidy("\n".join(lines[1:]))
    if first and rest and len(first.split()) <= TITLE_MAX_WORDS:
        return Document(id=doc_id, title=first, body=rest, origin=name)
    return Document(id=doc_id, body=_tidy("\n".join(lines)), origin=name)


def _tidy(text: str) -> str:
    """Strip line ends, collapse runs of blank lines."""
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in text.strip().splitlines()))


def _tag(block: str, tag: str) -> str:
    match = re.search(rf"<{re.escape(tag)}>(.*?)</{re.escape(tag)}>", block, re.S | re.I)
    return clean_text(html.unescape(match.group(1))).strip() if match else ""


def _is_lead(abstract: str, body: str) -> bool:
    """True when ``abstract`` is the start of ``body`` up to whitespace and a cut-off last word."""
    squashed = re.sub(r"\s+", "", abstract)
    probe = squashed[: max(len(squashed) // 2, len(squashed) - 15)]
    return re.sub(r"\s+", "", body[: len(abstract) * 2]).startswith(probe)


def _trec_tag(ctx: _Context, name: str) -> str:
    """The tag of article field ``name``: the mapped key when one was given, else ANT's tag."""
    keys = ctx.keys[name]
    return TREC_TAGS[name] if keys == FIELD_KEYS[name] else keys[0]


def _read_trec(name: str, text: str, ctx: _Context, bad: Set[int] = frozenset()) -> Iterator[Document]:
    """``<DOC>`` blocks; a block holding a line that was not text (``bad``, already named) is left out."""
    tags = {f: _trec_tag(ctx, f) for f in TREC_TAGS}
    for number, match in enumerate(_DOC_RE.finditer(text), 1):
        block = match.group(1)
        where = f"{name} (document {number})"
        if bad:
            first = text.count("\n", 0, match.start()) + 1
            if any(first <= line <= first + match.group(0).count("\n") for line in bad):
                continue
        doc_id, body = _tag(block, tags["id"]), _tag(block, tags["body"])
        abstract = _tag(block, "ABSTRACT")
        # ANT abstracts repeat the lead of the text (cut short, lines joined): keep them only when new.
        if abstract and not _is_lead(abstract, body):
            body = f"{abstract}\n\n{body}" if body else abstract
        if not visible(doc_id):  # an id of direction marks alone is as good as none
            ctx.fail(SourceError(where, f"missing field {tags['id']}"))
            continue
        if multiline_id(doc_id):
            ctx.fail(SourceError(where, multiline_id(doc_id)))
            continue
        if not body.strip():
            ctx.fail(SourceError(where, f"document {doc_id!r} has no {tags['body']}"))
            continue
        yield Document(
            id=doc_id,
            title=_tag(block, tags["title"]),
            body=_tidy(body),
            published=_date(_tag(block, tags["published"]), where, ctx.warn),
            source=_tag(block, tags["source"]),
            url=_tag(block, tags["url"]),
            category=_tag(block, tags["category"]),
            language=_tag(block, tags["language"]) or "ar",
            author=_tag(block, tags["author"]),
            origin=name,
        )


def _read_json_lines(name: str, text: str, ctx: _Context) -> Iterator[Document]:
    # Lines end at "\n" only: a JSON string may hold a raw U+2028 or form feed, which splitlines() would cut.
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, strict=False)  # raw controls in strings: cleaned below
        except json.JSONDecodeError as exc:
            ctx.fail(SourceError(name, f"invalid JSON ({exc.msg}, column {exc.colno})", line=number))
            continue
        doc = _from_record(record, f"{name}:{number}", name, number, ctx)
        if doc is not None:
            yield doc


def _read_json_array(name: str, text: str, ctx: _Context) -> Iterator[Document]:
    try:
        records = json.loads(text, strict=False)
    except json.JSONDecodeError as exc:
        raise SourceError(name, f"invalid JSON ({exc.msg})", line=exc.lineno) from None
    if isinstance(records, dict):
        records = [records]
    if not isinstance(records, list):
        raise SourceError(name, "a JSON file must hold an array of article objects")
    for number, record in enumerate(records, 1):
        doc = _from_record(record, f"{name} (record {number})", name, None, ctx)
        if doc is not None:
            yield doc


def _read_csv(name: str, text: str, delimiter: str, ctx: _Context, bad: Set[int] = frozenset()) -> Iterator[Document]:
    """Rows of a CSV/TSV file with a header row; column names match keys case-insensitively.

    A row spanning a line that was not text (``bad``, already named) is left out."""
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 28))  # an article can exceed the 128 KiB default
    if delimiter == ",":  # spreadsheets in many locales write ';'
        header = text.lstrip("\ufeff").split("\n", 1)[0]
        if header.count(";") > header.count(","):
            delimiter = ";"
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header_row = next(rows, None)
    except csv.Error as exc:
        raise SourceError(name, f"invalid CSV header ({exc})", line=1) from None
    if not header_row or not any(h.strip() for h in header_row):
        raise SourceError(name, "no header row (the first line must name the columns, e.g. id,title,body,date)")
    columns = [h.strip().lower() for h in header_row]
    line = rows.line_num
    while True:
        start = line + 1
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            ctx.fail(SourceError(name, f"invalid CSV ({exc})", line=start))
            return
        line = rows.line_num
        if not any(cell.strip() for cell in row) or any(start <= b <= line for b in bad):
            continue
        if len(row) != len(columns):
            ctx.fail(SourceError(
                name, f"{len(row)} fields where the header has {len(columns)} (quote fields that hold "
                f"{'tabs' if delimiter == chr(9) else 'the separator ' + repr(delimiter)})", line=start,
            ))
            continue
        record = {key: unguard_formula(cell) for key, cell in zip(columns, row) if key}
        doc = _from_record(record, f"{name}:{start}", name, start, ctx, fold_case=True)
        if doc is not None:
            yield doc


def _read_html(name: str, doc_id: str, text: str, warn: OnWarning) -> Document:
    """The article of a news page: main text, title, author, URL and date, by trafilatura.

    Imported here: trafilatura (with lxml) takes ~0.4 s to import, which
    every other command should not pay. The extraction runs offline on the
    text given; nothing is fetched. The date is the page's publication date
    from its markup (meta tags, ``<time>``, URL), not a date guessed from
    the text (``extensive_search`` off: a footer's "© 2024" is not a date).
    A page nested too deep to read whole is named through ``warn``
    (:mod:`archive.files.pages`).
    """
    try:
        import trafilatura

        from .pages import parse_page
    except ImportError:  # pragma: no cover - a declared dependency
        raise SourceError(name, "reading HTML needs trafilatura. Fix: pip install trafilatura") from None
    page = trafilatura.bare_extraction(
        parse_page(name, text, warn), with_metadata=True, include_comments=False, include_tables=True,
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    body = _tidy(clean_text(page.text or "")) if page is not None else ""
    if not body:
        raise SourceError(name, "no article text found in this HTML page")
    title = clean_text(page.title or "").strip()
    lines = body.split("\n", 1)
    if title and lines[0].strip() == title and len(lines) > 1:  # the headline repeated as the text's first line
        body = lines[1].strip()
    published = parse_date(page.date) if page.date else None
    return Document(
        id=doc_id,
        title=title,
        body=body,
        published=published,
        source=clean_text(page.sitename or page.hostname or "").strip(),
        url=clean_text(page.url or "").strip(),
        category=clean_text(", ".join(page.categories or [])).strip(),
        author=clean_text(page.author or "").strip(),
        origin=name,
    )


def _from_record(
    record: object, where: str, name: str, line: int | None, ctx: _Context, *, fold_case: bool = False
) -> Document | None:
    """The document of one JSON or CSV record, or ``None`` after reporting why there is none."""

    def error(reason: str) -> None:
        ctx.fail(SourceError(name if line else where, reason, line=line))

    if not isinstance(record, dict):
        error("expected a JSON object")
        return None
    values: dict[str, str] = {}
    raw: dict[str, str] = {}  # as written: an id derived from the text must not move when cleaning improves
    for target, keys in ctx.keys.items():
        for key in keys:
            value = record.get(key.lower() if fold_case else key)
            if value is None:
                continue
            if target == "id" and isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if target == "id" and not isinstance(value, str):
                shown = json.dumps(value) if isinstance(value, (float, bool)) else type(value).__name__
                error(f"id {shown} is neither text nor a whole number; write ids as strings, e.g. \"id\": \"a-17\"")
                return None
            if not isinstance(value, str):
                error(f"field {key!r} must be text, not {type(value).__name__}")
                return None
            cleaned = clean_text(value)
            if cleaned.strip():
                values[target], raw[target] = cleaned, value
                break
    body = values.get("body", "")
    if not body:
        wanted = " or ".join(repr(k) for k in ctx.keys["body"])
        error(f"missing body (expected a non-empty {wanted} field)")
        return None
    doc_id = values.get("id", "").strip()
    if multiline_id(doc_id):
        error(multiline_id(doc_id))
        return None
    if not visible(doc_id):  # none (or direction marks alone): from the URL and body as written, as before
        written = raw.get("url", "") + "\n" + raw["body"]  # surrogatepass: a lone one is named below, not here
        doc_id = f"h-{hashlib.sha256(written.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}"
    try:
        return Document(
            id=doc_id,
            title=values.get("title", "").strip(),
            body=_tidy(body),
            published=_date(values.get("published", ""), where, ctx.warn),
            source=values.get("source", "").strip(),
            url=values.get("url", "").strip(),
            category=values.get("category", "").strip(),
            language=values.get("language", "").strip() or "ar",
            author=values.get("author", "").strip(),
            origin=where,
        )
    except ValueError as exc:  # text that cannot be stored (a lone surrogate from a JSON escape), named
        error(str(exc))
        return None


def _date(value: str, where: str, warn: OnWarning) -> datetime | None:
    if not value or not value.strip():
        return None
    moment = parse_date(value)
    if moment is None:
        warn(f"{where}: unparseable date {value!r}; kept without a date")
    return moment

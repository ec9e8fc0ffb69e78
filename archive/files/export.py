"""Whole articles out of an archive, as JSON Lines or CSV (``archive export``).

The records use the field names the readers take in (``id``, ``title``,
``body``, ``published``, ``source``, ...), so an export can be built into an
archive again. Rows are written one by one as the documents arrive.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Iterable
from datetime import datetime
from typing import TextIO

from ..document import Document
from ..errors import QueryError

FORMATS = ("jsonl", "csv")
BOM = "\ufeff"
"""The UTF-8 byte order mark (EF BB BF once encoded) that ``bom=True`` puts before a CSV."""
_INTERNAL = {"origin", "file"}  # where the article was read from: paths on the machine that built the archive
_FIRST = ("id", "title", "published", "source", "category", "url")
_PUBLIC = [f.name for f in dataclasses.fields(Document) if f.name not in _INTERNAL]
FIELDS = (*_FIRST, *(n for n in _PUBLIC if n not in _FIRST and n != "body"), "body")
"""Exported fields, in order: every public field of :class:`~archive.document.Document`, the body last."""


def record(doc: Document) -> dict[str, object]:
    """The exported fields of ``doc``; dates as ISO 8601 text."""
    values: dict[str, object] = {}
    for name in FIELDS:
        value = getattr(doc, name)
        values[name] = value.isoformat() if isinstance(value, datetime) else value
    return values


def write_documents(
    documents: Iterable[Document], out: TextIO, format: str = "jsonl", *, bom: bool = False,  # noqa: A002
) -> int:
    """Write ``documents`` to ``out`` in ``format`` (``jsonl`` or ``csv``, with a header row); return how many.

    ``bom`` writes a byte order mark first (CSV only: Excel opens a CSV as UTF-8 only
    when it starts with one, and takes Arabic for mojibake otherwise; a JSON reader
    would take it for garbage)."""
    if format not in FORMATS:
        raise QueryError(f"unknown export format {format!r}; choose one of: {', '.join(FORMATS)}")
    if bom and format != "csv":
        raise QueryError("a byte order mark is for CSV (spreadsheets); JSON Lines are UTF-8 without one")
    count = 0
    if format == "csv":
        if bom:
            out.write(BOM)
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
        for doc in documents:
            writer.writerow({k: "" if v is None else v for k, v in record(doc).items()})
            count += 1
    else:
        for doc in documents:
            out.write(json.dumps(record(doc), ensure_ascii=False) + "\n")
            count += 1
    return count

"""The article record every part of the archive exchanges.

A :class:`Document` is immutable; its :attr:`content_hash` covers every field a
reader fills, so an incremental build can tell a changed article from an
unchanged one by comparing hashes. It is checked when made (field types, text
that can be stored, an id as the readers store ids), so that a bad article is
named where it is made rather than failing a build halfway.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import MISSING, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from .files.cleaning import unusable_id
from .text.normalize import normalize


_TEXT_FIELDS = ("id", "body", "title", "source", "url", "category", "language", "author", "origin", "file")
_STORED_TEXT = _TEXT_FIELDS[:-2]
"""The fields stored as UTF-8 text; ``origin`` and ``file`` are paths (a file name that is not UTF-8
is read with surrogates standing for its bytes)."""


@dataclass(frozen=True, slots=True)
class Document:
    """One news article.

    ``published`` is timezone-aware or ``None``; ``language`` is a BCP-47 code
    (``"ar"`` unless a reader knows better). ``id`` is as the readers store ids
    (:func:`~archive.files.cleaning.unusable_id`), and no text field holds a lone
    surrogate (ValueError naming the field).
    """

    id: str
    body: str
    title: str = ""
    published: datetime | None = None
    source: str = ""
    url: str = ""
    category: str = ""
    language: str = "ar"
    author: str = ""
    """Who wrote it (ANT's ``<AUTHOR>``, a JSON/CSV ``author``, an HTML page's byline); ``""`` if unknown."""
    origin: str = field(default="", compare=False)
    """Where the document was read from (``path`` or ``path:line``), for messages only."""
    file: str = field(default="", compare=False)
    """The source file it was read from (absolute path; a zip member's zip), or "" when it came
    from elsewhere. A build removes an article only when its own source file is gone (or on an
    explicit prune or delete), so the file, not the id, says where an article lives."""

    def __post_init__(self) -> None:
        for name in _TEXT_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(f"document {self.id!r}: {name} must be text (str), not {type(value).__name__}")
        for name in _STORED_TEXT:
            _check_encodable(self.id, name, getattr(self, name))
        reason = unusable_id(self.id)
        if reason:
            raise ValueError(f"document {reason}")
        if self.published is not None and not isinstance(self.published, datetime):
            raise TypeError(f"document {self.id!r}: published must be a datetime or None, "
                            f"not {type(self.published).__name__}")
        if self.published is not None and self.published.tzinfo is None:
            raise ValueError(f"document {self.id!r}: published must be timezone-aware")
        if self.published is not None:
            try:
                self.published.astimezone(UTC)
            except OverflowError:
                raise ValueError(f"document {self.id!r}: published {self.published.isoformat()} falls outside "
                                 "the years 1-9999 in UTC") from None

    @classmethod
    def stored(cls, **values: Any) -> Document:
        """A document as a store holds it, made without the checks of construction: what a store holds
        passed them when it was written, except ids an earlier version let in (a space around one), and
        an archive stays readable whatever rule was added since (the checks also cost every read)."""
        doc = object.__new__(cls)
        for name, default in _DEFAULTS.items():
            object.__setattr__(doc, name, values[name] if name in values or default is MISSING else default)
        return doc

    def read_from(self, file: str) -> Document:
        """This document with ``file`` set (a reader places what it read), without checking again
        what was checked when it was made: the checks are the cost of every article read."""
        copy = object.__new__(Document)
        for name in _DEFAULTS:
            object.__setattr__(copy, name, getattr(self, name))
        object.__setattr__(copy, "file", str(file))
        return copy

    @property
    def content_hash(self) -> str:
        """SHA-256 (hex) of every content field: equal hashes mean an unchanged article."""
        payload = json.dumps(
            [
                self.id,
                self.title,
                self.body,
                self.published.isoformat() if self.published else None,
                self.source,
                self.url,
                self.category,
                self.language,
                self.author,
            ],
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    @property
    def body_key(self) -> str:
        """SHA-256 (hex) of the body after normalization and whitespace folding.

        Articles with equal keys are copies of one another (the same wire
        story filed twice): the archive indexes one and keeps the others as
        its aliases.
        """
        return hashlib.sha256(" ".join(normalize(self.body).split()).encode("utf-8")).hexdigest()

    @property
    def text(self) -> str:
        """Title and body as one text, the title first when there is one."""
        return f"{self.title}\n{self.body}" if self.title else self.body


_DEFAULTS = {f.name: f.default for f in fields(Document)}


def _check_encodable(doc_id: str, name: str, value: str) -> None:
    """Raise ValueError naming ``name`` when ``value`` holds a lone surrogate (``"\\ud800"``, from a JSON
    escape or text decoded with ``surrogateescape``): no UTF-8 file or store can hold it, and a build
    failed on it halfway with a raw UnicodeEncodeError."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"document {doc_id!r}: {name} holds a lone surrogate ({value[exc.start]!r} at "
                         f"{exc.start}), which is not text and cannot be stored; remove it, or decode the text "
                         "with errors='replace' rather than 'surrogateescape'") from None

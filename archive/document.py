"""The article record every part of the archive exchanges.

A :class:`Document` is immutable; its :attr:`content_hash` covers every field a
reader fills, so an incremental build can tell a changed article from an
unchanged one by comparing hashes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .text.normalize import normalize


_TEXT_FIELDS = ("id", "body", "title", "source", "url", "category", "language", "author", "origin", "file")


@dataclass(frozen=True, slots=True)
class Document:
    """One news article.

    ``published`` is timezone-aware or ``None``; ``language`` is a BCP-47 code
    (``"ar"`` unless a reader knows better).
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

"""Typed errors raised by the archive library.

Every error the library raises on purpose derives from :class:`ArchiveError`, so
callers (the CLI among them) can catch one class and print one clear line.
Each message says what went wrong and, where there is one, how to fix it.
"""

from __future__ import annotations


class ArchiveError(Exception):
    """Base class of every error the archive library raises on purpose."""


class SourceError(ArchiveError):
    """A source path or file cannot be read as articles (names the file and line)."""

    def __init__(self, path: str, reason: str, line: int | None = None) -> None:
        self.path = str(path)
        self.reason = reason
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


class SourceLimitError(SourceError):
    """A file, zip member or article is over a read limit (names it, its size, the limit and the option)."""


class FieldMappingError(ArchiveError, ValueError):
    """A field mapping given to the readers (``--field body=text``) names no article field."""


class IndexNotFoundError(ArchiveError):
    """No archive index exists at the given path."""


class IndexFormatError(ArchiveError):
    """The index on disk was written with other settings or another format version."""


class IndexDamagedError(IndexFormatError):
    """A file of the index is missing, truncated or corrupt (the message names it and the fix)."""


class IndexLockedError(ArchiveError):
    """Another process is writing the index."""


class UsageError(ArchiveError, TypeError):
    """The library was called with arguments of the wrong kind (names the argument and what it takes)."""


class ArchiveClosedError(UsageError):
    """A search or read on an :class:`~archive.Archive` after :meth:`~archive.Archive.close`."""


class NothingToIndexError(ArchiveError):
    """A build read no article: it fails and leaves the archive as it was."""


class IndexReadOnlyError(ArchiveError):
    """The index cannot be written (read-only directory, file or file system); it can still be searched."""


class DiskFullError(ArchiveError):
    """A write ran out of disk space (or quota): it was discarded, and the previous generation
    is kept and usable (the message names it, and what to free)."""


class SettingChangeError(ArchiveError):
    """A build asked for another encoder or passage policy than the archive was built with, without
    ``full`` (re-embedding every passage is never done by surprise; the message names the fix)."""


class QueryError(ArchiveError):
    """A search request is invalid (bad mode, bad date, bad k)."""


class EncoderError(ArchiveError):
    """An encoder cannot be found, loaded or used."""


class DocumentNotFoundError(ArchiveError, KeyError):
    """No document with the requested id is in the archive."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0]) if self.args else "document not found"

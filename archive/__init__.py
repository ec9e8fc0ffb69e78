"""Arabic news archive search: keywords and meaning, on one laptop.

Library entry points::

    from archive import Archive, read_documents
    archive = Archive.build(read_documents("seeds"), "index")
    for hit in archive.search("قوات كورية في كورسك"):
        print(hit.title, hit.score)

Names are loaded on first use (PEP 562), so ``import archive`` and the
command line start without importing Whoosh, FAISS or an encoder.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .version import __version__  # noqa: F401 - the package's public version

_EXPORTS = {
    "Archive": "archive",
    "ArchiveStats": "archive",
    "BuildReport": "archive",
    "Hit": "archive",
    "Hits": "archive",
    "Version": "archive",
    "Story": "archive",
    "CheckReport": "index.check",
    "check_index": "index.check",
    "Document": "document",
    "LiveArchive": "following",
    "ArchiveError": "errors",
    "DiskFullError": "errors",
    "DocumentNotFoundError": "errors",
    "EncoderError": "errors",
    "FieldMappingError": "errors",
    "IndexDamagedError": "errors",
    "IndexFormatError": "errors",
    "IndexLockedError": "errors",
    "IndexNotFoundError": "errors",
    "IndexReadOnlyError": "errors",
    "QueryError": "errors",
    "SettingChangeError": "errors",
    "SourceError": "errors",
    "SourceLimitError": "errors",
    "ReadLimits": "files.limits",
    "read_documents": "files.readers",
    "read_file": "files.readers",
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from .archive import Archive, ArchiveStats, BuildReport, Hit, Hits, Story, Version
    from .index.check import CheckReport, check_index
    from .document import Document
    from .following import LiveArchive
    from .errors import (
        ArchiveError,
        DiskFullError,
        DocumentNotFoundError,
        EncoderError,
        FieldMappingError,
        IndexDamagedError,
        IndexFormatError,
        IndexLockedError,
        IndexNotFoundError,
        IndexReadOnlyError,
        QueryError,
        SettingChangeError,
        SourceError,
        SourceLimitError,
    )
    from .files.limits import ReadLimits
    from .files.readers import read_documents, read_file


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'archive' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

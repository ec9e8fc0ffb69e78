"""Size limits on what the readers take in: a file, a zip member, an article.

One job: keep a hostile or broken input from costing unbounded memory or time,
and say what was left out and how to let it in. Each limit is a field of
:class:`ReadLimits`, given to :func:`~archive.files.readers.read_documents`
(``limits=ReadLimits(max_article_size=5_000_000)``) and on the command line
(``--max-file-size``, ``--max-article-size``):

* ``max_file_size``: bytes a source file, or one zip member once inflated, may
  hold. A zip member is refused by the size it declares, unopened, and is
  otherwise inflated through a stream checked block by block, so an 8 MB zip
  holding a 2 GB member costs nothing (it cost 11 GB, then a ``MemoryError``);
* ``max_zip_ratio``: how many times its compressed size a member may inflate to
  (above ``RATIO_FLOOR`` bytes), the members of one zip together too. News text compresses 3-5 times (SaudiNewsNet's
  members: at most 3.8); a member a hundred times smaller packed than
  inflated is a repetition, the shape of a zip bomb (2,000 copies of one 1 MB
  article made a store of 2.38 GB for one article);
* ``max_article_size``: characters of one article (title, body and the other
  fields together). One 50 MB article slowed every search that matched it to
  seconds; an article over the limit is not read, and is named with its size.

Nothing over a limit is cut short silently: the file, member or article is not
read, and the error names it, its size, the limit and the option that raises it.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass

from ..document import Document
from ..errors import SourceLimitError, UsageError

MiB = 1 << 20
MAX_FILE_SIZE = 256 * MiB
"""Default bytes of a file or an inflated zip member (SaudiNewsNet's largest member: 5.4 MB)."""
MAX_ARTICLE_SIZE = 1_000_000
"""Default characters of one article (SaudiNewsNet's longest: 33,687)."""
MAX_ZIP_RATIO = 100
"""Default inflated/compressed ratio of a zip member (news text: 3-5)."""
RATIO_FLOOR = MiB
"""Members inflating to less than this are never refused for their ratio (a tiny member can compress well)."""
_CHUNK = MiB


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """The limits of one read (see the module docstring)."""

    max_file_size: int = MAX_FILE_SIZE
    max_article_size: int = MAX_ARTICLE_SIZE
    max_zip_ratio: float = MAX_ZIP_RATIO

    def __post_init__(self) -> None:
        for name in ("max_file_size", "max_article_size", "max_zip_ratio"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise UsageError(f"{name} must be a positive number, not {value!r}")


def too_big_file(name: str, size: int, limits: ReadLimits, what: str = "file") -> SourceLimitError:
    """The error for a file or member of ``size`` bytes (or more) over ``max_file_size``."""
    return SourceLimitError(
        name, f"{what} of {_size(size)} is over the {_size(limits.max_file_size)} limit; not read "
        f"(raise it with --max-file-size MB, or ReadLimits(max_file_size=...))",
    )


@dataclass(slots=True)
class ZipBudget:
    """What the members of one zip read so far inflated to, and from how many packed bytes.

    The ratio is checked over the zip's members together, so 2,000 members each
    just under :data:`RATIO_FLOOR` cannot pass one by one.
    """

    inflated: int = 0
    packed: int = 0


def read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, limits: ReadLimits, budget: ZipBudget | None = None,
) -> bytes:
    """The inflated bytes of one zip member, never inflating past the limits (:class:`SourceLimitError` then).

    A member whose declared size is over a limit is refused unopened (Python's
    zipfile never inflates past the declared size: a member that lies about it
    fails its CRC check). The stream is also read in 1 MiB blocks checked
    against the limits, a second guard. ``budget``: the zip's members read
    before this one (see :class:`ZipBudget`); it is updated.
    """
    budget = budget if budget is not None else ZipBudget()
    ceiling = limits.max_file_size
    packed = budget.packed + max(info.compress_size, 1)
    by_ratio = max(RATIO_FLOOR, int(limits.max_zip_ratio * packed)) - budget.inflated
    if info.file_size > ceiling:
        raise too_big_file(name, info.file_size, limits, "zip member (as its header declares)")
    if info.file_size > by_ratio:  # as declared, over the budget: not even opened
        raise _bomb(name, budget.inflated + info.file_size, packed)
    chunks: list[bytes] = []
    total = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                total += len(chunk)
                if total > ceiling:
                    raise too_big_file(name, total, limits, "zip member")
                if total > by_ratio:
                    raise _bomb(name, budget.inflated + total, packed)
                chunks.append(chunk)
    finally:  # a member that inflated past what it declared spends the zip's budget: later ones are refused
        budget.inflated += total
        budget.packed = packed
    return b"".join(chunks)


def _bomb(name: str, inflated: int, packed: int) -> SourceLimitError:
    return SourceLimitError(
        name, f"zip member inflates to more than {inflated / packed:,.0f} times its packed size (with the members "
        "before it; news text packs 3-5 times), the shape of a zip bomb; not read (if it is real, unzip it and "
        "read the files, or raise ReadLimits(max_zip_ratio=...))",
    )


def article_size(doc: Document) -> int:
    """Characters of ``doc``'s text fields together."""
    return sum(len(v) for v in (doc.id, doc.title, doc.body, doc.source, doc.url, doc.category, doc.author))


def oversized(doc: Document, limits: ReadLimits) -> SourceLimitError | None:
    """The error naming ``doc`` when it is over ``max_article_size``, else ``None``."""
    size = article_size(doc)
    if size <= limits.max_article_size:
        return None
    where, _, line = doc.origin.rpartition(":")
    name, number = (where, int(line)) if line.isdigit() and where else (doc.origin or doc.id, None)
    return SourceLimitError(
        name, f"article {doc.id!r} of {size:,} characters is over the {limits.max_article_size:,}-character "
        f"limit; not read (raise it with --max-article-size N, or ReadLimits(max_article_size=...))", line=number,
    )


def _size(count: int) -> str:
    return f"{count / MiB:,.1f} MB" if count >= MiB else f"{count:,} bytes"

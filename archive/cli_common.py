"""What the ``archive`` commands share: their common options and choices, the checks of option values,
and printing (text made safe for a terminal; a library error as one line and exit code 1)."""

from __future__ import annotations

import os
import time
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .errors import ArchiveError
from .search.options import MODES, SORTS

DEFAULT_SOURCES = [Path("seeds")]
INDEX_ENV = "ARCHIVE_INDEX"
IndexOption = Annotated[
    Path,
    typer.Option("--index", "-i", envvar=INDEX_ENV, metavar="DIR",
                 help=f"Index directory (default: ${INDEX_ENV}, else index)."),
]
ENCODER_CHOICES = "e5-small (default), use-multilingual, st:MODEL (a sentence-transformers model), none (lexical only)"


Mode = Enum("Mode", {value: value for value in MODES}, type=str)  # type: ignore[misc]
"""The ``--mode`` choices (:data:`archive.search.options.MODES`)."""
SortOrder = Enum("SortOrder", {v.replace("-", "newest_"): v for v in SORTS}, type=str)  # type: ignore[misc]
"""The ``--sort`` choices (:data:`archive.search.options.SORTS`)."""


class Bidi(str, Enum):
    auto = "auto"
    on = "on"
    off = "off"


class ExportFormat(str, Enum):
    jsonl = "jsonl"
    csv = "csv"


RayOption = Annotated[
    bool,
    typer.Option("--ray", help="Embed the passages on a Ray cluster (needs the ray extra: see docs/scaling.md); "
                 "this machine then builds and commits the index."),
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(metavar="ADDRESS", help="With --ray: the cluster, HOST:PORT or ray://HOST:PORT (default: $RAY_ADDRESS, "
                 "else the one this machine belongs to, else a new local one)."),
]
def _set_engine(ctx: typer.Context, param: typer.CallbackParam, value: str | None) -> str | None:
    """``--engine`` (or ``ARCHIVE_ENGINE``): checked, then set as ``ARCHIVE_ENGINE`` for everything this
    command encodes. A name that is no engine is a usage error either way; whether this machine has
    the engine is checked here for ``--engine`` only: for the environment's, when the engine is first
    needed, so that a command that encodes nothing (a cold search encodes its query on numpy) never
    starts OpenVINO to ask."""
    if value is None:
        return None
    from .encoders.engines.select import ENV, missing, requested

    source = ctx.get_parameter_source(param.name or "")
    from_env = getattr(source, "name", None) == "ENVIRONMENT"  # typer's own copy of click's enum
    try:
        engine = requested(None if from_env else value)
    except ArchiveError as exc:
        raise typer.BadParameter(str(exc)) from None
    if from_env:
        return engine  # already where the encoder reads it; nothing to restore after the command
    reason = None if engine == "auto" else missing(engine)
    if reason:
        raise typer.BadParameter(f"engine {engine} is not available here: {reason}; use --engine auto")
    global _ENGINE_BEFORE  # noqa: PLW0603 - restored when the next command starts (CliRunner runs many)
    if _ENGINE_BEFORE is _UNSET:
        _ENGINE_BEFORE = os.environ.get(ENV)
    os.environ[ENV] = engine
    return engine


_UNSET = object()
_ENGINE_BEFORE: object = _UNSET
"""``ARCHIVE_ENGINE`` as it was before an ``--engine`` set it: one command's choice ends with it."""


def _restore_engine() -> None:
    global _ENGINE_BEFORE  # noqa: PLW0603
    if _ENGINE_BEFORE is not _UNSET:
        from .encoders.engines.select import ENV

        if _ENGINE_BEFORE is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = str(_ENGINE_BEFORE)
        _ENGINE_BEFORE = _UNSET


EngineOption = Annotated[
    Optional[str],
    typer.Option("--engine", metavar="auto|cuda|bf16|int8|numpy", callback=_set_engine, envvar="ARCHIVE_ENGINE",
                 show_envvar=False,
                 help="What runs e5-small: a GPU (cuda), the CPU's bf16 matrix units, its int8 dot products, or "
                      "numpy (float32, everywhere). Default: $ARCHIVE_ENGINE, else auto (the fastest here)."),
]
BidiOption = Annotated[
    Bidi,
    typer.Option(help="Put Arabic lines in display order: auto (only in terminals that do not), on, off."),
]



FieldOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--field", metavar="FIELD=KEY",
        help="Read an article field from another JSON key, CSV column or <DOC> tag, e.g. --field body=text "
        "(repeatable; fields: id, title, body, published, source, url, category, language, author).",
    ),
]


MaxFileOption = Annotated[
    Optional[int], typer.Option(metavar="MB", min=1, help="Largest file or inflated zip member read (default 256).")
]
MaxArticleOption = Annotated[
    Optional[int], typer.Option(metavar="CHARS", min=1, help="Longest article read, in characters (default 1000000).")
]


def _limits(max_file_size: int | None, max_article_size: int | None):  # noqa: ANN202 - ReadLimits, imported late
    """The read limits the options ask for (unset ones keep their defaults)."""
    from .files.limits import MiB, ReadLimits

    given = {"max_file_size": max_file_size and max_file_size * MiB, "max_article_size": max_article_size}
    return ReadLimits(**{k: v for k, v in given.items() if v})


def _field_map(pairs: list[str] | None) -> dict[str, str] | None:
    """``["body=text", ...]`` → ``{"body": "text"}``; a malformed pair or unknown field is a usage error."""
    if not pairs:
        return None
    from .files.readers import field_map

    mapping: dict[str, str] = {}
    for pair in pairs:
        name, sep, key = pair.partition("=")
        if not sep or not name.strip() or not key.strip():
            raise typer.BadParameter(f"{pair!r}: write FIELD=KEY, e.g. --field body=text", param_hint="--field")
        mapping[name.strip()] = key.strip()
    try:
        field_map(mapping)
    except ArchiveError as exc:
        raise typer.BadParameter(str(exc), param_hint="--field") from None
    return mapping


def _echo(message: object = "", **options: object) -> None:
    """``typer.echo`` of text made safe for a terminal (ids, titles and paths from article files
    can hold escape sequences: see :func:`archive.terminal.printable`)."""
    from .terminal import printable

    typer.echo(printable(str(message)), **options)  # type: ignore[arg-type]


def _fail(exc: ArchiveError) -> typer.Exit:
    _echo(f"error: {exc}", err=True)
    return typer.Exit(code=1)


def _date(value: datetime | None) -> str:
    return value.date().isoformat() if value else "-"  # isoformat pads the year (strftime printed 1-01-01)



SourceOption = Annotated[
    Optional[list[str]], typer.Option("--source", metavar="NAME", help="Only this source (repeat for any of several).")
]
CategoryOption = Annotated[
    Optional[list[str]],
    typer.Option("--category", metavar="NAME", help="Only this category (repeat for any of several)."),
]
AuthorOption = Annotated[
    Optional[list[str]], typer.Option(metavar="NAME", help="Only articles by this author (repeatable: any of them).")
]
ModeOption = Annotated[Mode, typer.Option(help="hybrid: words and meaning; lexical: words; semantic: meaning.")]
SortOption = Annotated[
    SortOrder, typer.Option(help="relevance (best first), date (oldest first) or -date (newest first).")
]


def date_bound_option(param: typer.CallbackParam, value: str | None) -> str | None:
    """A ``--since``/``--until`` value the library will take; any other is a usage error naming the option."""
    if value is not None:
        from .search.arguments import date_bound

        try:
            date_bound(value, end=param.name == "until")
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return value


SinceOption = Annotated[
    Optional[str],
    typer.Option(metavar="DATE", callback=date_bound_option,
                 help="Published on or after: YYYY-MM-DD, YYYY-MM or YYYY (from its first day)."),
]
UntilOption = Annotated[
    Optional[str],
    typer.Option(metavar="DATE", callback=date_bound_option,
                 help="Published on or before: YYYY-MM-DD, YYYY-MM or YYYY (through its last day)."),
]



_STARTED = time.perf_counter()
"""When the command started (set again as each command is dispatched): a write's summary gives its wall time."""


def mark_started() -> None:
    """Note that a command starts now (one command per process, and per CliRunner call)."""
    global _STARTED  # noqa: PLW0603
    _STARTED = time.perf_counter()


def started() -> float:
    """When the command being run started (:func:`mark_started`)."""
    return _STARTED

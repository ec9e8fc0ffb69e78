"""The ``archive`` command line: a thin layer over the library.

Each command calls the library and prints; every :class:`ArchiveError` becomes
one line on stderr (``error: …``) and exit code 1; a bad option is typer's
usage error (exit code 2). Nothing heavy is imported before a command needs it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import sys
import time
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from .version import __version__
from .cli_help import PlainGroup
from .cli_report import counts_line, estimate_line, plural, tombstoned_line
from .cli_story import date_bound_option as _date_bound
from .errors import ArchiveError, NothingToIndexError, SourceError
from .search.fusion import FusionMethod
from .search.options import MODES, SORTS

if TYPE_CHECKING:
    from .document import Document


app = typer.Typer(
    name="archive",
    cls=PlainGroup,
    help="Search an archive of Arabic news by keywords and by meaning.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)

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
def _set_engine(value: str | None) -> str | None:
    """``--engine``: checked, then set as ``ARCHIVE_ENGINE`` for everything this command encodes."""
    if value is None:
        return None
    from .encoders.engines.select import ENV, missing, requested

    try:
        engine = requested(value)
    except ArchiveError as exc:
        raise typer.BadParameter(str(exc)) from None
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
    typer.Option("--engine", metavar="auto|cuda|bf16|int8|numpy", callback=_set_engine,
                 help="What runs e5-small: a GPU (cuda), the CPU's bf16 matrix units, its int8 dot products, or "
                      "numpy (float32, everywhere). Default: $ARCHIVE_ENGINE, else auto (the fastest here)."),
]
BidiOption = Annotated[
    Bidi,
    typer.Option(help="Put Arabic lines in display order: auto (only in terminals that do not), on, off."),
]


def _version(value: bool) -> None:
    if value:
        _echo(f"archive (news-archive) {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = None,
) -> None:
    """Search an archive of Arabic news by keywords and by meaning."""
    global _STARTED  # noqa: PLW0603 - one command per process (and per CliRunner call)
    _STARTED = time.perf_counter()
    _restore_engine()


_STARTED = time.perf_counter()
"""When the command started (set again as each command is dispatched): a write's summary gives its wall time."""


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
    return value.strftime("%Y-%m-%d") if value else "-"


def _live_generation(index: Path) -> str | None:
    """The committed generation of ``index``, to tell after an interruption whether it changed."""
    from .index.layout import POINTER

    try:
        return (index / POINTER).read_bytes().strip().decode("utf-8", "replace")
    except OSError:
        return None


def _interrupted(index: Path, before: str | None) -> typer.Exit:
    """Say what a Ctrl-C kept (each commit is atomic: the words first, then passage vectors) and exit 130."""
    if _live_generation(index) == before:
        _echo("interrupted: the archive is unchanged", err=True)
    else:
        _echo("interrupted after the change was committed: the archive holds the new state", err=True)
    pending = _pending(index)
    if pending:
        _echo(f"{pending:,} passages are not embedded yet (the ones embedded are kept in the cache); "
              "archive embed finishes", err=True)
    return typer.Exit(code=130)


def _pending(index: Path) -> int:
    """Passages of the live generation still waiting for vectors (0 when that cannot be read)."""
    from .index import layout
    from .index.manifest import Manifest

    try:
        return Manifest.read(layout.current_generation(index), check=False).pending
    except (ArchiveError, OSError):
        return 0


@app.command()
def build(
    sources: Annotated[
        Optional[list[Path]],
        typer.Argument(metavar="[SOURCE]...",
                       help="Files or directories of articles (default: the ones this archive remembers, else seeds/)."),
    ] = None,
    index: IndexOption = Path("index"),
    encoder: Annotated[
        Optional[str],
        typer.Option(metavar="NAME", help=f"Encoder: {ENCODER_CHOICES}. Default: the archive's own (e5-small for a "
                     "new one); another one than the archive's needs --full (it re-embeds everything)."),
    ] = None,
    skip_errors: Annotated[
        bool, typer.Option("--skip-errors/--strict", help="Skip unreadable files and records (listed) or stop at the first.")
    ] = True,
    procs: Annotated[int, typer.Option(help="Indexing processes.", min=1)] = 2,
    full: Annotated[
        bool, typer.Option("--full", help="Rewrite the index even if nothing changed (with --encoder: change the encoder).")
    ] = False,
    prune: Annotated[
        bool, typer.Option("--prune", help="Also remove every article these sources do not hold.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be added, updated, kept and deleted, and how many "
                           "passages would be embedded with which encoder, and for how long; write nothing.")
    ] = False,
    field: FieldOption = None,
    max_file_size: MaxFileOption = None,
    max_article_size: MaxArticleOption = None,
    passages: Annotated[
        Optional[str],
        typer.Option(metavar="lead|N|all",
                     help="Passages of each article to embed: lead (the first), N (the first N) or all "
                          "(default: the archive's choice, else all)."),
    ] = None,
    ray: RayOption = False,
    ray_address: RayAddressOption = None,
    engine: EngineOption = None,
) -> None:
    """Build or update the archive from article files (.txt, .jsonl, .json, .csv, .tsv, .html, .zip, ANT <DOC> files).

    New and changed articles are written; an article is removed only when its
    own source file is gone, or with --prune. Re-running it on the same
    sources only reports what changed; unchanged passages are never embedded
    again. The sources are remembered: `archive build` alone re-reads them,
    with the archive's own encoder. Articles removed with `archive delete` stay
    removed (`archive restore ID` brings one back).
    With many passages to embed, the words are committed first (search works
    at once) and the passages are embedded lead first, committed as they go;
    an interrupted build keeps them, and `archive embed` finishes.
    """
    _build(sources, index, encoder, skip_errors=skip_errors, procs=procs, full=full, prune=prune,
           dry_run=dry_run, field=field, passages=passages, ray=ray, ray_address=ray_address,
           limits=_limits(max_file_size, max_article_size))


def _build(
    sources: list[Path] | None, index: Path, encoder: str | None, *, skip_errors: bool = True, procs: int = 2,
    full: bool = False, prune: bool = False, dry_run: bool = False, field: list[str] | None = None,
    passages: str | None = None, ray: bool = False, ray_address: str | None = None, limits=None,  # noqa: ANN001
) -> None:
    """What `archive build` does: read the sources, embed on Ray first if asked, build."""
    from .archive import Archive, BuildReport
    from .files.readers import read_documents
    from .terminal import progress_bar

    from .encoders.registry import KEEP_ENCODER

    started = _STARTED
    fields = _field_map(field)
    encoder = encoder if encoder is not None else KEEP_ENCODER
    report = BuildReport()
    problems: list[str] = []
    before = _live_generation(index)
    try:
        if ray:  # before reading anything: the user asked for Ray
            from .writing.choices import chosen_encoder, previous_choices
            from .writing.ray_embed import check_address, require_ray

            spec = chosen_encoder(encoder, previous_choices(index), full=full, root=index)
            if spec is None or (isinstance(spec, str) and spec.strip().lower() == "none"):
                raise typer.BadParameter("a lexical-only archive (--encoder none) has nothing to embed",
                                         param_hint="--ray")
            require_ray()
            check_address(ray_address)
        paths = _build_sources(sources, index, report)
        on_error = (lambda err: problems.append(str(err))) if skip_errors else None
        documents = read_documents(paths, on_error=on_error, on_warning=report.warnings.append, fields=fields,
                                   limits=limits)
        if dry_run:
            planned = Archive.plan(documents, index, sources=paths, prune=prune, encoder=encoder, full=full,
                                   passages=passages)
            _echo(f"dry run, nothing written: {counts_line(planned, len(problems))}")
            _echo(estimate_line(planned.estimate))
            _deletions(planned)
            if planned.tombstoned:
                _echo(tombstoned_line(planned))
            _problems(report, problems)
            return
        if ray:
            documents = list(documents)
            _embed_first(documents, index, str(spec), ray_address, passages)
        with progress_bar() as progress:
            archive = Archive.build(
                documents, index, encoder=encoder, full=full, report=report, procs=procs, progress=progress,
                sources=paths, prune=prune, before_commit=_deletions, passages=passages,
            )
    except ArchiveError as exc:
        _problems(report, problems, err=True)
        raise _fail(exc) from None
    except KeyboardInterrupt:
        raise _interrupted(index, before) from None
    _summary(report, archive, index, problems, started)
    archive.close()


def _embed_first(documents: list[Document], index: Path, encoder: str, address: str | None,
                 passages: str | None) -> None:
    """Embed on Ray the passages a build of ``documents`` needs and the cache lacks (the build then finds them)."""
    from .index.dense import passage_policy
    from .writing.ray_embed import embed_build
    from .terminal import progress_bar

    with progress_bar() as progress:
        stats = embed_build(documents, index, encoder, progress=progress, address=address,
                            max_passages=passage_policy(passages))
    _ray_done(stats)


def _ray_done(stats) -> None:  # noqa: ANN001 - archive.writing.ray_embed.EmbedJobStats
    """Say what a Ray embedding job did."""
    if stats.embedded:
        retried = f", {stats.retried} batch(es) retried after a worker died" if stats.retried else ""
        _echo(f"embedded {plural(stats.embedded, 'passage')} on Ray in {stats.seconds:.1f} s "
              f"({plural(stats.workers, 'worker')}{retried}); {stats.cached} already in the cache")
    else:
        _echo(f"nothing to embed on Ray ({plural(stats.cached, 'passage')} already in the cache)")


def _build_sources(sources: list[Path] | None, index: Path, report) -> list[Path]:  # noqa: ANN001
    """The paths a build reads: those given, else the ones the archive remembers, else seeds/."""
    from .archive import Archive

    if sources:
        return sources
    remembered = [Path(p) for p in Archive.sources_of(index)]
    if not remembered:
        return DEFAULT_SOURCES
    present = [p for p in remembered if os.path.lexists(p)]
    for path in remembered:
        if path not in present:
            report.warnings.append(f"{path}: a source of this archive is gone; its articles are kept "
                                   "(archive build SOURCES --prune removes them)")
    if not present:
        raise SourceError(", ".join(map(str, remembered)), "none of the sources this archive remembers exists; "
                          "nothing was changed. Fix: archive build SOURCES")
    return present


def _deletions(report) -> None:  # noqa: ANN001
    """Say what a write removes, by source file, before it commits."""
    if not report.deleted:
        return
    _echo(f"removing {plural(report.deleted, 'article')}:")
    groups = sorted(report.deletions.items(), key=lambda item: -item[1])
    for where, count in groups[:10]:
        _echo(f"  {count} from {where}")
    if len(groups) > 10:
        _echo(f"  {sum(c for _, c in groups[10:])} from {len(groups) - 10} more files")


@app.command()
def add(
    sources: Annotated[
        list[Path], typer.Argument(metavar="SOURCE...", help="Files or directories of new or changed articles.")
    ],
    index: IndexOption = Path("index"),
    skip_errors: Annotated[
        bool, typer.Option("--skip-errors/--strict", help="Skip unreadable files and records (listed) or stop at the first.")
    ] = True,
    procs: Annotated[int, typer.Option(help="Indexing processes.", min=1)] = 2,
    field: FieldOption = None,
    max_file_size: MaxFileOption = None,
    max_article_size: MaxArticleOption = None,
    engine: EngineOption = None,
) -> None:
    """Add new articles and replace changed ones (matched by id), as one atomic change.

    The paths join the sources the archive remembers, so `archive build` re-reads them too.
    An article removed with `archive delete` and added here again is restored (an explicit add).
    """
    from .archive import Archive, BuildReport
    from .files.readers import read_documents
    from .terminal import progress_bar

    started = _STARTED
    fields = _field_map(field)
    report = BuildReport()
    problems: list[str] = []
    before = _live_generation(index)
    try:
        on_error = (lambda err: problems.append(str(err))) if skip_errors else None
        documents = list(read_documents(sources, on_error=on_error, on_warning=report.warnings.append, fields=fields,
                                        limits=_limits(max_file_size, max_article_size)))
        if not documents:
            raise NothingToIndexError(f"read no article from {', '.join(map(str, sources))}; {index} was left as it was")
        with progress_bar() as progress:
            archive = Archive.update(index, add=documents, report=report, procs=procs, progress=progress,
                                     sources=sources)
    except ArchiveError as exc:
        _problems(report, problems, err=True)
        raise _fail(exc) from None
    except KeyboardInterrupt:
        raise _interrupted(index, before) from None
    _summary(report, archive, index, problems, started)
    archive.close()


@app.command()
def embed(
    index: IndexOption = Path("index"),
    ray: RayOption = False,
    ray_address: RayAddressOption = None,
    engine: EngineOption = None,
) -> None:
    """Embed the passages that have no vector yet (lead passages first), committing as it goes.

    Finishes a build that was interrupted while embedding; passages already
    embedded come from the embedding cache, never embedded twice. With --ray
    they are embedded on a Ray cluster first, and this machine commits them.
    """
    from .archive import Archive, BuildReport
    from .terminal import progress_bar

    report = BuildReport()
    before = _live_generation(index)
    try:
        if ray:
            from .writing.building import CACHE_NAME
            from .writing.embedding import pending_texts
            from .writing.ray_embed import check_address, embed_texts, require_ray

            require_ray()
            check_address(ray_address)
            texts, spec = pending_texts(index)
            if spec is not None and texts:
                with progress_bar() as progress:
                    _ray_done(embed_texts(texts, spec, index / CACHE_NAME, address=ray_address,
                                          progress=progress))
        with progress_bar() as progress:
            archive = Archive.embed(index, report=report, progress=progress)
    except ArchiveError as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        raise _interrupted(index, before) from None
    if not archive.manifest.encoder:
        _echo(f"{index} is lexical only: nothing to embed (archive build --full --encoder e5-small adds vectors)")
    elif report.checkpoints:
        _echo(f"embedded {report.embedded} passages ({report.reused} from the cache) in {report.checkpoints} "
              f"commit{'s' if report.checkpoints > 1 else ''}")
    if archive.manifest.encoder:
        _echo(_coverage(archive.manifest))
    archive.close()


def _coverage(manifest) -> str:  # noqa: ANN001 - archive.index.manifest.Manifest
    """How much of the archive is searchable by meaning, in one line."""
    planned, leads = manifest.planned_passages, manifest.embedded_leads
    if manifest.pending == 0:
        return f"meaning: all {planned:,} passages embedded ({manifest.leads:,} article leads)"
    lead_part = f"all {manifest.leads:,} leads" if leads == manifest.leads else f"{leads:,} of {manifest.leads:,} leads"
    return (f"meaning: {lead_part} and {manifest.passages:,} of {planned:,} passages embedded; "
            "archive embed adds the rest")


@app.command()
def delete(
    ids: Annotated[list[str], typer.Argument(metavar="ID...", help="Ids of the articles to remove.")],
    index: IndexOption = Path("index"),
) -> None:
    """Remove articles by id from both the keyword and the meaning index."""
    from .archive import Archive, BuildReport
    from .terminal import progress_bar

    started = _STARTED
    report = BuildReport()
    before = _live_generation(index)
    try:
        with progress_bar() as progress:
            archive = Archive.update(index, delete=ids, report=report, progress=progress)
    except ArchiveError as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        raise _interrupted(index, before) from None
    _summary(report, archive, index, [], started)
    _echo(f"a build from the same sources will not bring {'it' if len(ids) == 1 else 'them'} back; "
          f"archive restore {' '.join(ids[:3])}{' ...' if len(ids) > 3 else ''} undoes the delete")
    archive.close()


@app.command()
def restore(
    ids: Annotated[list[str], typer.Argument(metavar="ID...", help="Ids of articles removed with archive delete.")],
    index: IndexOption = Path("index"),
) -> None:
    """Bring back articles removed with `archive delete`, read again from the archive's sources.

    A delete is remembered, so `archive build` does not bring a deleted
    article back; this does (and so does `archive add` of its file).
    """
    from .archive import Archive, BuildReport
    from .terminal import progress_bar

    started = _STARTED
    report = BuildReport()
    before = _live_generation(index)
    try:
        with progress_bar() as progress:
            archive = Archive.restore(index, ids, report=report, progress=progress)
    except ArchiveError as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        raise _interrupted(index, before) from None
    _summary(report, archive, index, [], started)
    archive.close()


def _summary(report, archive, index: Path, problems: list[str], started: float) -> None:  # noqa: ANN001
    """What a write did: its counts, what the archive holds now, and the command's wall time."""
    took = time.perf_counter() - started
    counts = counts_line(report, len(problems))
    if not report.written:
        _echo(f"{index} is up to date: nothing to write ({counts}) in {took:.1f} s")
    elif not report.read and report.deleted:  # archive delete
        _echo(f"{index}: {plural(report.deleted, 'article')} deleted in {took:.1f} s")
    elif report.read or report.deleted:
        _echo(f"{index}: {counts} in {took:.1f} s")
    else:  # only passage vectors were added (a build that resumed embedding)
        _echo(f"{index}: no article changed ({counts}); passage vectors were added in {took:.1f} s")
    copies = archive.manifest.aliases
    _echo(f"the archive holds {plural(len(archive), 'article')}"
          + (f" and {plural(copies, 'folded duplicate')} (identical text)" if copies else ""))
    if report.written and report.copies:
        _echo(f"near copies: {plural(report.copies, 'article')} tell {report.stories} {'story' if report.stories == 1 else 'stories'}; searches show "
              f"one per story (--no-fold: every copy); found in {report.folding_seconds:.1f} s")
    if report.written and report.variant_classes:
        _echo(f"spelling variants: {report.variant_classes} {'class' if report.variant_classes == 1 else 'classes'} learned in "
              f"{report.variants_seconds:.1f} s (a word also finds its other spellings; --exact: as written)")
    if report.written and archive.manifest.encoder:
        _echo(f"passages: {report.passages} ({report.embedded} embedded, {report.reused} reused from the cache) "
              f"with {archive.manifest.encoder}")
    if report.renumbered:
        _echo(f"compacted: renumbered the index without the {plural(report.renumbered, 'deleted article')} "
              "it still held")
    if report.compacted:
        _echo(f"rebuilt the passage graph without the {report.compacted} passages of removed articles")
    if archive.manifest.encoder and (report.checkpoints or not archive.manifest.embedding_done):
        _echo(_coverage(archive.manifest))
    if report.kept:
        _echo(f"kept {plural(report.kept, 'article')} that these sources do not hold "
              "(from other sources, or their files are still there); --prune removes them")
    if report.tombstoned:
        _echo(tombstoned_line(report))
    if report.restored:
        _echo(f"restored {plural(report.restored, 'article')} deleted earlier")
    _problems(report, problems)


def _problems(report, problems: list[str], *, err: bool = False) -> None:  # noqa: ANN001
    """Print the warnings and every input skipped, with its reason."""
    for message in report.warnings:
        _echo(f"warning: {message}", err=err)
    skipped = problems + report.skipped
    if skipped:
        _echo(f"skipped {len(skipped)}:", err=err)
        duplicates = 0
        for message in skipped:
            if ": duplicate id " in message:  # one line per repeated id could be millions (a zip of copies)
                duplicates += 1
                if duplicates > SHOWN_DUPLICATES:
                    continue
            _echo(f"  {message}", err=err)
        if duplicates > SHOWN_DUPLICATES:
            _echo(f"  ... and {duplicates - SHOWN_DUPLICATES:,} more duplicate ids (the first article of each id "
                  "was kept)", err=err)


SHOWN_DUPLICATES = 5
"""Duplicate-id reports named one by one; the rest are counted."""


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


SinceOption = Annotated[
    Optional[str],
    typer.Option(metavar="DATE", callback=_date_bound,
                 help="Published on or after: YYYY-MM-DD, YYYY-MM or YYYY (from its first day)."),
]
UntilOption = Annotated[
    Optional[str],
    typer.Option(metavar="DATE", callback=_date_bound,
                 help="Published on or before: YYYY-MM-DD, YYYY-MM or YYYY (through its last day)."),
]


@app.command()
def search(
    query: Annotated[
        str, typer.Argument(metavar="QUERY", help="Words, \"phrases\", AND/OR/NOT, +must, -exclude, field:value.")
    ],
    k: Annotated[int, typer.Option("-k", "--limit", help="Hits per page (at most 1000; see --page).", min=1, max=1000)] = 10,
    page: Annotated[int, typer.Option(help="Which page of hits (1 = the best).", min=1)] = 1,
    mode: ModeOption = Mode.hybrid,
    source: SourceOption = None,
    category: CategoryOption = None,
    author: AuthorOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    sort: SortOption = SortOrder.relevance,
    facets: Annotated[
        bool, typer.Option("--facets", help="Also count every match by source, category and month.")
    ] = False,
    fusion: Annotated[Optional[FusionMethod], typer.Option(help="Hybrid fusion (default: tuned).")] = None,
    alpha: Annotated[
        Optional[float],
        typer.Option(help="Weight of the lexical side (word and 3-gram BM25) in convex fusion, 0..1 (default: tuned).",
                     min=0.0, max=1.0),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per hit, then a summary object.")] = False,
    with_body: Annotated[bool, typer.Option("--with-body", help="With --json: each hit's whole article text.")] = False,
    no_fold: Annotated[
        bool, typer.Option("--no-fold", help="Show every copy of a story (by default one hit per story, "
                                             "its other versions named under it; the total counts stories).")
    ] = False,
    exact: Annotated[
        bool, typer.Option("--exact", "--no-variants", help="Search every word as written (by default a word "
                                                           "also finds its spelling variants: ترمب finds ترامب).")
    ] = False,
    bidi: BidiOption = Bidi.auto,
    index: IndexOption = Path("index"),
    engine: EngineOption = None,
) -> None:
    """Search the archive and print the best hits (ids for archive show)."""
    from .archive import Archive

    tuning = {name: value for name, value in (("fusion", fusion and fusion.value), ("alpha", alpha)) if value is not None}
    offset = (page - 1) * k
    try:
        with Archive.open(index) as archive:
            started = time.perf_counter()
            filters = {"source": source, "category": category, "author": author, "since": since, "until": until}
            hits = archive.search(
                query, k=k, mode=mode.value, offset=offset, sort=sort.value, **filters, **tuning,  # type: ignore[arg-type]
        fold=not no_fold, facets=facets, variants=not exact,
            )
            counts = hits.facets
            took_ms = (time.perf_counter() - started) * 1000
            bodies = {hit.id: archive.get(hit.id).body for hit in hits} if as_json and with_body else {}
    except ArchiveError as exc:
        raise _fail(exc) from None
    from .cli_results import print_json, print_table
    from .search.records import facets_record

    if as_json:
        summary: dict[str, object] = {"query": query, **hits.summary(), "took_ms": round(took_ms, 1)}
        if counts is not None:
            summary["facets"] = facets_record(counts)
        if page > 1:
            summary["page"] = page
        print_json(hits, summary, first_rank=offset + 1, bodies=bodies)
        return
    if hits.notice:
        _echo(f"note: {hits.notice}", err=True)
    if counts is not None:
        _print_facets(counts)
    if hits.variants_line():
        _echo(hits.variants_line())
    if not hits:
        _echo(f"no results: {hits.reason}")
        return
    print_table(hits, index, what=f"search {query!r}", title=hits.headline(), caption=hits.page_line(offset),
                bidi=bidi.value, first_rank=offset + 1)


@app.command()
def related(
    doc_id: Annotated[str, typer.Argument(metavar="ID", help="An article's id, or its number in the last results.")],
    k: Annotated[int, typer.Option("-k", "--limit", help="How many related articles (at most 1000).", min=1, max=1000)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per article, then a summary object.")] = False,
    bidi: BidiOption = Bidi.auto,
    index: IndexOption = Path("index"),
) -> None:
    """Print the articles nearest to one article: by meaning, or by its words on a lexical-only archive."""
    from .archive import Archive
    from .cli_results import print_json, print_table
    from .last_results import resolve

    try:
        with Archive.open(index) as archive:
            doc_id = resolve(doc_id, index, archive.__contains__)
            hits = archive.related(doc_id, k=k)
    except ArchiveError as exc:
        raise _fail(exc) from None
    if as_json:
        print_json(hits, {"related_to": doc_id, **hits.summary()})
        return
    if hits.notice:
        _echo(f"note: {hits.notice}", err=True)
    if not hits:
        _echo(f"no related articles: {hits.reason}")
        return
    how = "by meaning" if hits.mode == "semantic" else "by their words (the archive has no vectors)"
    print_table(hits, index, what=f"related {doc_id!r}", title=f"articles nearest to {doc_id} {how}",
                caption=hits.page_line(), bidi=bidi.value)


def _print_facets(counts) -> None:  # noqa: ANN001 - archive.index.columns.Facets
    """Facet counts as a few plain lines (largest first; months in order)."""
    _echo(f"{counts.total} matching articles")
    for title, values in (("sources", counts.sources), ("categories", counts.categories)):
        if values:
            shown = ", ".join(f"{name} {n}" for name, n in list(values.items())[:10])
            more = f", +{len(values) - 10} more" if len(values) > 10 else ""
            _echo(f"{title}: {shown}{more}")
    if counts.months:
        _echo("months: " + ", ".join(f"{month} {n}" for month, n in counts.months.items()))


def _console():  # noqa: ANN202 - rich's Console, imported when output is printed
    from rich.console import Console

    return Console(soft_wrap=False, highlight=False)


@app.command()
def show(
    doc_id: Annotated[
        str, typer.Argument(metavar="ID", help="Document id, as printed by search; or a result's number (N) in the "
                            "last results printed (an article whose id is that number comes first).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the document as JSON.")] = False,
    bidi: BidiOption = Bidi.auto,
    index: IndexOption = Path("index"),
) -> None:
    """Print one article (archive show 3: the 3rd result of the last search of this archive)."""
    from .archive import Archive
    from .last_results import resolve

    try:
        with Archive.open(index) as archive:
            doc_id = resolve(doc_id, index, archive.__contains__)
            doc = archive.get(doc_id)
            duplicate_of = archive.duplicate_of(doc_id)
            duplicates = archive.duplicates_of(doc_id)
            versions = archive.versions_of(doc_id)
    except ArchiveError as exc:
        raise _fail(exc) from None
    if as_json:
        record = {
            "id": doc.id, "title": doc.title, "published": doc.published.isoformat() if doc.published else None,
            "source": doc.source, "author": doc.author, "category": doc.category, "url": doc.url,
            "language": doc.language,
            "body": doc.body, "duplicate_of": duplicate_of, "duplicates": duplicates,
            "versions": [{"id": v.id, "source": v.source, "published": v.published.isoformat() if v.published
                          else None, "title": v.title} for v in versions],
        }
        typer.echo(json.dumps(record, ensure_ascii=False))
        return
    _echo(f"id:        {doc.id}")
    for label, value in (("title", doc.title), ("published", _date(doc.published)), ("source", doc.source),
                         ("author", doc.author), ("category", doc.category), ("url", doc.url)):
        if value and value != "-":
            _echo(f"{label + ':':<11}{value}")
    if duplicate_of:
        _echo(f"duplicate of: {duplicate_of} (same text; searches return that one)")
    if duplicates:
        _echo(f"duplicates: {', '.join(duplicates)}")
    if versions:
        _echo("other versions: " + ", ".join(f"{v.id} ({v.source or '?'}, {_date(v.published)})" for v in versions))
    _echo("")
    console = _console()
    if not console.is_terminal:  # piped: the text as stored
        _echo(doc.body)
        return
    from .terminal import article_lines, wants_reordering

    reorder = wants_reordering(bidi.value, is_terminal=True, env=os.environ)
    for paragraph in doc.body.split("\n"):
        text = article_lines(paragraph, console, reorder=reorder)
        console.print(text, justify=text.justify)


@app.command()
def export(
    query: Annotated[
        Optional[str],
        typer.Argument(metavar="[QUERY]", help="Only what archive search finds for this query, in its order "
                       "(default: every article the filters allow, in the order they were added)."),
    ] = None,
    format: Annotated[ExportFormat, typer.Option("--format", "-f", help="JSON Lines or CSV (with a header row).")] = ExportFormat.jsonl,  # noqa: A002
    output: Annotated[Optional[Path], typer.Option("--output", "-o", metavar="FILE", help="Write here (default: standard output).")] = None,
    limit: Annotated[Optional[int], typer.Option("-k", "--limit", metavar="N", min=1, help="At most N articles (default: all).")] = None,
    mode: ModeOption = Mode.hybrid,
    sort: SortOption = SortOrder.relevance,
    source: SourceOption = None,
    category: CategoryOption = None,
    author: AuthorOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    bom: Annotated[
        bool, typer.Option("--bom", help="With --format csv: start with a UTF-8 byte order mark, so that "
                           "spreadsheet programs (Excel) read the Arabic as UTF-8.")
    ] = False,
    index: IndexOption = Path("index"),
) -> None:
    """Write whole articles (body included) as JSON Lines or CSV: the whole archive, or a query's matches.

    With a query: every article archive search finds for it (all of them, not one page), up to --limit.
    """
    from .archive import Archive

    if bom and format is not ExportFormat.csv:
        raise typer.BadParameter("a byte order mark is for CSV (spreadsheets); add --format csv", param_hint="--bom")
    options = {"format": format.value, "limit": limit, "mode": mode.value, "sort": sort.value, "source": source,
               "category": category, "author": author, "since": since, "until": until, "bom": bom}
    try:
        with Archive.open(index) as archive:
            if output is None:
                count = archive.export(sys.stdout, query, **options)  # type: ignore[arg-type]
            else:
                with open(output, "w", encoding="utf-8", newline="") as out:
                    count = archive.export(out, query, **options)  # type: ignore[arg-type]
    except ArchiveError as exc:
        raise _fail(exc) from None
    except BrokenPipeError:  # `archive export | head`: the reader has what it wanted; end quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own flush at exit must not fail again
        raise typer.Exit(code=0) from None
    except OSError as exc:
        _echo(f"error: {output or 'standard output'}: cannot write ({exc.strerror})", err=True)
        raise typer.Exit(code=1) from None
    _echo(f"exported {count} article{'' if count == 1 else 's'}" + (f" to {output}" if output else ""), err=True)


@app.command()
def stats(
    index: IndexOption = Path("index"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as one JSON object.")] = False,
) -> None:
    """Print what the archive holds: counts, meaning coverage, sources, categories, dates, size."""
    from .archive import Archive

    try:
        with Archive.open(index) as archive:
            info = archive.stats()
            manifest = archive.manifest
    except ArchiveError as exc:
        raise _fail(exc) from None
    if as_json:
        record = dataclasses.asdict(info)
        record["path"] = str(info.path)
        for name in ("first_published", "last_published"):
            record[name] = record[name].isoformat() if record[name] else None
        typer.echo(json.dumps(record, ensure_ascii=False))
        return
    _echo(f"index:      {info.path}")
    _echo(f"documents:  {info.documents}")
    _echo(f"duplicates: {info.folded_duplicates} folded (identical text)")
    _echo(f"passages:   {info.passages}" + (f" (+{info.pending} not embedded yet)" if info.pending else ""))
    _echo(f"encoder:    {info.encoder or 'none (lexical only)'}")
    if info.encoder:
        _echo(_coverage(manifest))
        made = f" (vectors made with {', '.join(info.engines)})" if info.engines else ""
        here = info.engine if (info.engine or "").startswith("unavailable") else f"{info.engine} here"
        _echo(f"engine:     {here}{made}")
    _echo(f"dates:      {_date(info.first_published)} .. {_date(info.last_published)}")
    _echo(f"size:       {info.size_bytes / 1e6:.1f} MB")
    _echo(f"built:      {info.built_at}   updated: {info.updated_at}")
    for title, counts in (("sources", info.sources), ("categories", info.categories)):
        if counts:
            _echo(f"{title}:")
            for name, count in counts.items():
                _echo(f"  {name}: {count}")


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@app.command()
def serve(
    index: IndexOption = Path("index"),
    host: Annotated[str, typer.Option(help="Address to listen on; any other than 127.0.0.1 (this machine only) opens the archive to the network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    time_limit: Annotated[float, typer.Option(help="Seconds a request may take; then it is answered 504 (503 if it could not start).", min=0.5, max=3600)] = 10.0,
    engine: EngineOption = None,
) -> None:
    """Serve a search page and a JSON API over the archive (read-only), at http://HOST:PORT/.

    Changes committed while it serves (archive add, build) are answered within a second.
    """
    from .archive import Archive

    try:
        archive = Archive.open(index)
        if archive.manifest.encoder:  # load the query encoder now, not on the first visitor's search
            archive.search("warm up", k=1, mode="hybrid")
    except ArchiveError as exc:
        raise _fail(exc) from None
    try:
        sock = _listen(host, port)
    except OSError as exc:
        archive.close()
        _echo(f"error: cannot listen on {host} port {port}: {exc.strerror or exc}. "
              "Fix: --port with a free port, or --host with an address of this machine", err=True)
        raise typer.Exit(code=1) from None
    from .web.server import serve as serve_app

    if host not in LOOPBACK_HOSTS:
        _echo(f"warning: listening on {host}: anyone who can reach this machine on port {port} can read the "
              "whole archive (there is no login). Use --host 127.0.0.1 to keep it to this machine", err=True)
    shown = f"[{host}]" if ":" in host else host
    _echo(f"serving {index} ({len(archive)} articles) at http://{shown}:{port}/ (Ctrl-C stops)", err=True)
    from .following import LiveArchive

    live = LiveArchive(archive)  # a build or add committed while serving is answered within a second
    try:
        serve_app(live, sock, loopback=host in LOOPBACK_HOSTS, time_limit=time_limit)
    finally:
        sock.close()
        live.close()


def _listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` (bound here, so that a port in use is one clear error)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # The protocol named: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets whose
    # proto is IPPROTO_TCP, and with it on every response waited ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


@app.command()
def check(index: IndexOption = Path("index")) -> None:
    """Verify every file (size and checksum) and that all sides of the index agree; changes nothing.

    Prints each problem with its fix and exits 1 when the index is damaged, 0 when it is healthy.
    """
    from .index.check import check_index

    try:
        report = check_index(index)
    except ArchiveError as exc:
        raise _fail(exc) from None
    _echo(f"index:      {index}")
    _echo(f"generation: {report.generation.name if report.generation else '-'}")
    _echo(f"files:      {report.files_checked} checked ({report.bytes_checked / 1e6:.1f} MB, sizes and checksums)")
    if report.counts:
        _echo("articles:   " + ", ".join(f"{side} {count}" for side, count in report.counts.items()))
    for note in report.notes:
        _echo(f"note: {note}")
    for problem in report.problems:
        _echo(f"problem: {problem}")
    if not report.healthy:
        _echo(f"error: {index} is damaged: {len(report.problems)} problem(s), listed above. "
                   "Fix: archive build --full", err=True)
        raise typer.Exit(code=1)
    _echo("healthy: every file matches its checksum and every side holds the same articles")


from .cli_story import story as _story  # noqa: E402 - archive story: a module of its own, registered here
app.command(name="story")(_story)


def main() -> None:
    """Entry point of the ``archive`` script and ``python -m archive``."""
    app()

"""The ``archive`` commands that change an archive: build, add, embed, delete, restore.

Each reads its sources (:mod:`archive.files.readers`), calls the library
(:class:`archive.Archive`) and prints what the write did; a Ctrl-C says what
the archive holds after it (exit code 130). Registered on the one app by
:mod:`archive.cli`.
"""

from __future__ import annotations

import time
from pathlib import Path
from collections.abc import Sequence
from typing import Annotated, Optional

import typer

from .cli_common import (
    DEFAULT_SOURCES,
    ENCODER_CHOICES,
    EngineOption,
    FieldOption,
    IndexOption,
    MaxArticleOption,
    MaxFileOption,
    RayAddressOption,
    RayOption,
    _echo,
    _fail,
    _field_map,
    _limits,
    started as started_at,
)
from .cli_report import counts_line, coverage_line, estimate_line, plural, tombstoned_line
from .errors import ArchiveError, NothingToIndexError, SourceError


def _interrupted(index: Path, before: str | None, report, problems: Sequence[str] = ()) -> typer.Exit:  # noqa: ANN001
    """Say what a Ctrl-C kept (each commit is atomic: the words first, then passage vectors) and exit 130.

    The warnings and skipped inputs gathered so far come first: one that says a
    crashed writer's lock was taken over must reach the user even when the run
    is cut short.
    """
    from .archive import Archive

    _problems(report, list(problems), err=True)
    if Archive.live_generation(index) == before:
        _echo("interrupted: the archive is unchanged", err=True)
    else:
        _echo("interrupted after the change was committed: the archive holds the new state", err=True)
    pending = Archive.pending_of(index)
    if pending:
        _echo(f"{pending:,} passages are not embedded yet (the ones embedded are kept in the cache); "
              "archive embed finishes", err=True)
    return typer.Exit(code=130)


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
    from .encoders.registry import KEEP_ENCODER
    from .files.readers import read_documents
    from .terminal import progress_bar
    from .writing.ray_embed import NothingToEmbedError

    started = started_at()
    fields = _field_map(field)
    encoder = encoder if encoder is not None else KEEP_ENCODER
    report = BuildReport()
    problems: list[str] = []
    before = Archive.live_generation(index)
    try:
        paths = _build_sources(sources, index, report, prune=prune)
        on_error = (lambda err: problems.append(str(err))) if skip_errors else None
        documents = read_documents(paths, on_error=on_error, on_warning=report.warnings.append, fields=fields,
                                   limits=limits)
        if dry_run:
            planned = Archive.plan(documents, index, sources=paths, prune=prune, encoder=encoder, full=full,
                                   passages=passages, ray=ray, ray_address=ray_address)
            _echo(f"dry run, nothing written: {counts_line(planned, len(problems))}")
            _echo(estimate_line(planned.estimate))
            _deletions(planned)
            if planned.tombstoned:
                _echo(tombstoned_line(planned))
            report.warnings.extend(planned.warnings)
            _problems(report, problems)
            return
        with progress_bar() as progress:
            archive = Archive.build(
                documents, index, encoder=encoder, full=full, report=report, procs=procs, progress=progress,
                sources=paths, prune=prune, before_commit=_deletions, passages=passages, ray=ray,
                ray_address=ray_address,
            )
    except NothingToEmbedError as exc:
        raise typer.BadParameter(str(exc), param_hint="--ray") from None
    except ArchiveError as exc:
        _ray_done(report.ray)
        _problems(report, problems, err=True)
        raise _fail(exc) from None
    except KeyboardInterrupt:
        raise _interrupted(index, before, report, problems) from None
    _ray_done(report.ray)
    _summary(report, archive, index, problems, started)
    archive.close()


def _ray_done(stats) -> None:  # noqa: ANN001 - archive.writing.building.EmbedJobStats
    """Say what a Ray embedding job did (nothing when there was none)."""
    if stats is None:
        return
    if stats.embedded:
        retried = f", {stats.retried} batch(es) retried after a worker died" if stats.retried else ""
        _echo(f"embedded {plural(stats.embedded, 'passage')} on Ray in {stats.seconds:.1f} s "
              f"({plural(stats.workers, 'worker')}{retried}); {stats.cached} already in the cache")
    else:
        _echo(f"nothing to embed on Ray ({plural(stats.cached, 'passage')} already in the cache)")


def _build_sources(sources: list[Path] | None, index: Path, report, *, prune: bool = False) -> list[Path]:  # noqa: ANN001
    """The paths a build reads: those given, else the ones the archive remembers, else seeds/.

    A remembered source that is gone (or a link to nothing: an unmounted drive) is not read and its
    articles are kept; ``--prune`` without SOURCES is then refused, since it would remove them: the
    user names the sources to keep instead."""
    from .archive import Archive
    from .writing.operations import present_and_gone

    if sources:
        return sources
    remembered = [Path(p) for p in Archive.sources_of(index, on_warning=report.warnings.append)]
    if not remembered:
        from .writing.choices import choices_lost

        if choices_lost(index):
            raise SourceError(str(index), "its manifest is damaged and no generation kept beside it remembers "
                              "its sources, so nothing was read. Fix: archive build SOURCES --full --encoder "
                              "ENCODER, naming what it was built from")
        return DEFAULT_SOURCES
    present, gone = present_and_gone(remembered)
    if gone and prune:
        raise SourceError(", ".join(map(str, gone)), "a source of this archive is gone, and --prune would remove "
                          "its articles; nothing was changed. Fix: archive build SOURCES --prune, naming the "
                          "sources to keep")
    for path in gone:
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

    started = started_at()
    fields = _field_map(field)
    report = BuildReport()
    problems: list[str] = []
    before = Archive.live_generation(index)
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
        raise _interrupted(index, before, report, problems) from None
    _summary(report, archive, index, problems, started)
    archive.close()


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
    before = Archive.live_generation(index)
    try:
        with progress_bar() as progress:
            archive = Archive.embed(index, report=report, progress=progress, ray=ray, ray_address=ray_address)
    except ArchiveError as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        raise _interrupted(index, before, report) from None
    _ray_done(report.ray)
    if not archive.manifest.encoder:
        _echo(f"{index} is lexical only: nothing to embed (archive build --full --encoder e5-small adds vectors)")
    elif report.checkpoints:
        _echo(f"passages: {report.embedded + report.reused} ({report.embedded} embedded, {report.reused} reused "
              f"from the cache) in {plural(report.checkpoints, 'commit')}")  # as build says it
    if archive.manifest.encoder:
        _echo(coverage_line(archive.manifest))
    archive.close()


def delete(
    ids: Annotated[list[str], typer.Argument(metavar="ID...", help="Ids of the articles to remove.")],
    index: IndexOption = Path("index"),
) -> None:
    """Remove articles by id from both the keyword and the meaning index."""
    from .archive import Archive, BuildReport
    from .terminal import progress_bar

    started = started_at()
    report = BuildReport()
    before = Archive.live_generation(index)
    try:
        with progress_bar() as progress:
            archive = Archive.update(index, delete=ids, report=report, progress=progress)
    except ArchiveError as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        raise _interrupted(index, before, report) from None
    _summary(report, archive, index, [], started)
    _echo(f"a build from the same sources will not bring {'it' if len(ids) == 1 else 'them'} back; "
          f"archive restore {' '.join(ids[:3])}{' ...' if len(ids) > 3 else ''} undoes the delete")
    archive.close()


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

    started = started_at()
    report = BuildReport()
    before = Archive.live_generation(index)
    try:
        with progress_bar() as progress:
            archive = Archive.restore(index, ids, report=report, progress=progress)
    except ArchiveError as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        raise _interrupted(index, before, report) from None
    _summary(report, archive, index, [], started, restoring=len(set(ids)))
    archive.close()


def _summary(report, archive, index: Path, problems: list[str], started: float,  # noqa: ANN001
             *, restoring: int | None = None) -> None:
    """What a write did: its counts, what the archive holds now, and the command's wall time.
    ``restoring``: how many ids ``archive restore`` was asked for (it says which came back)."""
    took = time.perf_counter() - started
    counts = counts_line(report, len(problems))
    if not report.written:
        _echo(f"{index} is up to date: nothing to write ({counts}) in {took:.1f} s")
    elif not report.read and report.deleted:  # archive delete
        _echo(f"{index}: {plural(report.deleted, 'article')} deleted in {took:.1f} s")
    elif report.read or report.deleted:
        _echo(f"{index}: {counts} in {took:.1f} s")
    elif archive.manifest.encoder and (report.embedded or report.reused):  # vectors only (embedding resumed)
        _echo(f"{index}: no article changed ({counts}); passage vectors were added in {took:.1f} s")
    else:  # a restore that found none of its articles: only their deletions were forgotten
        _echo(f"{index}: no article changed ({counts}) in {took:.1f} s")
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
        _echo(coverage_line(archive.manifest))
    if report.kept:
        _echo(f"kept {plural(report.kept, 'article')} that these sources do not hold "
              "(from other sources, or their files are still there); --prune removes them")
    if report.tombstoned:
        _echo(tombstoned_line(report))
    if restoring is not None:
        _echo(_restored_line(report.restored, restoring - report.restored))
    elif report.restored:
        _echo(f"restored {plural(report.restored, 'article')} deleted earlier")
    _problems(report, problems)


def _restored_line(restored: int, forgotten: int) -> str:
    """What ``archive restore`` brought back, and the deletions it only forgot (ids no source holds now)."""
    text = f"restored {plural(restored, 'article')} deleted earlier"
    if forgotten:
        them = "it" if forgotten == 1 else "them"
        text += (f"; {forgotten} not found in the archive's sources (named below) "
                 f"{'was' if forgotten == 1 else 'were'} not restored, only "
                 f"{'its deletion' if forgotten == 1 else 'their deletions'} forgotten: a build that reads "
                 f"{them} again adds {them}")
    return text


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


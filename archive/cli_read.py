"""The ``archive`` commands that read an archive: search, related, show, export, stats.

Each opens the archive (:class:`archive.Archive`), asks it and prints: a
table, plain lines, or JSON (:mod:`archive.cli_results`). Registered on the
one app by :mod:`archive.cli`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from .cli_common import (
    AuthorOption,
    Bidi,
    BidiOption,
    CategoryOption,
    EngineOption,
    ExportFormat,
    IndexOption,
    Mode,
    ModeOption,
    SinceOption,
    SortOption,
    SortOrder,
    SourceOption,
    UntilOption,
    _date,
    _echo,
    _fail,
)
from .cli_report import coverage_line
from .errors import ArchiveError
from .search.fusion import FusionMethod


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
            duplicate_of = archive.duplicate_of(doc.id)
            duplicates = archive.duplicates_of(doc.id)
            versions = archive.versions_of(doc.id)
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
    from .files.export import write_file

    if bom and format is not ExportFormat.csv:
        raise typer.BadParameter("a byte order mark is for CSV (spreadsheets); add --format csv", param_hint="--bom")
    options = {"format": format.value, "limit": limit, "mode": mode.value, "sort": sort.value, "source": source,
               "category": category, "author": author, "since": since, "until": until, "bom": bom}
    if output is not None and str(output) == "-":
        output = None  # the usual spelling of standard output
    owner = _index_holding(output, index) if output is not None else None
    if owner is not None:
        raise typer.BadParameter(f"{output} is inside the index {owner}, whose files the archive owns; "
                                 "write the export elsewhere", param_hint="--output")
    kept = output is not None and output.is_file()  # a pipe or a terminal holds nothing to keep
    try:
        with Archive.open(index) as archive:
            if output is None:
                count = archive.export(sys.stdout, query, **options)  # type: ignore[arg-type]
            else:
                count = write_file(output, lambda out: archive.export(out, query, **options))  # type: ignore[arg-type]
    except ArchiveError as exc:
        raise _fail(exc) from None
    except BrokenPipeError:  # `archive export | head`: the reader has what it wanted; end quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own flush at exit must not fail again
        raise typer.Exit(code=0) from None
    except OSError as exc:
        _echo(f"error: {output or 'standard output'}: cannot write ({exc.strerror})", err=True)
        raise typer.Exit(code=1) from None
    if output is not None and kept and count == 0:
        _echo(f"exported 0 articles: {output} was left as it was", err=True)
        return
    _echo(f"exported {count} article{'' if count == 1 else 's'}" + (f" to {output}" if output else ""), err=True)


def _index_holding(path: Path, index: Path) -> Path | None:
    """The archive index directory ``path`` would land inside (links followed), or ``None``: ``index``,
    or any folder above ``path`` that holds a ``CURRENT`` pointer and generations (another archive,
    whose manifest an export would replace with articles)."""
    from .index.layout import is_index_directory

    target = path.resolve()
    if target.is_relative_to(index.resolve()):
        return index
    return next((folder for folder in target.parents if is_index_directory(folder)), None)


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
        _echo(coverage_line(manifest))
        made = f" (vectors made with {', '.join(info.engines)})" if info.engines else ""
        here = info.engine if (info.engine or "").startswith("unavailable") else f"{info.engine} here"
        _echo(f"engine:     {here}{made}")
    _echo(f"dates:      {_date(info.first_published)} .. {_date(info.last_published)}" + (
        "" if info.own_days else " (--since/--until days are UTC days in this archive; archive build --full "
        "makes them each article's own day)"))
    _echo(f"size:       {info.size_bytes / 1e6:.1f} MB")
    _echo(f"built:      {info.built_at}   updated: {info.updated_at}")
    for title, counts in (("sources", info.sources), ("categories", info.categories)):
        if counts:
            _echo(f"{title}:" + (" (folded duplicates counted with their own)" if info.folded_duplicates else ""))
            for name, count in counts.items():
                _echo(f"  {name}: {count}")


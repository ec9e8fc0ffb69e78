"""The ``archive`` command line: a thin layer over the library.

Each command calls the library and prints; every :class:`ArchiveError` becomes
one line on stderr (``error: …``) and exit code 1; a bad option is typer's
usage error (exit code 2). Nothing heavy is imported before a command needs it.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer

from .errors import ArchiveError

app = typer.Typer(
    name="archive",
    help="Search an archive of Arabic news by keywords and by meaning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DEFAULT_SOURCES = [Path("seeds")]
IndexOption = Annotated[Path, typer.Option("--index", "-i", help="Index directory.")]


def _fail(exc: ArchiveError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(code=1)


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "-"


@app.command()
def build(
    sources: Annotated[
        Optional[list[Path]], typer.Argument(help="Files or directories of articles (default: seeds/).")
    ] = None,
    index: IndexOption = Path("index"),
    encoder: Annotated[
        str, typer.Option(help="e5-small (default), use-multilingual, st:MODEL, or none for lexical only.")
    ] = "e5-small",
    skip_errors: Annotated[
        bool, typer.Option("--skip-errors/--strict", help="Skip unreadable files and records (listed) or stop at the first.")
    ] = True,
    procs: Annotated[int, typer.Option(help="Indexing processes (default: 2).", min=1)] = 2,
    full: Annotated[bool, typer.Option("--full", help="Rewrite the index even if nothing changed.")] = False,
) -> None:
    """Build the archive index from article files (.txt, .jsonl, .json, .zip, ANT <DOC> files).

    Re-running it on the same sources only reports what changed; unchanged
    passages are never embedded again.
    """
    from .archive import Archive, BuildReport
    from .readers import read_documents

    report = BuildReport()
    problems: list[str] = []
    try:
        on_error = (lambda err: problems.append(str(err))) if skip_errors else None
        documents = read_documents(sources or DEFAULT_SOURCES, on_error=on_error, on_warning=report.warnings.append)
        with _progress_bar() as progress:
            archive = Archive.build(
                documents, index, encoder=encoder, full=full, report=report, procs=procs, progress=progress
            )
    except ArchiveError as exc:
        raise _fail(exc) from None
    _summary(report, archive, index, problems)
    archive.close()


@app.command()
def add(
    sources: Annotated[list[Path], typer.Argument(help="Files or directories of new or changed articles.")],
    index: IndexOption = Path("index"),
    skip_errors: Annotated[
        bool, typer.Option("--skip-errors/--strict", help="Skip unreadable files and records (listed) or stop at the first.")
    ] = True,
    procs: Annotated[int, typer.Option(help="Indexing processes (default: 2).", min=1)] = 2,
) -> None:
    """Add new articles and replace changed ones (matched by id), as one atomic change."""
    from .archive import Archive, BuildReport
    from .readers import read_documents

    report = BuildReport()
    problems: list[str] = []
    try:
        on_error = (lambda err: problems.append(str(err))) if skip_errors else None
        documents = list(read_documents(sources, on_error=on_error, on_warning=report.warnings.append))
        with _progress_bar() as progress:
            archive = Archive.update(index, add=documents, report=report, procs=procs, progress=progress)
    except ArchiveError as exc:
        raise _fail(exc) from None
    _summary(report, archive, index, problems)
    archive.close()


@app.command()
def delete(
    ids: Annotated[list[str], typer.Argument(metavar="ID...", help="Ids of the articles to remove.")],
    index: IndexOption = Path("index"),
) -> None:
    """Remove articles by id from both the keyword and the meaning index."""
    from .archive import Archive, BuildReport

    report = BuildReport()
    try:
        with _progress_bar() as progress:
            archive = Archive.update(index, delete=ids, report=report, progress=progress)
    except ArchiveError as exc:
        raise _fail(exc) from None
    _summary(report, archive, index, [])
    archive.close()


def _progress_bar():  # noqa: ANN202 - a context manager yielding the progress callback
    from contextlib import contextmanager

    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    @contextmanager
    def bar_context():  # noqa: ANN202
        columns = (
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
        )
        with Progress(*columns, transient=True, disable=None) as bar:
            tasks: dict[str, TaskID] = {}

            def progress(stage: str, done: int, total: int | None) -> None:
                if stage not in tasks:
                    label = "indexing articles" if stage == "index" else "embedding passages"
                    tasks[stage] = bar.add_task(label, total=total, rate="")
                task = bar.tasks[tasks[stage]]
                rate = f"{done / task.elapsed:.0f}/s" if task.elapsed else ""
                bar.update(tasks[stage], completed=done, total=total, rate=rate)

            yield progress

    return bar_context()


def _summary(report, archive, index: Path, problems: list[str]) -> None:  # noqa: ANN001
    counts = (f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
              f"{report.deleted} deleted")
    if report.written:
        typer.echo(f"indexed {report.indexed} articles into {index} in {report.seconds:.1f} s ({counts})")
        if report.folded:
            typer.echo(f"folded {report.folded} duplicate articles (identical text) into the ones indexed")
        if archive.manifest.encoder:
            typer.echo(
                f"passages: {report.passages} ({report.embedded} embedded, {report.reused} reused from the cache) "
                f"with {archive.manifest.encoder}"
            )
    else:
        typer.echo(f"{index} is up to date: nothing to write ({counts})")
    for message in report.warnings:
        typer.echo(f"warning: {message}")
    skipped = problems + report.skipped
    if skipped:
        typer.echo(f"skipped {len(skipped)}:")
        for message in skipped:
            typer.echo(f"  {message}")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Words, \"phrases\", AND/OR/NOT, +must, -exclude, field:value.")],
    k: Annotated[int, typer.Option("-k", "--k", help="How many hits.", min=1)] = 10,
    mode: Annotated[str, typer.Option(help="hybrid (default), lexical or semantic.")] = "hybrid",
    source: Annotated[Optional[str], typer.Option(help="Only this source.")] = None,
    category: Annotated[Optional[str], typer.Option(help="Only this category.")] = None,
    since: Annotated[Optional[str], typer.Option(help="Published on or after (YYYY-MM-DD).")] = None,
    until: Annotated[Optional[str], typer.Option(help="Published on or before (YYYY-MM-DD).")] = None,
    fusion: Annotated[Optional[str], typer.Option(help="Hybrid fusion: convex, convex-z or rrf (default: tuned).")] = None,
    alpha: Annotated[
        Optional[float],
        typer.Option(help="Weight of the lexical side (word and 3-gram BM25) in convex fusion, 0..1 (default: tuned)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per hit.")] = False,
    index: IndexOption = Path("index"),
) -> None:
    """Search the archive and print the best hits."""
    from .archive import Archive

    tuning = {name: value for name, value in (("fusion", fusion), ("alpha", alpha)) if value is not None}
    try:
        with Archive.open(index) as archive:
            hits = archive.search(
                query, k=k, mode=mode, source=source, category=category,  # type: ignore[arg-type]
                since=since, until=until, **tuning,  # type: ignore[arg-type]
            )
    except ArchiveError as exc:
        raise _fail(exc) from None
    if as_json:
        for rank, hit in enumerate(hits, 1):
            record = {
                "rank": rank, "id": hit.id, "score": round(hit.score, 6), "title": hit.title,
                "published": hit.published.isoformat() if hit.published else None,
                "source": hit.source, "category": hit.category, "url": hit.url,
                "snippet": hit.snippet, "marks": [list(m) for m in hit.marks],
            }
            typer.echo(json.dumps(record, ensure_ascii=False))
        return
    if not hits:
        typer.echo(f"no results: {hits.reason}")
        return
    _print_hits(hits)


def _print_hits(hits: list) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=True, expand=True)
    for name, kwargs in (("#", {"justify": "right"}), ("score", {"justify": "right"}), ("date", {}),
                         ("source", {}), ("title / snippet", {"ratio": 1})):
        table.add_column(name, **kwargs)
    for rank, hit in enumerate(hits, 1):
        cell = Text(hit.title or hit.id, style="bold")
        cell.append("\n")
        snippet = Text(hit.snippet)
        for start, end in hit.marks:
            snippet.stylize("bold yellow", start, end)
        cell.append_text(snippet)
        table.add_row(str(rank), f"{hit.score:.3f}", _date(hit.published), hit.source or "-", cell)
    Console(soft_wrap=False).print(table)


@app.command()
def show(
    doc_id: Annotated[str, typer.Argument(metavar="ID", help="Document id, as printed by search.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the document as JSON.")] = False,
    index: IndexOption = Path("index"),
) -> None:
    """Print one article."""
    from .archive import Archive

    try:
        with Archive.open(index) as archive:
            doc = archive.get(doc_id)
            duplicate_of = archive.duplicate_of(doc_id)
            duplicates = archive.duplicates_of(doc_id)
    except ArchiveError as exc:
        raise _fail(exc) from None
    if as_json:
        record = {
            "id": doc.id, "title": doc.title, "published": doc.published.isoformat() if doc.published else None,
            "source": doc.source, "category": doc.category, "url": doc.url, "language": doc.language,
            "body": doc.body, "duplicate_of": duplicate_of, "duplicates": duplicates,
        }
        typer.echo(json.dumps(record, ensure_ascii=False))
        return
    typer.echo(f"id:        {doc.id}")
    for label, value in (("title", doc.title), ("published", _date(doc.published)), ("source", doc.source),
                         ("category", doc.category), ("url", doc.url)):
        if value and value != "-":
            typer.echo(f"{label + ':':<11}{value}")
    if duplicate_of:
        typer.echo(f"duplicate of: {duplicate_of} (same text; searches return that one)")
    if duplicates:
        typer.echo(f"duplicates: {', '.join(duplicates)}")
    typer.echo("")
    typer.echo(doc.body)


@app.command()
def stats(index: IndexOption = Path("index")) -> None:
    """Print what the archive holds: counts, sources, categories, dates, size."""
    from .archive import Archive

    try:
        with Archive.open(index) as archive:
            info = archive.stats()
    except ArchiveError as exc:
        raise _fail(exc) from None
    typer.echo(f"index:      {info.path}")
    typer.echo(f"documents:  {info.documents}")
    typer.echo(f"duplicates: {info.folded_duplicates} folded (identical text)")
    typer.echo(f"passages:   {info.passages}")
    typer.echo(f"encoder:    {info.encoder or 'none (lexical only)'}")
    typer.echo(f"dates:      {_date(info.first_published)} .. {_date(info.last_published)}")
    typer.echo(f"size:       {info.size_bytes / 1e6:.1f} MB")
    typer.echo(f"built:      {info.built_at}   updated: {info.updated_at}")
    for title, counts in (("sources", info.sources), ("categories", info.categories)):
        if counts:
            typer.echo(f"{title}:")
            for name, count in counts.items():
                typer.echo(f"  {name or '(none)'}: {count}")


@app.command()
def check(index: IndexOption = Path("index")) -> None:
    """Verify every file (size and checksum) and that all sides of the index agree; changes nothing.

    Prints each problem with its fix and exits 1 when the index is damaged, 0 when it is healthy.
    """
    from .check import check_index

    try:
        report = check_index(index)
    except ArchiveError as exc:
        raise _fail(exc) from None
    typer.echo(f"index:      {index}")
    typer.echo(f"generation: {report.generation.name if report.generation else '-'}")
    typer.echo(f"files:      {report.files_checked} checked ({report.bytes_checked / 1e6:.1f} MB, sizes and checksums)")
    if report.counts:
        typer.echo("articles:   " + ", ".join(f"{side} {count}" for side, count in report.counts.items()))
    for note in report.notes:
        typer.echo(f"note: {note}")
    for problem in report.problems:
        typer.echo(f"problem: {problem}")
    if not report.healthy:
        typer.echo(f"error: {index} is damaged: {len(report.problems)} problem(s), listed above. "
                   "Fix: archive build --full", err=True)
        raise typer.Exit(code=1)
    typer.echo("healthy: every file matches its checksum and every side holds the same articles")


def main() -> None:
    """Entry point of the ``archive`` script and ``python -m archive``."""
    app()

"""The ``archive`` command line: a thin layer over the library.

Each command calls the library and prints; every :class:`ArchiveError` becomes
one line on stderr (``error: …``) and exit code 1; a bad option is typer's
usage error (exit code 2). Nothing heavy is imported before a command needs it.
The commands live by what they do (:mod:`archive.cli_write`: build, add, embed,
delete, restore; :mod:`archive.cli_read`: search, related, show, export, stats;
:mod:`archive.cli_story`), with their shared options in :mod:`archive.cli_common`;
this module makes the one app, registers them in the order ``--help`` lists them,
and holds ``serve`` and ``check``.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated, Optional

import typer

from .version import __version__
from .cli_common import EngineOption, IndexOption, _echo, _fail, _restore_engine, mark_started
from .cli_help import PlainGroup
from .cli_read import export, related, search, show, stats
from .cli_story import story
from .cli_write import add, build, delete, embed, restore
from .errors import ArchiveError

app = typer.Typer(
    name="archive",
    cls=PlainGroup,
    help="Search an archive of Arabic news by keywords and by meaning.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


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
    mark_started()
    _restore_engine()


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


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


def check(index: IndexOption = Path("index")) -> None:
    """Verify every file (size and checksum) and that all sides of the index agree; changes nothing.

    Prints each problem with its fix and exits 1 when the index is damaged, 0 when it is healthy.
    """
    from .archive import Archive

    try:
        report = Archive.check(index)
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


for command in (build, add, embed, delete, restore, search, related, show, export, stats, serve, check, story):
    app.command()(command)


def main() -> None:
    """Entry point of the ``archive`` script and ``python -m archive``."""
    app()

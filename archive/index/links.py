"""Hard links between generations: a new generation shares every file it does not change with the live one.

Files of a committed generation are never written again (a change writes a new
generation, :mod:`archive.index.layout`), so a hard link shares them safely and
costs no space; where the filesystem cannot link, the file is copied.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Collection
from pathlib import Path


def link_files(source: Path, target: Path, *, skip: Collection[str] = ()) -> None:
    """Fill ``target`` (new or empty) with hard links to ``source``'s files, folders recursed.

    Copies where the filesystem cannot link. Files of a committed generation
    are never written again (a change writes a new generation), so a link
    shares them safely; names in ``skip`` (at the top level) and lock files
    are left out.
    """
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.iterdir()):
        if path.name in skip or path.name.endswith(".lock") or path.is_symlink():
            continue
        if path.is_dir():
            link_files(path, target / path.name)
        elif path.is_file():
            link_file(path, target / path.name)


def link_file(source: Path, target: Path) -> None:
    """Hard-link ``source`` as ``target`` (a copy where the filesystem cannot link)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)

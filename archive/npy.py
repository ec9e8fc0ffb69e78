"""Reading ``.npy`` and ``.npz`` files one thread at a time: every array the package opens is read here.

numpy parses each array's header with :func:`ast.literal_eval`, and CPython 3.11's AST constructor keeps
its recursion depth in state that all threads share: two threads parsing at once (the first searches of
a web server on several threads, each opening the index's arrays) can fail with ``SystemError: AST
constructor recursion depth mismatch``, a CPython 3.11 bug fixed in later versions. So every read of a
header holds one process-wide lock. Pickles are never loaded (``allow_pickle=False``).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import BinaryIO

import numpy as np

_LOCK = threading.Lock()
"""Held while a header is parsed (and, simplest, for the whole read it starts)."""


def load(path: Path, *, mmap: bool = False) -> np.ndarray:
    """The array in the ``.npy`` file at ``path``, memory-mapped read-only when ``mmap``.

    Raises what :func:`numpy.load` raises: ``OSError`` (unreadable), ``ValueError`` (not an array
    file, a pickle, or an empty array to map), ``EOFError`` (an empty file).
    """
    with _LOCK:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)


def load_all(path: Path) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` file at ``path`` by name, all read now (an open ``NpzFile`` would
    parse each member's header later, outside the lock). Raises as :func:`load` does, and
    ``zipfile.BadZipFile`` for a damaged archive; ``ValueError`` when ``path`` holds one array."""
    with _LOCK:
        found = np.load(path, allow_pickle=False)
        if not isinstance(found, np.lib.npyio.NpzFile):
            raise ValueError(f"{path}: one array, not an .npz archive of arrays")
        with found:
            return {name: found[name] for name in found.files}


def read_header(fh: BinaryIO) -> tuple[tuple[int, ...], bool, np.dtype]:
    """The shape, Fortran order and dtype of the ``.npy`` file open in ``fh``, read from its start;
    ``fh`` is left at the first byte of the data."""
    with _LOCK:
        version = np.lib.format.read_magic(fh)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(fh)
    return shape, fortran, np.dtype(dtype)

"""Whoosh reads its index files with ``pickle``; make those reads unable to run code.

Whoosh pickles its table of contents (the schema and the segment list), the
posting formats' codes, term infos and column values. A plain ``pickle.loads``
of a file someone dropped into an index directory can call any importable
function, so :func:`install` points every pickle read Whoosh does on an index
at :func:`loads`, whose unpickler resolves only:

- classes (not functions) defined in the Whoosh modules an index of ours
  refers to (fields, formats, columns, analysis, the ``whoosh3`` codec), and
  the archive's own tokenizer class;
- a fixed handful of harmless callables pickle itself emits for ordinary
  values (``_codecs.encode`` for bytes, ``re._compile`` for the tokenizers'
  patterns, ``collections.defaultdict``, built-in containers).

Anything else (``os.system``, ``builtins.eval``, a class from another
package...) raises :class:`UnsafeIndexError` before it is called. Writing the
format ourselves was the alternative; Whoosh is the lexical engine we chose
(see the developers' guide), so we keep its files and police how they are read.
Stored fields are read with ``marshal`` (plain values only; it builds no
objects that run code on load), which needs no guard.
"""

from __future__ import annotations

import importlib
import io
import pickle
import types
from typing import IO, Any

from .errors import IndexFormatError

_CLASS_MODULES = (
    "whoosh.fields",
    "whoosh.formats",
    "whoosh.columns",
    "whoosh.codec.whoosh3",
    "whoosh.analysis.analyzers",
    "whoosh.analysis.filters",
    "whoosh.analysis.tokenizers",
    "whoosh.analysis.morph",
    "whoosh.analysis.ngrams",
    "whoosh.analysis.intraword",
    "whoosh.analysis.acore",
    "archive.lexical",
)
"""Modules whose classes (and only classes) an index may name."""

_CALLABLES = frozenset(
    {
        ("_codecs", "encode"),
        ("re", "_compile"),
        ("collections", "defaultdict"),
        ("copyreg", "_reconstructor"),
        ("builtins", "object"),
        ("builtins", "int"),
        ("builtins", "float"),
        ("builtins", "str"),
        ("builtins", "bytes"),
        ("builtins", "bool"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "list"),
        ("builtins", "tuple"),
        ("builtins", "dict"),
        ("__builtin__", "long"),
        ("__builtin__", "int"),
        ("__builtin__", "set"),
        ("__builtin__", "frozenset"),
        ("__builtin__", "object"),
    }
)
"""Functions and built-in types pickle uses for plain values."""


class UnsafeIndexError(IndexFormatError, pickle.UnpicklingError):
    """An index file names something that may run code when unpickled."""


class _RestrictedUnpickler(pickle._Unpickler):  # noqa: SLF001 - the Python one: its opcodes can be overridden
    """An unpickler that resolves only the names listed in the module docstring.

    It also refuses ``BUILD`` on a class (``setattr`` on the class itself), which
    would let one tampered file change allowed classes for the whole process.
    """

    dispatch = dict(pickle._Unpickler.dispatch)  # noqa: SLF001

    def load_build(self) -> None:
        if isinstance(self.stack[-2], type):
            raise UnsafeIndexError(
                "an index file sets attributes of a class, which an archive index never does; "
                "refusing to load it (the index may have been tampered with). Fix: archive build --full"
            )
        super().load_build()

    dispatch[pickle.BUILD[0]] = load_build

    def find_class(self, module: str, name: str) -> Any:  # noqa: ANN401 - pickle's protocol
        if (module, name) in _CALLABLES:
            return super().find_class(module, name)
        if module in _CLASS_MODULES and "." not in name and not name.startswith("__"):
            obj = getattr(importlib.import_module(module), name, None)
            if isinstance(obj, type) and obj.__module__ == module:
                return obj
        raise UnsafeIndexError(
            f"an index file refers to {module}.{name}, which an archive index never holds; "
            "refusing to load it (the index may have been tampered with). Fix: archive build --full"
        )


class _NeedsNames(Exception):
    """Raised by :class:`_PlainUnpickler` at the first name a pickle refers to."""


class _PlainUnpickler(pickle.Unpickler):
    """The C unpickler, allowed one name only: ``_codecs.encode``, how protocol 2 writes bytes.

    No class can then reach its stack, so ``BUILD`` cannot set attributes of
    one, and the one callable ``REDUCE`` can call turns text into bytes.
    Whoosh's posting blocks are such plain values (tuples of numbers and
    bytes): they are read at C speed (the pure-Python unpickler made phrase
    queries ~2x slower), and a pickle naming anything else goes to
    :class:`_RestrictedUnpickler`.
    """

    def find_class(self, module: str, name: str) -> Any:  # noqa: ANN401 - pickle's protocol
        if (module, name) == ("_codecs", "encode"):
            return super().find_class(module, name)
        raise _NeedsNames


def loads(data: bytes, **_: object) -> Any:  # noqa: ANN401 - any pickled value
    """``pickle.loads`` that resolves only the allowed names (plain pickles at C speed)."""
    try:
        return _PlainUnpickler(io.BytesIO(data)).load()
    except _NeedsNames:
        return _RestrictedUnpickler(io.BytesIO(data)).load()


def load(file: IO[bytes], **_: object) -> Any:  # noqa: ANN401 - any pickled value
    """``pickle.load`` that resolves only the allowed names."""
    return _RestrictedUnpickler(file).load()


_installed = False


def install() -> None:
    """Route Whoosh's index reads through :func:`loads` / :func:`load` (idempotent)."""
    global _installed  # noqa: PLW0603 - one process-wide patch
    if _installed:
        return
    import whoosh.codec.whoosh3
    import whoosh.columns
    import whoosh.filedb.structfile
    import whoosh.formats
    import whoosh.index

    # whoosh.index calls pickle.loads (TOC schema) and pickle.dumps / PicklingError (writing it).
    whoosh.index.pickle = types.SimpleNamespace(  # type: ignore[attr-defined]
        loads=loads, dumps=pickle.dumps, PicklingError=pickle.PicklingError
    )
    whoosh.filedb.structfile.load_pickle = load  # type: ignore[attr-defined]  # TOC segment list
    # Tables of contents of old Whoosh versions are read by legacy loaders with an
    # unrestricted unpickler; an archive never writes them, so none is accepted.
    whoosh.index.toc_loaders.clear()
    for module in (whoosh.codec.whoosh3, whoosh.formats, whoosh.columns):
        module.loads = loads  # type: ignore[attr-defined]
    _installed = True

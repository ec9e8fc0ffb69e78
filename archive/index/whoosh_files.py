"""Whoosh opens the archive's index files without running code from them.

:func:`install` changes how Whoosh reads an index, process-wide:

- the table of contents (``_MAIN_<gen>.toc``) is read by :func:`read_toc`,
  which never unpickles the schema stored in it: the schema comes from the
  code (the one given to ``open_dir``/``create_in``, else the ``schema``
  factory passed to :func:`install`). The stored schema is only compared,
  without building anything (:func:`archive.index.safe_pickle.pickle_structure`),
  with the code's, so a TOC whose schema differs (a damaged or tampered file,
  like one whose column type names a module to import) is refused with a
  one-line :class:`~archive.errors.IndexFormatError` naming the file and the
  fix. The segment list is read by :func:`archive.index.safe_pickle.load_segments`.
- every other pickle Whoosh reads from an index (posting blocks, term infos,
  position codes, stored fields, block headers) goes to
  :func:`archive.index.safe_pickle.plain_loads` / ``plain_load``: plain values only;
- the writer's temporary runs of sorted postings go to ``plain_load`` too, and
  the multiprocessing writer's job files to :func:`archive.index.safe_pickle.load_job`,
  in its sub-writers however they are started (:class:`GuardedSubWriterTask`);
- tables of contents of older Whoosh versions, which Whoosh reads with an
  unpickler that resolves any name, are refused (an archive never wrote them).

Whoosh's own ``pickle.loads`` of a schema is replaced by one that refuses,
so a path of Whoosh this module does not know about fails loudly instead of
unpickling. Being process-wide, this also applies to any other Whoosh index a
program using the archive opens: it must pass its schema to ``open_dir``
(else the archive's is assumed) and hold plain values in its stored fields.
"""

from __future__ import annotations

import functools
import pickle
import types
from pathlib import Path
from typing import Any

from whoosh.multiproc import SubWriterTask

from ..errors import IndexFormatError
from .schema import make_schema
from .safe_pickle import UnsafeIndexError, load_job, load_segments, pickle_structure, plain_load, plain_loads

_FIX = "Fix: archive build --full"

@functools.lru_cache(maxsize=16)
def _same_structure(stored: bytes, expected: bytes) -> bool:
    try:
        return pickle_structure(stored) == pickle_structure(expected)
    except (UnsafeIndexError, RecursionError):
        return False


def _toc_path(storage: Any, name: str) -> str:  # noqa: ANN401 - a Whoosh storage
    folder = getattr(storage, "folder", None)
    return str(Path(folder) / name) if folder else name


def read_toc(cls: type, storage: Any, indexname: str, gen: int | None = None, schema: Any = None) -> Any:  # noqa: ANN401
    """``whoosh.index.TOC.read`` with the schema from the code and the segment list read narrowly.

    Raises :class:`IndexFormatError` naming the TOC file when its schema is
    not the code's or it holds anything the archive never writes.
    """
    from whoosh import index as whoosh_index
    from whoosh.fields import ensure_schema

    if schema is None:  # Whoosh's multiprocessing sub-writers read the TOC without one
        schema = make_schema()
    schema = ensure_schema(schema)
    if gen is None:
        gen = cls._latest_generation(storage, indexname)
        if gen < 0:
            raise whoosh_index.EmptyIndexError(f"Index {indexname!r} does not exist in {storage!r}")
    name = cls._filename(indexname, gen)
    where = _toc_path(storage, name)
    stream = storage.open_file(name)
    try:
        sizes = tuple(stream.read_varint() for _ in range(3))
        if sizes != (whoosh_index._INT_SIZE, whoosh_index._LONG_SIZE, whoosh_index._FLOAT_SIZE):  # noqa: SLF001
            raise IndexFormatError(f"{where}: written on another architecture (sizes {sizes}). {_FIX}")
        if stream.read_int() != -12345:
            raise IndexFormatError(f"{where}: byte order differs from this computer's. {_FIX}")
        version = stream.read_int()
        release = (stream.read_varint(), stream.read_varint(), stream.read_varint())
        if version != whoosh_index._CURRENT_TOC_VERSION:  # noqa: SLF001
            raise IndexFormatError(f"{where}: a Whoosh index format ({version}) the archive never writes. {_FIX}")
        stored = stream.read_string()
        if not _same_structure(stored, pickle.dumps(schema, 2)):
            raise IndexFormatError(
                f"{where}: the table of contents describes a schema other than the archive's "
                f"(damaged or tampered with); it was not loaded. {_FIX}"
            )
        if stream.read_int() != gen:
            raise IndexFormatError(f"{where}: the table of contents names another generation. {_FIX}")
        stream.read_int()  # unused
        try:
            segments = load_segments(stream.file, indexname, frozenset(schema.names()))
        except UnsafeIndexError as exc:
            raise IndexFormatError(f"{where}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - whatever the unpickler trips over in a damaged file
            raise IndexFormatError(f"{where}: damaged segment list ({type(exc).__name__}: {exc}). {_FIX}") from None
    finally:
        stream.close()
    return cls(schema, segments, gen, version=version, release=release)


class GuardedSubWriterTask(SubWriterTask):
    """Whoosh's sub-writer process, guarded also when it starts as a fresh interpreter.

    Forked sub-writers inherit :func:`install`'s changes; under the ``spawn``
    or ``forkserver`` start methods (``forkserver`` is Linux's default from
    Python 3.14) a sub-writer imports only Whoosh, and would read the TOC and
    its job files with plain pickle. Importing :mod:`archive.index.lexical` first
    installs the guard there too.
    """

    def run(self) -> None:
        install()
        super().run()


def _refuse_schema_pickle(data: bytes, **_: object) -> Any:  # noqa: ANN401
    raise UnsafeIndexError("a Whoosh schema was about to be unpickled from an index file; refusing")


_installed = False


def install() -> None:
    """Route every read Whoosh does of an index file through the loaders above (idempotent).

    A TOC read without a schema (Whoosh's multiprocessing sub-writers) gets
    the archive's (:func:`archive.index.schema.make_schema`), never the stored one.
    """
    global _installed  # noqa: PLW0603 - one process-wide patch
    if _installed:
        return
    import whoosh.codec.whoosh3
    import whoosh.columns
    import whoosh.externalsort
    import whoosh.filedb.structfile
    import whoosh.formats
    import whoosh.index
    import whoosh.multiproc

    whoosh.index.TOC.read = classmethod(read_toc)  # type: ignore[method-assign, assignment]
    whoosh.index.pickle = types.SimpleNamespace(  # type: ignore[attr-defined]
        loads=_refuse_schema_pickle, dumps=pickle.dumps, PicklingError=pickle.PicklingError
    )
    whoosh.index.toc_loaders.clear()  # old TOC formats: read with an unpickler that resolves any name
    # StructFile.read_pickle: posting block headers, column block headers, hash-table extras, compound dirs
    whoosh.filedb.structfile.load_pickle = plain_load  # type: ignore[attr-defined]
    for module in (whoosh.codec.whoosh3, whoosh.formats, whoosh.columns):
        module.loads = plain_loads  # type: ignore[attr-defined]  # posting blocks, term infos, codes, stored fields
    whoosh.externalsort.load = plain_load  # type: ignore[attr-defined]  # the writer's sorted runs of postings
    whoosh.multiproc.pickle = types.SimpleNamespace(load=load_job, dump=pickle.dump)  # type: ignore[attr-defined]
    whoosh.multiproc.SubWriterTask = GuardedSubWriterTask  # type: ignore[misc]
    _installed = True

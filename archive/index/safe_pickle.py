"""The pickles Whoosh reads from an index, read so that none can run code.

Whoosh pickles its table of contents (the schema and the segment list), its
posting blocks, term infos, position codes and stored-field column values. A
plain ``pickle.loads`` of a file someone dropped into an index directory can
call any importable function, and even an allow-list of classes is not enough
when an allowed class takes a module name (``whoosh.columns.CompressedBytesColumn``
imports its ``module`` when a column is read). So nothing the code can make
itself is unpickled, and each pickle that must be read gets the narrowest
loader that reads it:

- :func:`plain_loads` / :func:`plain_load`: plain values only (numbers, text,
  bytes, tuples, lists, dicts, sets), no name but those protocol 2 uses for
  bytes and sets; the one for bytes (``_codecs.encode``) is answered by a
  function that only turns text into latin-1 bytes (no codec looked up by
  name). Posting blocks, term infos, position codes, stored fields, column
  block headers and hash-table extras are such values.
- :func:`load_segments`: the segment list of a table of contents: only
  ``W3Segment``, ``W3Codec``, ``collections.defaultdict`` and ``int``, and the
  result is checked attribute by attribute (see :func:`check_segments`), so no
  attribute Whoosh later calls or opens can come from the file.
- :func:`load_job`: the job files Whoosh's multiprocessing writer hands its
  sub-writers (``(0, fields)`` with text and ``datetime`` values).

The schema itself is never unpickled: :func:`pickle_structure` reads a pickle
as a tree of opcodes and names without building any object, so the schema on
disk can be compared with the code's (see :mod:`archive.index.whoosh_files`).
Writing the format ourselves was the alternative; Whoosh is the lexical engine
we chose (see the developers' guide), so we keep its files and police how they
are read.
"""

from __future__ import annotations

import collections
import datetime
import io
import pickle
import pickletools
import re
from collections.abc import Collection
from typing import IO, Any

from ..errors import IndexFormatError


class UnsafeIndexError(IndexFormatError, pickle.UnpicklingError):
    """An index file names something that may run code when unpickled, or holds what the archive never writes."""


_FIX = "refusing to load it (the index may have been tampered with). Fix: archive build --full"


def _latin1(text: object, encoding: object = "latin1") -> bytes:
    """What protocol 2's ``_codecs.encode(text, "latin1")`` means, and nothing else (no codec lookup)."""
    if type(text) is not str or encoding not in ("latin1", "latin-1"):
        raise UnsafeIndexError(f"an index file encodes bytes as {encoding!r}, which pickle never writes; {_FIX}")
    return text.encode("latin1")


def _empty_bytes(*args: object) -> bytes:
    """What protocol 2's ``bytes()`` (its pickle of ``b""``) means; ``bytes(n)`` would allocate n bytes."""
    if args:
        raise UnsafeIndexError(f"an index file builds bytes from {len(args)} arguments, which pickle never writes; {_FIX}")
    return b""


_PLAIN_NAMES: dict[tuple[str, str], object] = {
    ("_codecs", "encode"): _latin1,
    ("builtins", "bytes"): _empty_bytes,
    ("__builtin__", "bytes"): _empty_bytes,
    **{(module, name): kind for module in ("builtins", "__builtin__") for name, kind in (("set", set), ("frozenset", frozenset))},
}
"""The names protocol 2 uses for plain values: bytes (as latin-1 text, or ``bytes()`` when empty) and sets."""


class _PlainUnpickler(pickle.Unpickler):
    """The C unpickler with no names but those of :data:`_PLAIN_NAMES`: no other callable reaches its stack.

    ``REDUCE`` can only turn text into bytes or an iterable into a set, and
    ``BUILD`` cannot set attributes of a built-in type or of its instances.
    """

    def find_class(self, module: str, name: str) -> Any:  # noqa: ANN401 - pickle's protocol
        if (module, name) in _PLAIN_NAMES:
            return _PLAIN_NAMES[(module, name)]
        raise UnsafeIndexError(f"an index file refers to {module}.{name} where it holds plain values only; {_FIX}")

    def persistent_load(self, pid: object) -> Any:  # noqa: ANN401 - pickle's protocol
        raise UnsafeIndexError(f"an index file refers to an outside object; {_FIX}")


def plain_loads(data: bytes, **_: object) -> Any:  # noqa: ANN401 - any plain value
    """``pickle.loads`` of plain values only (posting blocks, term infos, stored fields)."""
    return _PlainUnpickler(io.BytesIO(data)).load()


def plain_load(file: IO[bytes], **_: object) -> Any:  # noqa: ANN401 - any plain value
    """``pickle.load`` of plain values only (block headers and extras Whoosh reads from a file)."""
    return _PlainUnpickler(file).load()


class _NamedUnpickler(pickle._Unpickler):  # noqa: SLF001 - the Python one: its BUILD can be overridden
    """An unpickler resolving only ``names``; it refuses ``BUILD`` on a class.

    ``BUILD`` with a ``(None, {...})`` state calls ``setattr`` on its target: on
    a class, one tampered file would change that class for the whole process.
    """

    names: dict[tuple[str, str], object] = {}
    dispatch = dict(pickle._Unpickler.dispatch)  # noqa: SLF001

    def load_build(self) -> None:
        if isinstance(self.stack[-2], type):
            raise UnsafeIndexError(f"an index file sets attributes of a class, which an archive index never does; {_FIX}")
        super().load_build()

    dispatch[pickle.BUILD[0]] = load_build

    def find_class(self, module: str, name: str) -> Any:  # noqa: ANN401 - pickle's protocol
        try:
            return self.names[(module, name)]
        except KeyError:
            raise UnsafeIndexError(f"an index file refers to {module}.{name}, which it never holds there; {_FIX}") from None

    def persistent_load(self, pid: object) -> Any:  # noqa: ANN401 - pickle's protocol
        raise UnsafeIndexError(f"an index file refers to an outside object; {_FIX}")


def _segment_names() -> dict[tuple[str, str], object]:
    from whoosh.codec.whoosh3 import W3Codec, W3Segment

    return {
        ("whoosh.codec.whoosh3", "W3Segment"): W3Segment,
        ("whoosh.codec.whoosh3", "W3Codec"): W3Codec,
        ("collections", "defaultdict"): collections.defaultdict,
        ("builtins", "int"): int,
        ("__builtin__", "int"): int,
        ("_codecs", "encode"): _latin1,
    }


_SEGMENT_ID = re.compile(r"[0-9a-z]{1,64}")
_SEGMENT_REQUIRED = {"indexname", "segid", "_codec", "_doccount", "_deleted", "compound"}
_SEGMENT_OPTIONAL = {"_fieldlengths"}
_CODEC_ATTRS = {"_blocklimit", "_compression", "_inlinelimit"}


def _is_count(value: object) -> bool:
    return type(value) is int and value >= 0


def check_segments(segments: object, indexname: str, fields: Collection[str]) -> list[Any]:
    """``segments`` if it is a list of segments as the archive writes them, else :class:`UnsafeIndexError`.

    Every attribute is checked by name, type and range: an extra attribute on
    a segment or codec would shadow a method or a file extension Whoosh uses
    (``codec``, ``TERMS_EXT``...), a segment id or index name could point
    outside the index, and a ``defaultdict`` factory other than ``int`` would
    be called.
    Field names must be those of the code's schema (``fields``).
    """
    from whoosh.codec.whoosh3 import W3Codec, W3Segment

    def bad(what: str) -> UnsafeIndexError:
        return UnsafeIndexError(f"the segment list of an index holds {what}, which the archive never writes; {_FIX}")

    if type(segments) is not list:
        raise bad(f"a {type(segments).__name__} instead of a list")
    for segment in segments:
        if type(segment) is not W3Segment:
            raise bad(f"a {type(segment).__name__}")
        attrs = vars(segment)
        if not _SEGMENT_REQUIRED <= attrs.keys() <= _SEGMENT_REQUIRED | _SEGMENT_OPTIONAL:
            raise bad(f"a segment with attributes {sorted(attrs)}")
        if type(attrs["indexname"]) is not str or attrs["indexname"] != indexname:
            raise bad(f"a segment of index {str(attrs['indexname'])[:40]!r}")
        if type(attrs["segid"]) is not str or not _SEGMENT_ID.fullmatch(attrs["segid"]):
            raise bad(f"a segment id {str(attrs['segid'])[:40]!r}")
        if type(attrs["compound"]) is not bool:  # a compound file's directory is read as plain values too
            raise bad(f"a compound flag of type {type(attrs['compound']).__name__}")
        if not _is_count(attrs["_doccount"]):
            raise bad(f"a document count of {str(attrs['_doccount'])[:40]}")
        deleted = attrs["_deleted"]
        if deleted is not None and not (type(deleted) is set and all(_is_count(n) for n in deleted)):
            raise bad("deleted documents that are not document numbers")
        codec = attrs["_codec"]
        if type(codec) is not W3Codec or vars(codec).keys() != _CODEC_ATTRS or not all(map(_is_count, vars(codec).values())):
            raise bad("a codec other than Whoosh's W3Codec with its three numbers")
        lengths = attrs.get("_fieldlengths", collections.defaultdict(int))
        if (
            type(lengths) is not collections.defaultdict
            or lengths.default_factory is not int
            or not all(type(k) is str and k in fields and _is_count(v) for k, v in lengths.items())
        ):
            raise bad("field lengths other than counts of the archive's fields")
    return segments


def load_segments(file: IO[bytes], indexname: str, fields: Collection[str]) -> list[Any]:
    """The segment list pickled in a table of contents, resolved and checked narrowly (see the module doc)."""

    class _Segments(_NamedUnpickler):
        names = _segment_names()

    return check_segments(_Segments(file).load(), indexname, fields)


class _JobUnpickler(pickle.Unpickler):
    """Plain values and ``datetime.datetime`` (the multiprocessing writer's documents).

    ``BUILD`` on the ``datetime`` class fails by itself (a built-in type takes
    no attributes), so the C unpickler is safe here.
    """

    def find_class(self, module: str, name: str) -> Any:  # noqa: ANN401 - pickle's protocol
        if (module, name) in _PLAIN_NAMES:
            return _PLAIN_NAMES[(module, name)]
        if (module, name) == ("datetime", "datetime"):
            return datetime.datetime
        raise UnsafeIndexError(f"a job file of the index writer refers to {module}.{name}; {_FIX}")

    def persistent_load(self, pid: object) -> Any:  # noqa: ANN401 - pickle's protocol
        raise UnsafeIndexError(f"a job file of the index writer refers to an outside object; {_FIX}")


def load_job(file: IO[bytes], **_: object) -> Any:  # noqa: ANN401 - a (code, fields) tuple
    """``pickle.load`` for Whoosh's multiprocessing job files: plain values and datetimes."""
    return _JobUnpickler(file).load()


# ----------------------------------------------------------------- structure


_PUSH_ARG = frozenset(
    {
        "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
        "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE",
        "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8",
    }
)
_CONSTANTS = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False, "EMPTY_TUPLE": ()}
_MARK = object()


def pickle_structure(data: bytes) -> object:
    """The tree a pickle describes, read opcode by opcode without importing, calling or building anything.

    Names stay names (``("global", module, name)``), calls stay calls, and
    shared references are followed, so two pickles of equal objects give equal
    trees even when their memo layout differs (Whoosh's TOC after an update
    re-pickles an unpickled schema: same objects, other bytes). An opcode the
    reader does not know raises :class:`UnsafeIndexError`.
    """
    stack: list[Any] = []
    memo: dict[int, Any] = {}

    def pop_mark() -> list[Any]:
        i = len(stack) - 1 - stack[::-1].index(_MARK)
        items = stack[i + 1 :]
        del stack[i:]
        return items

    try:
        for op, arg, _pos in pickletools.genops(data):
            name = op.name
            if name in ("PROTO", "FRAME"):
                continue
            if name == "STOP":
                break
            if name in _PUSH_ARG:
                stack.append(arg)
            elif name in _CONSTANTS:
                stack.append(_CONSTANTS[name])
            elif name == "EMPTY_LIST":
                stack.append(["list"])
            elif name == "EMPTY_DICT":
                stack.append(["dict"])
            elif name == "EMPTY_SET":
                stack.append(["set"])
            elif name == "MARK":
                stack.append(_MARK)
            elif name in ("TUPLE", "FROZENSET"):
                items = pop_mark()
                stack.append(tuple(items) if name == "TUPLE" else ("frozenset", *items))
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                n = int(name[-1])
                items = tuple(stack[-n:])
                del stack[-n:]
                stack.append(items)
            elif name in ("LIST", "DICT"):
                stack.append([name.lower(), *pop_mark()])
            elif name == "APPEND":
                value = stack.pop()
                stack[-1].append(value)
            elif name in ("APPENDS", "SETITEMS", "ADDITEMS"):
                items = pop_mark()
                stack[-1].extend(items)
            elif name == "SETITEM":
                value = stack.pop()
                key = stack.pop()
                stack[-1].extend((key, value))
            elif name == "GLOBAL":
                module, _, attr = arg.partition(" ")
                stack.append(("global", module, attr))
            elif name == "STACK_GLOBAL":
                attr = stack.pop()
                stack.append(("global", stack.pop(), attr))
            elif name in ("REDUCE", "NEWOBJ"):
                args = stack.pop()
                stack.append([name, stack.pop(), args])
            elif name == "BUILD":  # sets the state of the object every reference to it shares
                state = stack.pop()
                stack[-1].append(("BUILD", state))
            elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
                memo[int(arg)] = stack[-1]
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif name in ("BINGET", "LONG_BINGET", "GET"):
                stack.append(memo[int(arg)])
            elif name == "POP":
                stack.pop()
            else:
                raise UnsafeIndexError(f"a pickle in the index uses the {name} opcode, which the archive never writes; {_FIX}")
    except (ValueError, IndexError, KeyError, TypeError, AttributeError) as exc:
        raise UnsafeIndexError(f"an index file holds a damaged pickle ({exc}); {_FIX}") from None
    if len(stack) != 1:
        raise UnsafeIndexError(f"an index file holds a damaged pickle; {_FIX}")
    return stack[0]

"""Nearest-neighbour search over L2-normalized float32 vectors (inner product = cosine).

:meth:`VectorIndex.build` picks one of two kinds:

- ``flat``, exact: a matrix product over the vectors, kept as a plain
  ``vectors.npy``. Up to ``exact_max`` rows (50k: 1 to 2 ms a query at 384
  dimensions on two cores; 100k take 3 to 5 ms). Measured against FAISS
  ``IndexFlatIP`` on 30k x 384, numpy is faster warm (0.9 against 1.6 ms a
  query) and cold: the memory-mapped ``np.load`` opens in 1 ms and answers
  its first query in ~30 ms, where FAISS takes ~40 ms to import and ~35 ms to
  read the file (or maps it with ``IO_FLAG_MMAP_IFC``, and then spends ~330 ms
  on the first query).
- ``hnsw``: FAISS ``IndexHNSWFlat``, inner product, M 32, efConstruction 200.
  Its ``efSearch`` is calibrated at build time: the smallest of
  :data:`EF_LADDER` whose recall@10 against exact search, on the last rows
  held out of the graph until then, reaches :data:`CALIBRATION_RECALL`.
  Vectors without neighbourhood structure (uniform random ones in 384
  dimensions need efSearch 2048 for 0.98, slower than exact search) reach it
  at no efSearch worth paying; such an index stays exact, the only way to keep
  the recall. An HNSW index is memory-mapped on load (``IO_FLAG_MMAP_IFC``):
  at 210k x 512 (488 MB) reading it whole took 0.27 s of every new process,
  mapping it 12 ms, and the first query on the mapping 16 ms instead of 11
  (file in the OS cache, as for any search after the first); the pages are
  the OS cache's, shared by every process searching the same index, and an
  index is never written in place (a new generation is a new file), so a
  mapping stays valid while it is open. A new process maps only the vectors at
  the end of the file at first, without importing FAISS (:func:`_tail_vectors`):
  semantic and hybrid queries take their nearest articles from the exact scores
  of every passage, and the graph is read when a search needs it (related
  articles, :meth:`VectorIndex.search`), from the file held open since.

Filtered search takes the rows a filter allows. An allowed set of at most
:data:`FILTER_EXACT_MAX` rows is scored exactly (complete, and cheap). A larger
one goes to HNSW as an ``IDSelectorBitmap`` with ``efSearch`` widened by the
share of rows rejected (the walk passes through them), and any query answered
with fewer hits than the filter allows is redone exactly: a selective filter
never loses results.

FAISS's thread count is left alone: it parallelizes over queries, a single
query runs on one thread whatever the setting (measured: 0.12 ms either way),
and a batch runs twice as fast on both cores.

On disk a directory holds ``index.json`` (format version, kind, dim, count,
parameters) and ``vectors.npy`` or ``index.faiss``, written into a temporary
directory and swapped in, so a crash never leaves half an index.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import npy
from ..errors import IndexFormatError
from ..fsync import fsync_tree

if TYPE_CHECKING:
    import faiss

VECTORS_FORMAT = 2
EXACT_MAX = 50_000
HNSW_MIN = 1_000
"""Fewer rows than this are always searched exactly, whatever ``exact_max`` says."""
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
EF_LADDER = (64, 96, 128, 192, 256, 384, 512)
"""``efSearch`` values tried in turn at build time; above 512, exact search is as fast."""
CALIBRATION_RECALL = 0.99
"""Recall@10 the calibration sample must reach (a margin over the 0.98 promised)."""
CALIBRATION_QUERIES = 200
FILTER_EXACT_MAX = 20_000
"""An allowed set this small is scored exactly: complete, and 4 ms at most at 384 dimensions."""
FILTER_EF_MAX = 2048
"""Cap of the widened ``efSearch`` of a filtered HNSW search (about 4 ms)."""
_SIMS_PER_CHUNK = 1 << 24
"""Exact search scores queries in chunks of at most this many similarities (64 MB)."""

_META = "index.json"
_NPY = "vectors.npy"
_FAISS = "index.faiss"


class VectorIndex:
    """Top-k inner-product search over unit vectors; rows are insertion order."""

    def __init__(
        self, *, vectors: np.ndarray | None = None, hnsw: faiss.IndexHNSWFlat | None = None,
        params: dict[str, Any] | None = None, graph_file: _HeldFile | None = None,
    ) -> None:
        """Use :meth:`build` or :meth:`load`: either the matrix, or an HNSW index and its parameters,
        or the matrix mapped from an HNSW file (``graph_file``) whose graph is read on first use."""
        self._hnsw = hnsw
        self._graph_file = graph_file
        self.params: dict[str, Any] = dict(params or {})
        """What the sidecar records: for HNSW, M, efConstruction, efSearch and the calibration recall."""
        if hnsw is not None:
            vectors = _graph_vectors(hnsw)
        assert vectors is not None
        self._vectors = vectors
        self.kind = "flat" if hnsw is None and graph_file is None else "hnsw"
        self.dim = int(vectors.shape[1])

    def graph(self) -> faiss.IndexHNSWFlat | None:
        """The HNSW graph (``None`` for an exact index), read from its file on first use.

        Raises :class:`IndexFormatError` when the file holds no inner-product HNSW graph of
        these vectors.
        """
        held = self._graph_file
        if self._hnsw is None and held is not None:
            loaded = _load_hnsw(held.path, self.params, mmap=True, name=held.readable_name())
            if (loaded.dim, len(loaded)) != (self.dim, len(self)):
                raise IndexFormatError(f"{held.path}: the graph holds {len(loaded)} x {loaded.dim} vectors, "
                                       f"the file's vectors are {len(self)} x {self.dim}. Fix: archive build --full")
            self._hnsw = loaded._hnsw
            self._vectors = loaded._vectors
            self._graph_file = None
            held.close()
        return self._hnsw

    def __len__(self) -> int:
        return int(self._vectors.shape[0])

    def matrix(self) -> np.ndarray:
        """The indexed vectors, ``[n, dim]``, row order (read-only)."""
        return self._vectors

    @property
    def ef_search(self) -> int:
        """HNSW ``efSearch`` (0 for exact search)."""
        return int(self.params.get("efSearch", 0))

    # ------------------------------------------------------------------ build
    @classmethod
    def build(cls, vectors: np.ndarray, *, exact_max: int | None = None) -> VectorIndex:
        """Index ``vectors`` (``[n, dim]``, unit rows): exact up to ``exact_max`` rows (default
        :data:`EXACT_MAX`), else HNSW.

        An exact index keeps ``vectors`` itself when it is float32 and contiguous
        (no copy): do not change it afterwards. Building HNSW over 100k x 384
        clustered vectors takes ~17 s on two cores.
        """
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] < 1:
            raise ValueError(f"vectors must be [n, dim], got shape {vectors.shape}")
        if len(vectors) <= max(EXACT_MAX if exact_max is None else exact_max, HNSW_MIN):
            return cls(vectors=vectors)
        import faiss

        hnsw = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        held = min(CALIBRATION_QUERIES, len(vectors) // 10)
        hnsw.add(vectors[:-held])
        ef, recall = _calibrate(hnsw, vectors[:-held], vectors[-held:])
        if ef is None:
            return cls(vectors=vectors)
        hnsw.add(vectors[-held:])
        params = {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION, "efSearch": ef, "calibrationRecall": recall}
        return cls(hnsw=hnsw, params=params)

    def add(self, vectors: np.ndarray) -> None:
        """Append ``vectors`` (unit rows) as the next rows, in place.

        HNSW inserts them into the graph (its ``efSearch`` stays the calibrated
        one); needs an index loaded with ``mmap=False``, since a mapping is
        read-only. An exact index grows by a copy.
        """
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"vectors must be [n, {self.dim}], got shape {vectors.shape}")
        if not len(vectors):
            return
        graph = self.graph()
        if graph is None:
            self._vectors = np.concatenate([self._vectors, vectors])
            return
        graph.add(vectors)  # may move the storage: earlier views of it are not used again
        self._vectors = _graph_vectors(graph)
        self.params["appended"] = int(self.params.get("appended", 0)) + len(vectors)

    # ----------------------------------------------------------------- search
    def search(
        self, queries: np.ndarray, k: int, *, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, rows)``, each ``[nq, k]``, best first; past the last hit rows are -1, scores -inf.

        ``queries`` is ``[nq, dim]`` or one ``[dim]`` vector. ``allowed``
        (row ids, ascending) restricts the search to those rows.
        """
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise ValueError(f"queries must be [nq, {self.dim}], got shape {queries.shape}")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if allowed is not None:
            allowed = _check_allowed(allowed, len(self))
        if self.kind == "flat" or (allowed is not None and len(allowed) <= FILTER_EXACT_MAX):
            return _exact(self._vectors, queries, k, allowed)
        return self._search_hnsw(queries, k, allowed)

    def _search_hnsw(self, queries: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        graph = self.graph()
        assert graph is not None
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(self.ef_search, 2 * k)
        if allowed is not None:
            # The walk passes through rows the filter rejects: widen it as they grow more.
            params.efSearch = min(FILTER_EF_MAX, -(-params.efSearch * len(self) // len(allowed)))
            bitmap = np.zeros(len(self), dtype=bool)
            bitmap[allowed] = True
            bits = np.packbits(bitmap, bitorder="little")  # kept alive until the search returns
            params.sel = faiss.IDSelectorBitmap(len(self), faiss.swig_ptr(bits))
        scores, rows = graph.search(queries, k, params=params)
        scores[rows < 0] = -np.inf
        if allowed is not None:  # a filter can starve the graph walk: redo short answers exactly
            short = np.flatnonzero((rows >= 0).sum(axis=1) < min(k, len(allowed)))
            if len(short):
                scores[short], rows[short] = _exact(self._vectors, queries[short], k, allowed)
        return scores, rows

    # ------------------------------------------------------------ save / load
    def save(self, directory: Path) -> None:
        """Write the index into ``directory`` (replacing what is there) atomically."""
        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
        try:
            _readable_by_all_who_may(tmp)
            graph = self.graph()
            if graph is None:
                np.save(tmp / _NPY, np.asarray(self._vectors), allow_pickle=False)
            else:
                import faiss

                faiss.write_index(graph, str(tmp / _FAISS))
            meta = {"format": VECTORS_FORMAT, "kind": self.kind, "dim": self.dim, "count": len(self),
                    "params": self.params}
            (tmp / _META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
            fsync_tree(tmp)  # on disk before the directory is swapped in
            _swap_in(tmp, directory)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path, *, mmap: bool = True) -> VectorIndex:
        """Open a saved index, memory-mapped unless ``mmap`` is false (then read whole).

        Raises :class:`IndexFormatError` when the directory is missing, corrupt,
        inconsistent or of another format version.
        """
        directory = Path(directory)
        fix = "Fix: archive build --full"
        try:
            meta = json.loads((directory / _META).read_text(encoding="utf-8"))
            if meta["format"] != VECTORS_FORMAT:
                raise IndexFormatError(
                    f"{directory}: vector index format {meta['format']}, expected {VECTORS_FORMAT}. {fix}"
                )
            kind, params, dim, count = meta["kind"], dict(meta["params"]), int(meta["dim"]), int(meta["count"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexFormatError(f"{directory}: vector index metadata unreadable ({exc!r}). {fix}") from None
        if kind == "flat":
            index = _load_flat(directory / _NPY, mmap)
        elif kind == "hnsw":
            tail = _tail_vectors(directory / _FAISS, count, dim) if mmap else None
            if tail is not None:  # the graph is read when a search needs it (see _tail_vectors)
                _check_ef_search(directory / _FAISS, params)
                index = cls(vectors=tail, params=params, graph_file=_HeldFile(directory / _FAISS))
            else:
                index = _load_hnsw(directory / _FAISS, params, mmap)
        else:
            raise IndexFormatError(f"{directory}: unknown vector index kind {kind!r}. {fix}")
        if (index.dim, len(index)) != (dim, count):
            raise IndexFormatError(
                f"{directory}: vector file holds {len(index)} x {index.dim}, metadata says {count} x {dim}. {fix}"
            )
        return index


_HNSW_FLAT_FOURCC = b"IHNf"


def _tail_vectors(path: Path, count: int, dim: int) -> np.ndarray | None:
    """The vectors of an HNSW file as a read-only mapping, without importing FAISS; ``None`` when the
    file is not laid out as expected (the caller then reads it with FAISS).

    Why: a semantic or hybrid query scores every passage for the similarity floor and takes its
    nearest articles from those exact scores, so a new process needs only the vectors; importing
    FAISS and mapping the graph cost more than the rest of a cold query's semantic side. FAISS writes
    an ``IndexHNSWFlat`` as its four-letter code, ``d`` (int32) and ``ntotal`` (int64), the graph,
    then the flat storage, whose codes end the file preceded by their float count (uint64): all
    four are checked here, so another layout (or another FAISS version's) falls back to FAISS.
    """
    floats = count * dim
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(16)
            if size < 16 + 8 + 4 * floats:
                return None
            f.seek(size - 4 * floats - 8)
            stated = int.from_bytes(f.read(8), "little")
    except OSError:
        return None
    if (head[:4] != _HNSW_FLAT_FOURCC or int.from_bytes(head[4:8], "little", signed=True) != dim
            or int.from_bytes(head[8:16], "little", signed=True) != count or stated != floats or not floats):
        return None
    return np.asarray(np.memmap(path, dtype=np.float32, mode="r", offset=size - 4 * floats, shape=(count, dim)))


def _graph_vectors(hnsw: faiss.IndexHNSWFlat) -> np.ndarray:
    """The vectors an HNSW graph stores, ``[n, dim]``, read-only, as an array that keeps the graph
    (and its file mapping) alive."""
    import faiss

    flat = faiss.downcast_index(hnsw.storage)
    view = faiss.rev_swig_ptr(flat.get_xb(), hnsw.ntotal * hnsw.d).reshape(hnsw.ntotal, hnsw.d)
    vectors = np.asarray(_Owned(view, hnsw))
    vectors.flags.writeable = False  # may be a read-only mapping: a write would crash
    return vectors


class _Owned:
    """A view of memory FAISS owns, with a reference to its owner: an array made from it keeps
    the owner alive, so the vectors stay readable after the :class:`VectorIndex` is dropped
    (a bare ``rev_swig_ptr`` view would read freed or unmapped memory and crash)."""

    def __init__(self, view: np.ndarray, owner: object) -> None:
        self.__array_interface__ = view.__array_interface__
        self._view = view
        self._owner = owner


def _readable_by_all_who_may(directory: Path) -> None:
    """Give a ``mkdtemp`` directory (mode 0700) the mode ``mkdir`` would (0777 less the umask), so
    that an index shared read-only with other users stays searchable by them."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(directory, 0o777 & ~umask)


def _load_flat(path: Path, mmap: bool) -> VectorIndex:
    try:
        vectors = npy.load(path, mmap=mmap)
    except (OSError, ValueError, EOFError) as exc:
        if mmap and "empty" in str(exc):  # numpy cannot map an empty array: read it
            return _load_flat(path, mmap=False)
        reason = "not a .npy file" if "pickle" in str(exc) else str(exc)
        raise IndexFormatError(f"{path}: corrupt vector file ({reason}). Fix: archive build --full") from None
    if vectors.dtype != np.float32 or vectors.ndim != 2:
        raise IndexFormatError(f"{path}: holds {vectors.dtype} {vectors.shape}, expected float32 [n, dim]")
    return VectorIndex(vectors=np.asarray(vectors))


def _check_ef_search(path: Path, params: dict[str, Any]) -> None:
    if not isinstance(params.get("efSearch"), int) or params["efSearch"] < 1:
        raise IndexFormatError(f"{path}: the metadata gives no efSearch. Fix: archive build --full")


class _HeldFile:
    """A file kept open from when an index is opened, so that its graph can still be read after a
    newer generation has deleted the file (as its mapped vectors can): read through
    ``/proc/self/fd`` where the system has it, else by its path."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = os.open(path, os.O_RDONLY)

    def readable_name(self) -> str:
        proc = f"/proc/self/fd/{self._fd}"
        return proc if self._fd is not None and os.path.exists(proc) else str(self.path)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()


def _load_hnsw(path: Path, params: dict[str, Any], mmap: bool, *, name: str | None = None) -> VectorIndex:
    """Read an HNSW file with FAISS (``name``: where to read it from, when not ``path``)."""
    import faiss

    try:
        index = faiss.read_index(name or str(path), faiss.IO_FLAG_MMAP_IFC if mmap else 0)  # see the module docstring
    except RuntimeError as exc:
        reason = re.sub(r"^Error in .*? at \S+:\d+: ", "", str(exc).strip()) or "unreadable"
        raise IndexFormatError(f"{path}: not a readable FAISS index ({reason}). Fix: archive build --full") from None
    if not isinstance(index, faiss.IndexHNSWFlat) or index.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise IndexFormatError(f"{path}: holds a {type(index).__name__}, expected an inner-product IndexHNSWFlat")
    _check_ef_search(path, params)
    return VectorIndex(hnsw=index, params=params)


def _check_allowed(allowed: np.ndarray, n: int) -> np.ndarray:
    """``allowed`` as sorted unique int64 rows, all in ``[0, n)``."""
    allowed = np.asarray(allowed, dtype=np.int64).ravel()
    if len(allowed) > 1 and not (allowed[1:] > allowed[:-1]).all():
        allowed = np.unique(allowed)
    if len(allowed) and (allowed[0] < 0 or allowed[-1] >= n):
        raise ValueError(f"allowed rows must lie in [0, {n})")
    return allowed


def _exact(
    vectors: np.ndarray, queries: np.ndarray, k: int, allowed: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top ``k`` by matrix products, over ``allowed`` rows only when given."""
    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    rows = np.full((len(queries), k), -1, dtype=np.int64)
    m = len(vectors) if allowed is None else len(allowed)
    take = min(k, m)
    if take == 0:
        return scores, rows
    # A few allowed rows are gathered; for most, scoring all rows and keeping
    # the allowed columns is cheaper than copying them.
    gather = allowed is not None and 4 * len(allowed) < len(vectors)
    if gather:
        vectors = vectors[allowed]
    step = max(1, _SIMS_PER_CHUNK // len(vectors))
    for q in range(0, len(queries), step):
        sims = queries[q : q + step] @ vectors.T
        if allowed is not None and not gather:
            sims = sims[:, allowed]
        top = np.argpartition(-sims, take - 1, axis=1)[:, :take] if take < m else np.tile(np.arange(m), (len(sims), 1))
        top_sims = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-top_sims, axis=1, kind="stable")
        scores[q : q + step, :take] = np.take_along_axis(top_sims, order, axis=1)
        top = np.take_along_axis(top, order, axis=1)
        rows[q : q + step, :take] = top if allowed is None else allowed[top]
    return scores, rows


def _calibrate(hnsw: faiss.IndexHNSWFlat, indexed: np.ndarray, queries: np.ndarray) -> tuple[int | None, float]:
    """The smallest ``efSearch`` of :data:`EF_LADDER` reaching :data:`CALIBRATION_RECALL` (None if
    none does) and the recall@10 measured with it (with the last one tried, for None).

    ``queries`` are rows held out of the graph (the last ones, added after
    calibration): rows already in it are found too easily to stand for queries.
    """
    import faiss

    _, truth = _exact(indexed, queries, 10, None)
    params = faiss.SearchParametersHNSW()
    recall = 0.0
    for ef in EF_LADDER:
        params.efSearch = ef
        _, found = hnsw.search(queries, 10, params=params)
        recall = float(np.mean([len(np.intersect1d(f, t)) / len(t) for f, t in zip(found, truth)]))
        if recall >= CALIBRATION_RECALL:
            return ef, round(recall, 4)
    return None, round(recall, 4)


def _swap_in(tmp: Path, directory: Path) -> None:
    """Move the finished ``tmp`` directory to ``directory``, replacing any old one."""
    if not directory.exists():
        os.replace(tmp, directory)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old.", dir=directory.parent))
    os.replace(directory, old / "index")
    os.replace(tmp, directory)
    shutil.rmtree(old, ignore_errors=True)

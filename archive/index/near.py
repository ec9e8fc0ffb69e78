"""The near-copies store: which indexed articles are copies of one story (``near/`` of a generation).

News archives hold the same wire story printed by several outlets, each with
its own headline and small edits; identical bodies are folded at build time
already (:mod:`archive.writing.building`), these are the near ones. A build
finds them (:mod:`archive.index.near_build`) and keeps here, per indexed
article, its MinHash signature and shingle count, and the pairs of articles
judged copies of one another. A *cluster* is a connected group of such pairs;
a search shows its best-ranked member and names the others
(:mod:`archive.search.folding`).

Signatures are kept so that an increment hashes only the articles it
changes: ``add`` and ``delete`` drop the rows of the articles they remove,
append the new ones, and look for pairs of the new rows only.

On disk (no pickle, nothing that can make the program run code):
``near.json`` (format version, the settings that made the signatures, the
article ids in row order and their outlets), ``signatures.npy`` (uint32, one row of
``num_perm`` values per article), ``sizes.npy`` (int32 shingles per article),
``published.npy`` (int64 seconds since the epoch, :data:`NO_DATE` for none),
``pairs.npy`` (int32 row pairs ``i < j``) and ``similarity.npy`` (float32,
each pair's estimated Jaccard similarity). The files are written into a
generation being built, so they commit atomically with the other stores and
their checksums are in its manifest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import npy
from ..errors import IndexDamagedError, IndexFormatError

NEAR_DIR = "near"
NEAR_FORMAT = 1
NO_DATE = np.iinfo(np.int64).min
_FILES = ("signatures", "sizes", "published", "pairs", "similarity")
_FIX = "Fix: archive build --full (it rewrites the index from your sources, which it never changes)"


@dataclass(frozen=True, slots=True)
class NearStore:
    """Signatures of the indexed articles and the pairs of them that are copies of one story."""

    settings: dict[str, object]
    """How the signatures were made and pairs judged (:data:`archive.index.near_build.SETTINGS`)."""
    ids: list[str]
    sources: list[str]
    """Each article's outlet, case-folded (two copies from one outlet are judged more strictly)."""
    signatures: np.ndarray
    sizes: np.ndarray
    published: np.ndarray
    pairs: np.ndarray
    similarity: np.ndarray

    @classmethod
    def empty(cls, settings: dict[str, object], num_perm: int) -> NearStore:
        """A store holding no article."""
        return cls(dict(settings), [], [], np.zeros((0, num_perm), np.uint32), np.zeros(0, np.int32),
                   np.zeros(0, np.int64), np.zeros((0, 2), np.int32), np.zeros(0, np.float32))

    def __len__(self) -> int:
        return len(self.ids)

    def without(self, ids: Iterable[str]) -> NearStore:
        """This store with the rows of ``ids`` dropped, and every pair that touched them."""
        gone = set(ids)
        keep = np.array([doc_id not in gone for doc_id in self.ids], dtype=bool)
        if keep.all():
            return self
        new_row = np.cumsum(keep) - 1
        pair_kept = keep[self.pairs[:, 0]] & keep[self.pairs[:, 1]] if len(self.pairs) else np.zeros(0, bool)
        return NearStore(
            self.settings, [i for i, k in zip(self.ids, keep.tolist()) if k],
            [s for s, k in zip(self.sources, keep.tolist()) if k], self.signatures[keep],
            self.sizes[keep], self.published[keep], new_row[self.pairs[pair_kept]].astype(np.int32),
            self.similarity[pair_kept],
        )

    def appended(
        self, ids: Sequence[str], sources: Sequence[str], signatures: np.ndarray, sizes: np.ndarray,
        published: np.ndarray, pairs: np.ndarray, similarity: np.ndarray,
    ) -> NearStore:
        """This store with rows for ``ids`` appended and ``pairs`` (rows of the result) added."""
        return NearStore(
            self.settings, [*self.ids, *ids], [*self.sources, *sources], np.concatenate([self.signatures, signatures]),
            np.concatenate([self.sizes, sizes]), np.concatenate([self.published, published]),
            np.concatenate([self.pairs, pairs.reshape(-1, 2)]).astype(np.int32),
            np.concatenate([self.similarity, similarity]).astype(np.float32),
        )

    def clusters(self) -> list[list[str]]:
        """The groups of copies (two articles or more): connected components of the pairs, each in row order."""
        parent = list(range(len(self.ids)))

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for a, b in self.pairs.tolist():
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
        groups: dict[int, list[str]] = {}
        for row in sorted({r for pair in self.pairs.tolist() for r in pair}):
            groups.setdefault(root(row), []).append(self.ids[row])
        return list(groups.values())

    def write(self, generation: Path) -> None:
        """Write the store as ``generation/near/`` (a directory that must not exist yet)."""
        directory = generation / NEAR_DIR
        directory.mkdir()
        arrays = {
            "signatures": self.signatures.astype(np.uint32, copy=False),
            "sizes": self.sizes.astype(np.int32, copy=False),
            "published": self.published.astype(np.int64, copy=False),
            "pairs": self.pairs.reshape(-1, 2).astype(np.int32, copy=False),
            "similarity": self.similarity.astype(np.float32, copy=False),
        }
        for name, array in arrays.items():
            np.save(directory / f"{name}.npy", array, allow_pickle=False)
        meta = {"format": NEAR_FORMAT, "settings": self.settings, "ids": self.ids, "sources": self.sources}
        (directory / "near.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def read(cls, generation: Path) -> NearStore | None:
        """The store of ``generation``, ``None`` when it has none (an index built before folding).

        :class:`IndexFormatError` for a store of a newer format, :class:`IndexDamagedError`
        naming the file for one that is unreadable or inconsistent.
        """
        directory = generation / NEAR_DIR
        meta_path = directory / "near.json"
        if not directory.exists():
            return None
        try:
            meta = json.loads(meta_path.read_bytes().decode("utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexDamagedError(f"{meta_path}: unreadable ({exc}). {_FIX}") from None
        if not isinstance(meta, dict) or not isinstance(meta.get("format"), int):
            raise IndexDamagedError(f"{meta_path}: the field 'format' is missing or not a whole number. {_FIX}")
        if meta["format"] > NEAR_FORMAT:
            raise IndexFormatError(f"{meta_path}: near-copies format {meta['format']}, newer than this archive "
                                   f"reads ({NEAR_FORMAT}). Fix: upgrade news-archive, or archive build --full")
        ids, sources, settings = meta.get("ids"), meta.get("sources"), meta.get("settings")
        for name, values in (("ids", ids), ("sources", sources)):
            if not isinstance(values, list) or not all(isinstance(i, str) for i in values):
                raise IndexDamagedError(f"{meta_path}: the field {name!r} is not a list of texts. {_FIX}")
        if not isinstance(settings, dict):
            raise IndexDamagedError(f"{meta_path}: the field 'settings' is not an object. {_FIX}")
        arrays = {}
        for name in _FILES:
            path = directory / f"{name}.npy"
            try:
                arrays[name] = npy.load(path)
            except (OSError, ValueError) as exc:
                raise IndexDamagedError(f"{path}: unreadable ({exc}). {_FIX}") from None
        store = cls(settings, ids, sources, **arrays)
        problem = store.problem()
        if problem:
            raise IndexDamagedError(f"{directory}: {problem}. {_FIX}")
        return store

    def problem(self) -> str | None:
        """What is inconsistent in the store's arrays (``None`` when nothing is)."""
        n = len(self.ids)
        expected = {
            "signatures": (self.signatures, np.uint32, 2), "sizes": (self.sizes, np.int32, 1),
            "published": (self.published, np.int64, 1), "pairs": (self.pairs, np.int32, 2),
            "similarity": (self.similarity, np.float32, 1),
        }
        for name, (array, dtype, ndim) in expected.items():
            if array.dtype != dtype or array.ndim != ndim:
                return (f"{name}.npy holds {array.dtype} in {array.ndim} dimension(s), "
                        f"expected {np.dtype(dtype)} in {ndim}")
        if len(self.signatures) != n or len(self.sizes) != n or len(self.published) != n or len(self.sources) != n:
            return f"holds {len(self.signatures)} signatures for {n} ids"
        if len(set(self.ids)) != n:
            return "names an article twice"
        if self.pairs.shape[1:] != (2,) or len(self.pairs) != len(self.similarity):
            return f"holds {len(self.pairs)} pairs and {len(self.similarity)} similarities"
        if len(self.pairs) and (self.pairs.min() < 0 or self.pairs.max() >= n
                                or np.any(self.pairs[:, 0] >= self.pairs[:, 1])):
            return "holds a pair of rows out of range or out of order"
        return None

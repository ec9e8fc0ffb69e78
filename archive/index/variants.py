"""Spelling variants: the classes of index terms that are one word spelled several ways.

News outlets transliterate names and loanwords each in their house style:
``ترامب`` and ``ترمب``, ``أمريكا`` and ``أميركا``. To the term index they are
different words, so a reader who types one spelling misses the stories of
the outlets that write the other. A build learns the classes from the
archive itself (:mod:`archive.index.variants_build`) and keeps them here, in
``variants.json`` of the generation; a search expands a query term to the
other members of its class, each occurrence of a variant counting
:data:`VARIANT_WEIGHT` of one of the typed form (:mod:`archive.index.terms`),
unless the term is in ``"quotes"`` or the search asks for exact words.

On disk: ``variants.json``, plain JSON (never code): ``format``
(:data:`VARIANTS_FORMAT`), the ``settings`` that learned the classes, and
``classes``, each a list of index terms (normalized and stemmed, as the term
index holds them). It is written into the generation being built, so its
size and checksum are in the generation's manifest like every other file.
An index built before variants were learned has no such file: it opens and
searches exactly as it did (no expansion), and its next ``build``, ``add`` or
``delete`` learns the classes. A file of another format is refused, with the
fix.

Bounds (a tampered file or a hostile query cannot make expansion unbounded):
a class holds at most :data:`MAX_CLASS` terms (a file with a larger one is
refused as damaged), and one query adds at most :data:`MAX_EXPANSIONS`
variant terms, in the order its words are written; the words after that are
searched as typed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import IndexDamagedError, IndexFormatError

VARIANTS_NAME = "variants.json"
VARIANTS_FORMAT = 1
MAX_CLASS = 5
"""Terms in one class at most: the learning never makes a larger one, and a file holding one is refused."""
MAX_EXPANSIONS = 16
"""Variant terms one query adds at most (each is one more posting list to read and merge)."""
VARIANT_WEIGHT = 0.5
"""An occurrence of a variant counts this much of an occurrence of the typed form (in the term's
frequency, before BM25's saturation): an article that spells the word as the reader did ranks first,
all else equal."""
_FIX = "Fix: archive build --full (it rewrites the index from your sources, which it never changes)"

Expansions = Mapping[str, tuple[str, ...]]
"""Typed index term → the variant terms a search adds for it."""


@dataclass(frozen=True, slots=True)
class VariantClasses:
    """The variant classes of one generation, and the lookup a search needs."""

    classes: tuple[tuple[str, ...], ...]
    settings: dict[str, object] = field(default_factory=dict)
    """How the classes were learned (:data:`archive.index.variants_build.SETTINGS`), kept for the record."""
    _others: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for members in self.classes:
            for term in members:
                self._others[term] = tuple(t for t in members if t != term)

    def __len__(self) -> int:
        return len(self.classes)

    def others(self, term: str) -> tuple[str, ...]:
        """The other members of ``term``'s class (empty when it has none)."""
        return self._others.get(term, ())

    def expansions(self, terms: Iterable[str], exact: Iterable[str] = ()) -> dict[str, tuple[str, ...]]:
        """The variants to add for ``terms`` (in query order), none for those in ``exact``: at most
        :data:`MAX_EXPANSIONS` variant terms in all; a term whose class would pass the bound is
        searched as typed, and so are the ones after it."""
        skip = set(exact)
        out: dict[str, tuple[str, ...]] = {}
        added = 0
        for term in terms:
            if term in skip or term in out:
                continue
            others = self.others(term)
            if not others:
                continue
            if added + len(others) > MAX_EXPANSIONS:
                break
            out[term] = others
            added += len(others)
        return out

    def write(self, generation: Path) -> None:
        """Write ``variants.json`` into ``generation`` (a generation being built)."""
        data = {"format": VARIANTS_FORMAT, "settings": self.settings, "classes": [list(c) for c in self.classes]}
        path = generation / VARIANTS_NAME
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False)
            fh.flush()
            os.fsync(fh.fileno())

    @classmethod
    def read(cls, generation: Path) -> VariantClasses | None:
        """The classes of ``generation``; ``None`` when it has none (built before variants were learned).

        Raises :class:`IndexFormatError` for another format and :class:`IndexDamagedError` for a file
        that is not the classes this code writes (unreadable, a class too large or with a term twice,
        a term in two classes), each with the fix.
        """
        path = generation / VARIANTS_NAME
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise IndexDamagedError(f"{path}: cannot read ({exc.strerror}). {_FIX}") from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except ValueError as exc:
            raise IndexDamagedError(f"{path}: unreadable ({exc}). {_FIX}") from None
        if not isinstance(data, dict):
            raise IndexDamagedError(f"{path}: not a variants object. {_FIX}")
        if data.get("format") != VARIANTS_FORMAT:
            raise IndexFormatError(f"{path}: variants format {data.get('format')!r} "
                                   f"(this archive reads {VARIANTS_FORMAT}). {_FIX}")
        classes, settings = data.get("classes"), data.get("settings", {})
        if not isinstance(classes, list) or not isinstance(settings, dict):
            raise IndexDamagedError(f"{path}: 'classes' must be a list and 'settings' an object. {_FIX}")
        seen: set[str] = set()
        for members in classes:
            if (not isinstance(members, list) or not 2 <= len(members) <= MAX_CLASS
                    or not all(isinstance(t, str) and t for t in members)):
                raise IndexDamagedError(f"{path}: a class must list 2 to {MAX_CLASS} terms, "
                                        f"not {json.dumps(members, ensure_ascii=False)[:80]}. {_FIX}")
            if seen.intersection(members) or len(set(members)) != len(members):
                raise IndexDamagedError(f"{path}: a term is in two classes or twice in one. {_FIX}")
            seen.update(members)
        return cls(tuple(tuple(c) for c in classes), settings)

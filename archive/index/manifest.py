"""``manifest.json``: what an index generation holds and the settings that built it.

Opening an index compares its manifest with this code's settings and fails
with what differs and the command that fixes it, so an index is never read
with another normalizer, analyzer or encoder than the one that wrote it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..version import __version__
from ..text.analysis import ANALYZER_SETTINGS
from ..errors import IndexDamagedError, IndexFormatError
from ..text.normalize import NORMALIZER_VERSION

if TYPE_CHECKING:
    from ..encoders.base import Encoder

FORMAT_VERSION = 11
"""11: deletions as a live mask over stable ordinals (term index format 5, ``terms/live.npy``);
10: the Whoosh schema's tokenizer is ``archive.index.schema.ArabicTokenizer`` (its table of
contents names the class, and an index that names another is refused as tampered with); 9:
``archive.lexical.ArabicTokenizer``."""
MANIFEST_NAME = "manifest.json"


def utc_now() -> str:
    """The current UTC time as ISO 8601 text, to the second (manifest timestamps)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(slots=True)
class Manifest:
    """The contents of ``manifest.json`` (JSON only, never code)."""

    documents: int
    aliases: int = 0
    encoder: str | None = None
    encoder_spec: str | None = None
    dim: int | None = None
    passages: int = 0
    """Passages with a vector in this generation."""
    pending: int = 0
    """Passages planned but not embedded yet (a build adds them lead first, see :mod:`archive.writing.embedding`)."""
    leads: int = 0
    """Lead passages planned (one per article with text), embedded or not."""
    leads_pending: int = 0
    """Of those, the ones not embedded yet."""
    passage_settings: dict[str, int] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    """The source files and folders the archive reads (absolute paths): ``archive build`` with
    no argument re-reads them, ``archive add PATH`` adds to them."""
    format_version: int = FORMAT_VERSION
    package_version: str = __version__
    normalizer: str = NORMALIZER_VERSION
    analyzer: dict[str, object] = field(default_factory=lambda: dict(ANALYZER_SETTINGS))
    built_at: str = field(default_factory=utc_now)
    updated_at: str = field(default_factory=utc_now)
    files: dict[str, dict[str, int | str]] = field(default_factory=dict)
    """Size and checksum of every other file of the generation (:mod:`archive.index.integrity`)."""
    embedding_rate: float = 0.0
    """Passages per second the archive's last embedding of many passages ran at, with its encoder
    (0: never measured); ``build --dry-run`` estimates with it (:mod:`archive.writing.choices`)."""
    engines: list[str] = field(default_factory=list)
    """What ran the encoder for the vectors of this archive (``openvino-bf16``, ``numpy``…), in the
    order first used: every engine gives the same vectors within the measured agreement, so an
    archive may hold vectors from several, and opens on any machine."""

    def record_engines(self, engines: list[str]) -> None:
        """Add ``engines`` to :attr:`engines` (each once) after they embedded passages into this archive."""
        self.engines = [*self.engines, *(e for e in dict.fromkeys(engines) if e not in self.engines)]

    @property
    def max_passages(self) -> int:
        """The archive's passage policy: passages embedded per article at most (``--passages``)."""
        from .dense import MAX_PASSAGES

        value = self.passage_settings.get("max_passages") if isinstance(self.passage_settings, dict) else None
        return value if _is_int(value) and value >= 1 else MAX_PASSAGES

    @property
    def embedding_done(self) -> bool:
        """True when every planned passage has its vector (or the archive has none: lexical only)."""
        return self.encoder is None or self.pending == 0

    @property
    def planned_passages(self) -> int:
        """Passages of the archive under its policy, embedded or not."""
        return self.passages + self.pending

    @property
    def embedded_leads(self) -> int:
        """Lead passages that have their vector."""
        return self.leads - self.leads_pending

    def write(self, directory: Path) -> None:
        """Write ``manifest.json`` into ``directory`` (fsynced: it marks the generation complete)."""
        path = directory / MANIFEST_NAME
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(asdict(self), fh, ensure_ascii=False, indent=2)
            fh.flush()
            os.fsync(fh.fileno())

    @classmethod
    def read(cls, directory: Path, *, check: bool = True) -> Manifest:
        """Read and check the manifest of ``directory``; raise :class:`IndexFormatError` if unusable.

        A manifest of another format version fails with the rebuild command;
        a damaged one (unreadable, a field missing or of the wrong type) fails
        with :class:`IndexDamagedError` naming the field.
        ``check=False`` skips the comparison with this code's settings (a build
        that replaces an index of another format still reads what it held).
        """
        path = directory / MANIFEST_NAME
        fix = "Fix: archive build --full"
        try:
            data = json.loads(path.read_bytes().decode("utf-8"))
        except FileNotFoundError:
            raise IndexDamagedError(f"{path}: missing; the index is incomplete. {fix}") from None
        except (OSError, ValueError) as exc:
            raise IndexDamagedError(f"{path}: unreadable ({exc}). {fix}") from None
        if not isinstance(data, dict):
            raise IndexDamagedError(f"{path}: not a manifest object. {fix}")
        version = data.get("format_version")
        if not _is_int(version):
            raise IndexDamagedError(f"{path}: format_version is {version!r}, not a whole number. {fix}")
        if version == FORMAT_VERSION:
            for name in cls.__dataclass_fields__:
                if name not in data:
                    if name in _OPTIONAL_FIELDS:
                        continue
                    raise IndexDamagedError(f"{path}: the field {name!r} is missing. {fix}")
                problem = _FIELD_CHECKS[name](data[name])
                if problem:
                    raise IndexDamagedError(f"{path}: field {name!r} is {_short(data[name])}, expected {problem}. {fix}")
            manifest = cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        else:  # another version: only what check() compares is needed to say so
            manifest = cls(documents=0, format_version=version)
        if check:
            manifest.check(path)
        return manifest

    def check(self, path: Path) -> None:
        """Fail loudly when this index was built with settings this code does not use.

        The one place compatibility is decided: opening, updating and
        re-building an index all ask it (format, normalizer, analyzer and, for
        an index with vectors, how articles were cut into passages).
        """
        differences = []
        if self.format_version != FORMAT_VERSION:
            differences.append(f"format version {self.format_version} (this archive reads {FORMAT_VERSION})")
        if self.normalizer != NORMALIZER_VERSION:
            differences.append(f"normalizer {self.normalizer!r} (this archive uses {NORMALIZER_VERSION!r})")
        built = self.analyzer if isinstance(self.analyzer, dict) else {}
        for key, wanted in ANALYZER_SETTINGS.items():  # analyzer version, stop words, stemmer, grams
            if built.get(key) != wanted:
                differences.append(f"{key} {built.get(key)!r} (this archive uses {wanted!r})")
        if self.encoder is not None:  # passages cut another way would mix two formats in one index
            from .dense import passage_settings

            wanted = passage_settings(self.max_passages)  # the passage policy is the archive's own choice
            if self.passage_settings != wanted:
                differences.append(f"passage settings {self.passage_settings} (this archive uses {wanted})")
        if differences:
            raise IndexFormatError(
                f"{path}: index built with " + "; ".join(differences)
                + ". Fix: rebuild it with `archive build --full` (your sources are not touched)"
            )

    def check_encoder(self, encoder: Encoder, path: Path) -> None:
        """Fail loudly when ``encoder`` is not the one this index's vectors were made with."""
        if encoder.name != self.encoder or encoder.dim != self.dim:
            raise IndexFormatError(
                f"{path}: built with encoder {self.encoder} ({self.dim} dims), "
                f"but searching with {encoder.name} ({encoder.dim} dims). "
                f"Fix: archive build --full --encoder {self.encoder_spec or encoder.name}, "
                "or search with the encoder it was built with"
            )

    def load_encoder(self, path: Path) -> Encoder | None:
        """The encoder this index was built with, loaded from the registry and checked
        (``None`` for a lexical-only index)."""
        if self.encoder is None:
            return None
        from ..encoders.registry import get_encoder

        encoder = get_encoder(self.encoder_spec or self.encoder)
        if encoder is None:  # pragma: no cover - the manifest names an encoder
            raise IndexFormatError(f"{path}: the manifest names no usable encoder")
        self.check_encoder(encoder, path)
        return encoder


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _count(value: object) -> str | None:
    return None if _is_int(value) and value >= 0 else "a whole number >= 0"


def _text(value: object) -> str | None:
    return None if isinstance(value, str) else "text"


def _optional_text(value: object) -> str | None:
    return None if value is None or isinstance(value, str) else "text or null"


def _optional_dim(value: object) -> str | None:
    return None if value is None or (_is_int(value) and value > 0) else "a whole number > 0 or null"


def _int_map(value: object) -> str | None:
    ok = isinstance(value, dict) and all(_is_int(v) for v in value.values())
    return None if ok else "an object of whole numbers"


def _object(value: object) -> str | None:
    return None if isinstance(value, dict) else "an object"


def _files(value: object) -> str | None:
    from .integrity import CHECKSUM

    expected = f'an object of {{"size": bytes, "{CHECKSUM}": hex}} per file'
    if not isinstance(value, dict):
        return expected
    for name, entry in value.items():
        if (
            not isinstance(entry, dict)
            or _count(entry.get("size")) is not None
            or not isinstance(entry.get(CHECKSUM), str)
            or name.startswith("/")
            or ".." in name.split("/")
        ):
            return expected
    return None


def _rate(value: object) -> str | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < float("inf")
    return None if ok else "a number >= 0"


def _text_list(value: object) -> str | None:
    return None if isinstance(value, list) and all(isinstance(v, str) for v in value) else "a list of paths"


_FIELD_CHECKS = {
    "sources": _text_list,
    "documents": _count,
    "aliases": _count,
    "encoder": _optional_text,
    "encoder_spec": _optional_text,
    "dim": _optional_dim,
    "passages": _count,
    "pending": _count,
    "leads": _count,
    "leads_pending": _count,
    "passage_settings": _int_map,
    "format_version": _count,
    "package_version": _text,
    "normalizer": _text,
    "analyzer": _object,
    "built_at": _text,
    "updated_at": _text,
    "files": _files,
    "embedding_rate": _rate,
    "engines": _text_list,
}
_OPTIONAL_FIELDS = frozenset({"embedding_rate", "engines"})
"""Fields added within a format version: a manifest written before them is whole without them."""

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

from . import __version__
from .analysis import ANALYZER_SETTINGS
from .errors import IndexFormatError
from .normalize import NORMALIZER_VERSION

FORMAT_VERSION = 7
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
    passage_settings: dict[str, int] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    package_version: str = __version__
    normalizer: str = NORMALIZER_VERSION
    analyzer: dict[str, object] = field(default_factory=lambda: dict(ANALYZER_SETTINGS))
    built_at: str = field(default_factory=utc_now)
    updated_at: str = field(default_factory=utc_now)

    def write(self, directory: Path) -> None:
        """Write ``manifest.json`` into ``directory`` (fsynced: it marks the generation complete)."""
        path = directory / MANIFEST_NAME
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(asdict(self), fh, ensure_ascii=False, indent=2)
            fh.flush()
            os.fsync(fh.fileno())

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        """Read and check the manifest of ``directory``; raise :class:`IndexFormatError` if unusable."""
        path = directory / MANIFEST_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise IndexFormatError(f"{path}: missing; the index is incomplete. Fix: archive build --full") from None
        except (OSError, ValueError) as exc:
            raise IndexFormatError(f"{path}: unreadable ({exc}). Fix: archive build --full") from None
        if not isinstance(data, dict):
            raise IndexFormatError(f"{path}: not a manifest object. Fix: archive build --full")
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        try:
            manifest = cls(**known)
        except TypeError as exc:
            raise IndexFormatError(f"{path}: {exc}. Fix: archive build --full") from None
        manifest.check(path)
        return manifest

    def check(self, path: Path) -> None:
        """Fail loudly when this index was built with settings this code does not use."""
        differences = []
        if self.format_version != FORMAT_VERSION:
            differences.append(f"format version {self.format_version} (this archive reads {FORMAT_VERSION})")
        if self.normalizer != NORMALIZER_VERSION:
            differences.append(f"normalizer {self.normalizer!r} (this archive uses {NORMALIZER_VERSION!r})")
        built = self.analyzer if isinstance(self.analyzer, dict) else {}
        for key, wanted in ANALYZER_SETTINGS.items():  # analyzer version, stop words, stemmer, grams
            if built.get(key) != wanted:
                differences.append(f"{key} {built.get(key)!r} (this archive uses {wanted!r})")
        if differences:
            raise IndexFormatError(
                f"{path}: index built with " + "; ".join(differences)
                + ". Fix: rebuild it with `archive build --full` (your sources are not touched)"
            )

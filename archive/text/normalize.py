"""Arabic text normalization for search: one function, versioned.

Index and query text pass through the same :func:`normalize`, so spelling
variants that readers treat as one word meet in the index:

* NFKC first, which splits presentation forms (lam-alef ligatures included)
  into base letters and composes alef + combining hamza into one letter;
* bidi and zero-width controls, tatweel and every Arabic combining mark
  (tashkeel, shadda, sukun, dagger alef, Quranic marks: pyarabic's
  ``DIACRITICS``) are removed;
* alef forms أ إ آ ٱ → ا; ى → ي; ة → ه; Persian/Urdu letter variants → Arabic;
  Arabic-Indic and Persian digits → ASCII.

Decisions on pyarabic's pitfalls (tested in ``tests/test_normalize.py``):

* pyarabic's ``normalize_alef`` and ``normalize_searchtext`` map ى to ا
  (pyarabic issue #39: مستشفى → مستشفا), which merges words that end in alef
  maqsura with words that end in alef. We do not call them: alef forms come
  from pyarabic's ``ALEFAT`` minus ى, and ى goes to ي as Lucene and most
  Arabic IR systems do.
* ``normalize_hamza("uniform")`` rewrites every hamza seat (ؤ ئ) to ء, which
  turns مسؤول into مسءول and unrelated words together; we keep ؤ and ئ as
  written and only fold the hamza on alef, where spelling really varies.

The mapping is a single ``str.translate`` table built from pyarabic's
constants, so normalizing a whole article costs one C-level pass.
Bump :data:`NORMALIZER_VERSION` whenever the output for any input changes:
indexes record it and refuse to open with another version.
"""

from __future__ import annotations

import unicodedata

from pyarabic import araby

NORMALIZER_VERSION = "ar-norm/1"

_CONTROLS = (
    "\u200b\u200c\u200d\u200e\u200f"  # zero-width space/non-joiner/joiner, LRM, RLM
    "\u202a\u202b\u202c\u202d\u202e"  # bidi embeddings and overrides
    "\u2066\u2067\u2068\u2069"  # bidi isolates
    "\u061c\ufeff\u00ad\u2060"  # Arabic letter mark, BOM, soft hyphen, word joiner
)

_ALEF_FORMS = [c for c in araby.ALEFAT if c not in (araby.ALEF, araby.ALEF_MAKSURA, araby.SMALL_ALEF)]

_LETTER_MAP = {
    araby.ALEF_MAKSURA: araby.YEH,
    araby.TEH_MARBUTA: araby.HEH,
    "\u06a9": araby.KAF,  # ک keheh (Persian kaf)
    "\u06aa": araby.KAF,  # ڪ swash kaf
    "\u06cc": araby.YEH,  # ی Farsi yeh
    "\u06d2": araby.YEH,  # ے yeh barree
    "\u06c0": araby.HEH,  # ۀ heh with yeh above
    "\u06c1": araby.HEH,  # ہ heh goal
    "\u06be": araby.HEH,  # ھ heh doachashmee
    "\u06d5": araby.HEH,  # ە ae
    "\u06c3": araby.HEH,  # ۃ teh marbuta goal
}


def _build_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {ord(c): None for c in _CONTROLS}
    table.update({ord(c): None for c in araby.DIACRITICS})
    table[ord(araby.TATWEEL)] = None
    table.update({ord(c): araby.ALEF for c in _ALEF_FORMS})
    table.update({ord(k): v for k, v in _LETTER_MAP.items()})
    for digits in (araby.NUMBERS_EAST, araby.NUMBERS_PERS):
        table.update({ord(d): str(i) for i, d in enumerate(digits)})
    return table


_TABLE = _build_table()


def normalize(text: str) -> str:
    """Return ``text`` in the archive's search form (see the module docstring).

    Idempotent: ``normalize(normalize(t)) == normalize(t)`` for every string.
    Case is kept; the analyzer lowercases Latin tokens.
    """
    text = unicodedata.normalize("NFKC", text)
    text = araby.normalize_ligature(text)
    text = text.translate(_TABLE)
    # Removing marks can expose a new NFKC composition (e.g. ا + mark + ٔ), so
    # settle again; the second pass is a no-op for almost all real text.
    again = unicodedata.normalize("NFKC", text).translate(_TABLE)
    return again

"""Text as the archive stores it: control characters out, ids trimmed and on one line.

Every reader cleans what it reads with :func:`clean_text`; lookups by id
(``archive show``) clean the id asked for the same way (:func:`stored_id`); a
:class:`~archive.document.Document` refuses an id that is not so (:func:`unusable_id`); and
an id that would span lines is refused wherever articles come in (:func:`multiline_id`).
"""

from __future__ import annotations

import re
import unicodedata

_LINE_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # where str.splitlines() breaks lines
_STRIPPED = "".join(
    chr(c) for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF]
    if chr(c) not in "\t\n\r" + _LINE_BREAKS
)
_STRIP_RE = re.compile(f"[{re.escape(_STRIPPED)}]+")
_BREAK_RE = re.compile(f"[{re.escape(_LINE_BREAKS)}]")


def clean_text(text: str) -> str:
    """``text`` without control characters, as stored, indexed and shown.

    Removed: C0 controls but tab, newline and carriage return; DEL; C1
    controls; the bidi embeddings and overrides (U+202A–U+202E) and isolates
    (U+2066–U+2069); a BOM (U+FEFF) left inside joined files. Vertical tab,
    form feed, the information separators, NEL and the Unicode line and
    paragraph separators become newlines (they break lines for
    ``str.splitlines``, so this keeps words apart).

    Kept: ZWNJ and ZWJ (U+200C/U+200D, which Persian and Arabic spelling
    needs) and the stateless direction marks LRM, RLM and ALM. The bidi
    embeddings, overrides and isolates go because they carry state to the
    end of a line: a snippet or a terminal cell cut after an unmatched RLO
    shows every following character reversed (the "Trojan Source" trick),
    and news text does not need them, since the bidi algorithm orders
    Arabic and Latin runs from the characters themselves; search already
    ignores them (:mod:`archive.text.normalize`), so nothing findable is lost.
    """
    # Two regex passes: str.translate with a table costs ~0.5 s per MB of Arabic text.
    return _BREAK_RE.sub("\n", _STRIP_RE.sub("", text))


def stored_id(doc_id: str) -> str:
    """``doc_id`` as a reader stores an id it reads (:func:`clean_text`, trimmed): what
    ``archive show`` also looks up, so an id pasted with its bidi control still finds the article."""
    return clean_text(doc_id).strip()


def visible(text: str) -> bool:
    """Whether ``text`` shows anything: a character that is neither a space nor an invisible format
    character (a direction mark, a zero-width joiner, a BOM: Unicode's Cf)."""
    return any(not c.isspace() and unicodedata.category(c) != "Cf" for c in text)


def unusable_id(doc_id: str) -> str:
    """Why ``doc_id`` cannot be an article's id ("" when it can): an id is what a reader stores
    (:func:`stored_id`: no control character, no space around it) and shows something (:func:`visible`).

    Readers clean and trim the ids they read and make one from the text for a record without one,
    so any other id would come back as another article after an export and a rebuild; one of spaces
    or direction marks alone can be neither seen in a listing nor typed to look it up.
    """
    stored = stored_id(doc_id)
    if not visible(stored):
        return (f"id {doc_id!r} is empty or only spaces and invisible characters; give each article an id "
                "that shows (or leave the id out of a file, and the reader makes one from the text)")
    if stored != doc_id:
        return (f"id {doc_id!r} has spaces around it or control characters in it, which the readers remove "
                f"(an export read back would store it as {stored!r}); use {stored!r}")
    return ""


def multiline_id(doc_id: str) -> str:
    """Why ``doc_id`` cannot be an id ("" when it can): a line break or a tab inside it would break
    every listing that prints it (tables, ``archive show``, the results numbered for it)."""
    if any(c in doc_id for c in "\n\r\t"):
        return (f"id {doc_id[:80]!r} holds a line break or a tab; an id is one line of text (write it without "
                "them, or leave the id out and one is made from the text)")
    return ""

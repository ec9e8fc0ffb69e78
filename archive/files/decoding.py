"""Decoding source files to text, naming the line of any byte that is not text.

One job: bytes → text, without ever changing the text of a line that decoded.
Encodings: UTF-8 (BOM or not); UTF-16 or UTF-32 with a BOM (what Excel and
Windows Notepad write as "Unicode"); else Windows-1256 when the whole file is
cp1256 and decodes to plausible Arabic text. We decide with an explicit rule
rather than a general charset detector because the only legacy encoding that
matters for Arabic archives is cp1256, and a detector's guess between cp1256,
ISO-8859-6 and MacArabic on short files is less reliable than "valid cp1256 and
mostly Arabic letters".

A file that is UTF-8 but for a few damaged lines is not a cp1256 file: reading
it all as cp1256 turned every article of a 1,000-line JSON Lines file into
mojibake because line 501 held four stray bytes. So a file that fails UTF-8 is
decoded line by line (lines end at ``\\n``, which UTF-8 never uses inside a
character): unless (nearly) all of its non-ASCII lines fail, it is UTF-8
(a file half UTF-8, half cp1256 is not read as cp1256 either), and each line that fails is reported (:class:`Decoded.bad_lines`) and
left empty in the text, so the reader skips the record that held it, naming the
file and line, and every other record keeps its text exactly.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from ..errors import SourceError

_ARABIC_RE = re.compile(r"[\u0600-\u06ff]")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_CHARSET_RE = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9_-]+)""", re.I)
_TAG_RE = re.compile(r"<[^>]*>|&\w+;")
WHOLLY = 20
"""A file is read as cp1256 only when at most one in this many of its non-ASCII lines decodes as UTF-8: a
line of cp1256 Arabic is valid UTF-8 only by accident (two Arabic letters in a row never are)."""
_BOMS = (  # longest first: the UTF-32 LE BOM starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True, slots=True)
class Decoded:
    """The text of a file, and the lines that were not UTF-8 (left empty in ``text``)."""

    text: str
    bad_lines: tuple[tuple[int, int], ...] = ()
    """``(line, byte)``: 1-based line number and the offset in that line of the first byte that is not UTF-8."""

    def reason(self, line: int, column: int) -> str:
        """What to tell the user about bad line ``line``."""
        return (f"invalid UTF-8 at byte {column + 1} of line {line} (the rest of the file is UTF-8); "
                "this record was not read, the others keep their text. Fix: re-save the line as UTF-8")


def decode(name: str, data: bytes, *, markup: bool = False) -> str:
    """Text of ``data`` (see the module docstring); a line that is not text raises :class:`SourceError` naming it."""
    decoded = decode_lines(name, data, markup=markup)
    if decoded.bad_lines:
        line, column = decoded.bad_lines[0]
        more = len(decoded.bad_lines) - 1
        raise SourceError(name, decoded.reason(line, column).replace("this record was", "the file was")
                          + (f" ({more} more line(s) like it)" if more else ""), line=line)
    return decoded.text


def decode_lines(name: str, data: bytes, *, markup: bool = False) -> Decoded:
    """Text of ``data``: UTF-8, UTF-16/32 with a BOM, a page's declared charset, wholly Windows-1256 Arabic,
    else UTF-8 with its bad lines named (see the module docstring); a clear error when none fits.

    ``markup`` (HTML): a charset the page declares is tried after UTF-8, and
    tags are left out when judging whether cp1256 text is mostly Arabic.
    """
    if not data.strip():
        raise SourceError(name, "empty file")
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as exc:
                raise SourceError(name, f"cannot decode: starts with a {codec.upper()} BOM but is not {codec.upper()} "
                                        f"(byte {exc.start})") from None
            if not text.strip():
                raise SourceError(name, "empty file")
            return Decoded(text)
    if b"\x00" in data[:8192]:
        raise SourceError(name, "binary file, not text")
    try:
        return Decoded(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        pass
    declared = _CHARSET_RE.search(data[:4096]) if markup else None
    if declared:
        try:
            return Decoded(data.decode(declared.group(1).decode("ascii")))
        except (LookupError, UnicodeDecodeError):
            pass
    lines, bad, good = _utf8_lines(data)
    if good * WHOLLY <= len(bad):  # (nearly) every non-ASCII line fails UTF-8: a legacy encoding, if any
        text = _cp1256_arabic(data, markup)
        if text is not None:
            return Decoded(text)
    if not good:
        raise SourceError(name, "cannot decode: neither UTF-8, UTF-16 with a BOM nor Windows-1256 Arabic text")
    return Decoded("\n".join(lines), tuple(bad))


def _utf8_lines(data: bytes) -> tuple[list[str], list[tuple[int, int]], int]:
    """Each ``\\n``-ended line decoded as UTF-8 (``""`` where it fails), the failures, and how many
    lines with non-ASCII text decoded."""
    lines: list[str] = []
    bad: list[tuple[int, int]] = []
    good = 0
    for number, raw in enumerate(data.split(b"\n"), 1):
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            bad.append((number, exc.start))
            lines.append("")
            continue
        good += not line.isascii()
        lines.append(line)
    return lines, bad, good


def _cp1256_arabic(data: bytes, markup: bool) -> str | None:
    """``data`` as Windows-1256 when it decodes to mostly Arabic letters and no control character."""
    try:
        text = data.decode("cp1256")
    except UnicodeDecodeError:
        return None
    if _CONTROL_RE.search(text):
        return None
    letters = [c for c in (_TAG_RE.sub(" ", text) if markup else text) if c.isalpha()]
    arabic = sum(1 for c in letters if _ARABIC_RE.match(c))
    return text if letters and arabic / len(letters) >= 0.5 else None

"""Parsing a saved news page into a tree for trafilatura, reading as deep as lxml can and naming the rest.

One job: HTML text → an lxml tree. libxml2's HTML parser stops at 256 levels of
nested elements, silently: a page with 100,000 nested elements lost its deeper
text and its last paragraph, and trafilatura (which parses with that limit)
said nothing. Here the page is parsed with ``huge_tree``, which reads up to
:data:`MAX_DEPTH` levels (no news page comes near it); a page nested deeper
still is cut there by the parser, and :func:`parse_page` names it in a warning
with what was kept, so no text goes missing without a word. Otherwise the tree
is what trafilatura's own loader makes (same parser options).
"""

from __future__ import annotations

from collections.abc import Callable

from lxml.html import HtmlElement, HTMLParser, fromstring

MAX_DEPTH = 2048
"""How deep libxml2 nests elements with ``huge_tree`` (256 without it)."""
_OPTIONS = {"collect_ids": False, "default_doctype": False, "remove_comments": True, "remove_pis": True}


def parse_page(name: str, text: str, warn: Callable[[str], None]) -> HtmlElement | str:
    """The tree of page ``text``, or ``text`` itself when lxml cannot parse it (trafilatura then tries)."""
    parser = HTMLParser(huge_tree=True, **_OPTIONS)
    try:
        tree = fromstring(text, parser=parser)
    except ValueError:  # "Unicode strings with encoding declaration are not supported"
        parser = HTMLParser(huge_tree=True, encoding="utf-8", **_OPTIONS)
        try:
            tree = fromstring(text.encode("utf-8", "surrogatepass"), parser=parser)
        except Exception:  # noqa: BLE001 - lxml's errors vary; trafilatura's loader has its own fallbacks
            return text
    except Exception:  # noqa: BLE001 - as above
        return text
    for error in parser.error_log:
        if "Excessive depth" in error.message:
            warn(f"{name}:{error.line}: the page nests elements deeper than {MAX_DEPTH:,} levels; the HTML parser "
                 f"stops there, so the text after column {error.column} of line {error.line} was not read "
                 f"(kept the {len(tree.text_content()):,} characters before it)")
            break
    return tree

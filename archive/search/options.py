"""What a search may ask for, named once: its modes and its orders.

The library checks against these (:mod:`archive.search.arguments`), the
command line makes its choices from them and the web page lists them, so a
mode or an order is added or renamed in one place. Listed as menus show them:
the default first. (Fusion methods are :class:`archive.search.fusion.FusionMethod`.)
"""

from __future__ import annotations

from typing import Literal

Mode = Literal["hybrid", "lexical", "semantic"]
MODES: tuple[str, ...] = ("hybrid", "lexical", "semantic")
"""``hybrid`` (words and meaning, fused; the default), ``lexical`` (words), ``semantic`` (meaning)."""
Sort = Literal["relevance", "-date", "date"]
SORTS: tuple[str, ...] = ("relevance", "-date", "date")
"""``relevance`` (best first; the default), ``-date`` (newest first: a minus means descending), ``date`` (oldest first)."""

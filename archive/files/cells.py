"""CSV cells that a spreadsheet shows as text, never runs as a formula (CSV injection).

An article's title, body, source or id can begin with ``=``, ``+``, ``-`` or ``@``;
a spreadsheet opening a CSV export would take such a cell for a formula (an
article titled ``=HYPERLINK(...)`` becomes a live link that sends the sheet away).
Written here by hand: the guard is OWASP's one-character rule, and the standard
``csv`` module has no option for it.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet take a cell for a formula (OWASP's list for CSV injection)."""
FORMULA_GUARD = "'"
"""Put before such a cell in a CSV export (and before a cell that starts with it), so Excel or
LibreOffice shows the text instead of running it (an article titled ``=HYPERLINK(...)`` would
otherwise become a live link that sends the sheet away); the CSV reader takes it off again, so an
export builds the same archive."""


def guard_formula(value: str) -> str:
    """``value`` as a spreadsheet shows it as text: a leading formula character gets a ``'`` before it,
    and so does a leading ``'`` (so that ``'=x`` written by a user comes back as written)."""
    return FORMULA_GUARD + value if value.startswith((*FORMULA_STARTS, FORMULA_GUARD)) else value


def unguard_formula(value: str) -> str:
    """The cell :func:`guard_formula` was given: one ``'`` taken off where it stands before a formula
    character or another ``'``; any other cell as it is."""
    rest = value[1:]
    return rest if value.startswith(FORMULA_GUARD) and rest.startswith((*FORMULA_STARTS, FORMULA_GUARD)) else value

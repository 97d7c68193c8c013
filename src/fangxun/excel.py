"""Excel rows written safely: every text value is a text cell, never a formula.

openpyxl turns any string that starts with ``=`` into a formula cell, so a hazard point named
``=HYPERLINK("http://evil.example","点此")`` would become a live link in every export (CWE-1236,
formula injection). Every export writes its rows through :func:`append_row`, which stores each
``str`` as a text cell (data type ``s``) and, for text that a spreadsheet would read as a formula
when the cell is edited (``= + - @``, tab, CR), also sets the cell's quote prefix (the ``'`` a
person would type), so the value round-trips unchanged on import.

>>> from openpyxl import Workbook
>>> sheet = Workbook().active
>>> append_row(sheet, ["=1+1", 2])
>>> sheet["A1"].data_type, sheet["A1"].value, sheet["A1"].quotePrefix
('s', '=1+1', True)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

#: First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def risky(text: str) -> bool:
    """Whether a spreadsheet would take ``text`` for a formula if a person typed it in."""
    return text.startswith(FORMULA_STARTS)


def clean(text: str) -> str:
    """``text`` with the control characters a worksheet cannot hold replaced by U+FFFD (openpyxl
    refuses them, which would fail the whole export over one stray byte in a name)."""
    return str(ILLEGAL_CHARACTERS_RE.sub("\ufffd", text))


def append_row(sheet: Any, values: Iterable[Any]) -> None:
    """Append ``values`` as the next row of ``sheet``; strings become text cells, never formulas."""
    values = [clean(v) if isinstance(v, str) else v for v in values]
    sheet.append(values)
    row = sheet.max_row
    for column, value in enumerate(values, start=1):
        if isinstance(value, str):
            cell = sheet.cell(row=row, column=column)
            cell.data_type = "s"
            if risky(value):
                cell.quotePrefix = True

"""Checks of Excel exports shared by the export tests of several domains (issue 20, item 7)."""

from __future__ import annotations

import io
import zipfile

from openpyxl import load_workbook

EVIL = '=HYPERLINK("http://evil.example/ack","点此确认")'
ALSO_EVIL = ["+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def assert_no_formula(content: bytes, *expected: str) -> None:
    """No sheet of the workbook holds a formula, and every ``expected`` text is a text cell."""
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in z.read(name) and b"<f " not in z.read(name), name
    book = load_workbook(io.BytesIO(content))
    found = {
        cell.value: cell
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if isinstance(cell.value, str)
    }
    for text in expected:
        assert text in found, f"{text!r} not in the workbook"
        assert found[text].data_type == "s"
        assert found[text].quotePrefix is True

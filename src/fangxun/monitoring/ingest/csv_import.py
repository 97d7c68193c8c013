"""CSV import through the shared parser and writer.

The file has a header row with the columns ``datastream``, ``time`` (ISO 8601 with offset) and
``value`` (a number in the datastream's unit); other columns are ignored. A bad row is
dead-lettered with its line number and never stops the import.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.orm import Session

from fangxun.errors import ValidationFailed
from fangxun.monitoring.ingest.parser import Reject, parse_item
from fangxun.monitoring.ingest.writer import (
    Pending,
    PendingReject,
    WriteOptions,
    WriteResult,
    write_observations,
)
from fangxun.monitoring.models import Source

REQUIRED_COLUMNS = ("datastream", "time", "value")


def _number(text: str | None) -> object:
    # CSV has no types: a cell that reads as a number is one; anything else stays text and the
    # parser rejects it with "must be a number".
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def import_rows(
    *,
    session: Session,
    rows: Iterable[list[str]],
    name: str,
    options: WriteOptions | None = None,
    batch_size: int = 5000,
) -> WriteResult:
    """Import CSV ``rows`` (the first is the header); ``name`` labels dead letters.

    Never commits.
    """
    it = iter(rows)
    try:
        header = [h.strip().lower() for h in next(it)]
    except StopIteration:
        raise ValidationFailed(f"{name}: the file is empty", loc=("file",)) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ValidationFailed(
            f"{name}: missing column(s) {', '.join(missing)} (header: {', '.join(header)})",
            loc=("file", "header"),
        )
    col = {c: header.index(c) for c in REQUIRED_COLUMNS}
    total = WriteResult()
    items: list[Pending] = []
    rejects: list[PendingReject] = []

    def flush() -> None:
        result = write_observations(
            session=session, items=items, rejects=rejects, source=Source.csv, options=options
        )
        total.stored += result.stored
        total.duplicates += result.duplicates
        total.conflicts += result.conflicts
        total.dead_lettered += result.dead_lettered
        total.flagged += result.flagged
        items.clear()
        rejects.clear()

    for line_no, row in enumerate(it, start=2):
        if not any(cell.strip() for cell in row):
            continue
        origin = f"{name}:{line_no}"
        cells = {c: (row[i].strip() if i < len(row) else None) for c, i in col.items()}
        item = {"datastream": cells["datastream"], "time": cells["time"],
                "value": _number(cells["value"])}  # fmt: skip
        try:
            items.append(Pending(parse_item(item), origin))
        except ValueError as exc:
            raw = json.dumps(row, ensure_ascii=False)
            rejects.append(PendingReject(Reject(line_no, f"line {line_no}: {exc}", raw), origin))
        if len(items) + len(rejects) >= batch_size:
            flush()
    if items or rejects:
        flush()
    return total


def import_csv(
    *, session: Session, path: Path, options: WriteOptions | None = None, batch_size: int = 5000
) -> WriteResult:
    """Import the CSV file at ``path`` (UTF-8, optional BOM). Never commits."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            return import_rows(
                session=session, rows=csv.reader(fh), name=path.name, options=options,
                batch_size=batch_size,
            )  # fmt: skip
    except OSError as exc:
        raise ValidationFailed(f"cannot read {path}: {exc.strerror}", loc=("file",)) from None
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"{path.name} is not UTF-8: {exc.reason}", loc=("file",)) from None

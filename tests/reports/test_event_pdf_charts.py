"""The event report's charts are visible in its PDF: three images embedded at a readable size
(pdfimages), and the pages that hold them rendered to PNG for a person to look at."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from report_helpers import SYSTEM, T0, Crafted
from sqlalchemy.orm import Session

from fangxun.config import Settings
from fangxun.reports import export, service


@pytest.mark.skipif(shutil.which("pdfimages") is None, reason="poppler-utils (make system)")
def test_event_pdf_shows_its_three_charts(
    db_session: Session, crafted: Crafted, settings: Settings, tmp_path: Path, artifacts_dir: Path
) -> None:
    (event,) = service.detect_events(
        session=db_session, settings=settings, actor=SYSTEM, now=T0 + timedelta(days=1)
    )
    report = service.build_report(
        session=db_session, settings=settings, event_id=event.id, actor=None
    )
    pdf = tmp_path / "event.pdf"
    pdf.write_bytes(export.event_pdf(report))
    listing = subprocess.run(
        ["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    images = [line.split() for line in listing if line.strip()]
    # page, num, type, width, height, ... x-ppi, y-ppi: the charts' own pixels, placed on the page
    # at print size (≥ 60 dpi) rather than shrunk to a thumbnail.
    big = [row for row in images if row[2] == "image" and int(row[3]) >= 500]
    assert len(big) >= 3, listing
    assert all(int(row[12]) <= 200 for row in big), listing  # not squeezed into a few mm
    for page in sorted({int(row[0]) for row in big}):
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "60",
                "-f",
                str(page),
                "-l",
                str(page),
                "-singlefile",
                str(pdf),
                str(artifacts_dir / f"event-report-page{page}"),
            ],
            check=True,
        )

"""Notifications of a finished demo story: as sent (one message per recipient and change batch,
with the daily cap) and as the former one-per-change-and-recipient scheme would have sent for the
same warning changes (issue 19: "the 7·20 replay sent 664 notifications, 129 needing
acknowledgement one by one").

    FANGXUN_DATABASE_URL=sqlite:///…/fangxun.db fangxun demo --no-serve --until-done
    PYTHONPATH=src .venv/bin/python benchmarks/notify_volume.py sqlite:///…/fangxun.db

The counterfactual asks the same roster (:func:`fangxun.notify.service.recipients_for`) at each
change's time, so both figures come from one run (a replay's change sequence depends on the
machine's load: two runs differ).
"""

from __future__ import annotations

import argparse
from collections import Counter

from sqlalchemy import select

from fangxun.db import make_engine, session_scope
from fangxun.notify import service as notify
from fangxun.notify.models import Notification
from fangxun.warnings.models import ChangeType, Warning, WarningChange, WarningPurpose


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("database_url")
    args = ap.parse_args()
    engine = make_engine(args.database_url)
    with session_scope(engine) as s:
        notes = list(s.scalars(select(Notification)))
        kinds = Counter(n.event_key.split(":")[0] for n in notes)
        print(
            f"sent: {len(notes)} notifications, {sum(n.requires_ack for n in notes)} needing "
            f"acknowledgement, {sum(n.held for n in notes)} held for a digest; by kind "
            f"{dict(kinds)}"
        )
        changes = list(
            s.scalars(
                select(WarningChange)
                .join(Warning)
                .where(Warning.purpose == WarningPurpose.operational)
            )
        )
        old = old_ack = 0
        for c in changes:
            w = c.warning
            n = len(
                notify.recipients_for(
                    session=s, unit_id=w.unit_id, hazard_point_id=w.hazard_point_id, at=c.at
                )
            )
            old += n
            old_ack += n if c.change_type in (ChangeType.issue, ChangeType.upgrade) else 0
        print(
            f"one per change and recipient, same {len(changes)} changes: {old} notifications, "
            f"{old_ack} needing acknowledgement"
        )
    engine.dispose()


if __name__ == "__main__":
    main()

"""fangxun.hazards: the hazard ledger (隐患台账).

Hazard points with thresholds and attachments, point plans (一点一策), inspection plans and records,
rectifications (整改) with their state machine, ledger statistics, and GeoJSON/Excel import and
export. ``models``, ``schemas``, ``service`` (keyword-only, never commits), ``router`` (API),
``io`` (files), ``attachments`` (content-addressed storage).
"""

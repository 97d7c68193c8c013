"""fangxun.forecast: ponding forecasts at every hazard point, hours ahead, with probabilities.

* :mod:`.engine` — district model, rain perturbations, member runs (the only caller of
  :mod:`fangxun.inundation`), per-point statistics; plain data, no database.
* :mod:`.rainsource` — design storm, uploaded series, nowcast (persistence with decay).
* :mod:`.service` — runs and results in the database (keyword-only, never commits).
* :mod:`.flows` — the forecast job: queued → running → done | failed, with progress.
* :mod:`.schedule` — runs every interval while it rains or a (pluggable) warning is in force.
* :mod:`.skill` — hit / miss / false alarm and lead time after an event.
* :mod:`.router` — ``/api/v1/forecast/...``.
"""

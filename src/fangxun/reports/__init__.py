"""fangxun.reports — post-event statistics and review (积涝统计与复盘).

``stats`` (pure computations), ``service`` (events, per-point statistics, causes, review, season),
``charts`` and ``export`` (PDF and Excel), ``router`` (API); the web pages are
``fangxun.web.reports_pages`` and the CLI ``fangxun report``.
"""

"""Setting a district up from its own files: units, people, stations, terrain, a readiness check.

``fangxun setup`` (``fangxun.cli.setup``) is the shell; :mod:`fangxun.setup.service` does the work,
:mod:`fangxun.setup.mapping` reads office tables through a column-mapping file, and
:mod:`fangxun.setup.terrain` takes a DEM in any CRS.
"""

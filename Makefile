# Fangxun — the two commands are `make demo` and `make test`; each does all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
VENDOR := src/fangxun/web/static/vendor
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: demo broker test test-fast test-browser lint typecheck setup system assets bench clean

demo: setup broker
	$(VENV)/bin/fangxun demo

# A Mosquitto with the settings ingest needs (deploy/mosquitto/fangxun.conf), unless a broker
# already listens on 127.0.0.1:1883 (then check that one has them: docs/operator-guide.md).
BROKER_DIR := var/mosquitto
broker:
	@if (echo > /dev/tcp/127.0.0.1/1883) 2>/dev/null; then \
	  echo "A broker listens on 127.0.0.1:1883; it needs the settings of deploy/mosquitto/fangxun.conf."; \
	elif command -v mosquitto >/dev/null || test -x /usr/sbin/mosquitto; then \
	  mkdir -p $(BROKER_DIR); \
	  { echo "listener 1883 127.0.0.1"; echo "allow_anonymous true"; echo "user $$(id -un)"; \
	    echo "persistence_location $(CURDIR)/$(BROKER_DIR)/"; \
	    echo "log_dest file $(CURDIR)/$(BROKER_DIR)/mosquitto.log"; \
	    cat deploy/mosquitto/fangxun.conf; } > $(BROKER_DIR)/mosquitto.conf; \
	  $$(command -v mosquitto || echo /usr/sbin/mosquitto) -c $(BROKER_DIR)/mosquitto.conf -d; \
	  echo "Started Mosquitto on 127.0.0.1:1883 with deploy/mosquitto/fangxun.conf"; \
	else echo "mosquitto is not installed (apt-get install mosquitto)"; exit 1; fi

test: setup lint typecheck
	FANGXUN_TEST_POSTGRES_URL=$(PG_URL) $(VENV)/bin/pytest -q -n 2 --dist loadgroup -m "not browser" \
	  --ignore=tests/hardening/test_hardening_faults.py
	# The fault tests restart their own PostgreSQL and broker; alone, so CPU contention stays off their timings.
	FANGXUN_TEST_POSTGRES_URL=$(PG_URL) $(VENV)/bin/pytest -q -p no:xdist tests/hardening/test_hardening_faults.py
	$(MAKE) --no-print-directory test-browser

# The browser tests run in their own process: Chromium and the live server want the machine to themselves.
test-browser: setup
	FANGXUN_TEST_POSTGRES_URL=$(PG_URL) $(VENV)/bin/pytest -q -m browser -p no:xdist

test-fast: setup
	$(VENV)/bin/pytest -q -x -m "not browser and not slow"

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	# The architecture's rules (pyproject.toml [tool.importlinter]); PYTHONPATH so it reads this tree.
	PYTHONPATH=src $(VENV)/bin/lint-imports --no-cache
	# The pages' ES modules (eslint.config.mjs; eslint is a devDependency in package-lock.json).
	node_modules/.bin/eslint src/fangxun/web/static/js

typecheck: setup
	$(VENV)/bin/mypy src/fangxun src/rainkit

setup: $(STAMP) assets system

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -U pip setuptools wheel
	$(PIP) install -q -c requirements.lock -e ".[dev]"
	touch $(STAMP)

assets: $(VENDOR)/.installed

$(VENDOR)/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)/leaflet $(VENDOR)/htmx
	cp -r node_modules/leaflet/dist/* $(VENDOR)/leaflet/
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx/
	touch $@

# Debian packages: Chromium for the browser tests, CJK fonts for PDFs and screenshots, poppler-utils (pdftoppm) for the PDF tests, wrk for the API load benchmark.
system:
	@if ! command -v chromium >/dev/null || ! command -v pdftoppm >/dev/null || ! command -v wrk >/dev/null || ! fc-list 2>/dev/null | grep -qi "noto.*cjk"; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-cjk poppler-utils wrk; \
	  else sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-cjk poppler-utils wrk; fi; \
	fi
	-test -x $(PY) && $(PY) -c "import matplotlib.font_manager as fm; fm._load_fontmanager(try_read_cache=False)"  # rebuild the font cache so it lists fonts-noto-cjk

bench: setup
	$(PIP) install -q -c requirements.lock -e ".[dev,bench]"
	$(PY) benchmarks/validation.py
	$(PY) benchmarks/inundation_vs_landlab.py

clean:
	rm -rf $(VENV) node_modules $(VENDOR) var .pytest_cache .mypy_cache .ruff_cache

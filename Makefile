# gridmap: the two commands are `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run test bench bench-quick lint db-up db-down clean-db vendor chromium test-tools pdf-libs

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

## setup: the Python environment (PostgreSQL/PostGIS are installed by `gridmap db up`)
setup: $(STAMP)

## run: set everything up, load the district if the database is empty, serve on :8000
run: setup pdf-libs
	$(BIN)/gridmap db up
	$(BIN)/gridmap migrate
	$(BIN)/gridmap seed --if-empty
	$(BIN)/gridmap serve

## chromium: Debian's Chromium (and a CJK font for legible screenshots) for the browser tests,
## installed with apt, as root, when missing
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq chromium chromium-driver fonts-wqy-microhei; \
	  else \
	    echo "the browser tests need Debian's chromium: apt-get install chromium chromium-driver" >&2; \
	    exit 1; \
	  fi; \
	fi

## test-tools: Debian's nginx (the deployment test), GDAL 3.6's ogrinfo (the OGC field
## types test) and poppler's pdftotext (the monthly PDF test), installed with apt, as root,
## when missing
test-tools:
	@if [ ! -x /usr/sbin/nginx ] || [ ! -x /usr/bin/ogrinfo ] || [ ! -x /usr/bin/pdftotext ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq nginx gdal-bin poppler-utils; \
	  else \
	    echo "the deployment, OGC and PDF tests need Debian's nginx, gdal-bin and poppler-utils: apt-get install nginx gdal-bin poppler-utils" >&2; \
	    exit 1; \
	  fi; \
	fi

## pdf-libs: what WeasyPrint (the monthly report's PDF) needs from Debian: Pango and a CJK
## font, installed with apt, as root, when missing
pdf-libs:
	@if ! ldconfig -p | grep -q libpangoft2-1.0 || ! fc-list | grep -qi "WenQuanYi Micro Hei"; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 fonts-wqy-microhei; \
	  else \
	    echo "the monthly PDF needs: apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-wqy-microhei" >&2; \
	    exit 1; \
	  fi; \
	fi

## test: the same set-up, then every test against a real PostGIS
test: setup chromium test-tools pdf-libs
	$(BIN)/ruff check geo api tests bench
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check geo api tests bench

## bench: every headline figure against its baseline, side by side, at full size (the
## 1,000,000-incident database is created once, ~10 min); writes bench/results/latest.*
bench: setup
	$(BIN)/python -m bench

## bench-quick: every benchmark at small sizes (about a minute); `make test` runs it too
bench-quick: setup
	$(BIN)/python -m bench --quick

db-up: setup
	$(BIN)/gridmap db up

db-down: setup
	$(BIN)/gridmap db down

## vendor: fetch the map pages' JS/CSS/fonts from npm into static/maps/vendor/ (committed)
vendor: setup
	$(BIN)/python scripts/vendor_assets.py

# chartcoder: two commands on a fresh machine.
#   make run   set up .venv, build the artefacts, code examples/charts/ through the event chain
#              (KEEP_UP=1 leaves the local stack running to browse the Prefect UI)
#   make test  set up .venv, then ruff, mypy and every test

SHELL := /bin/bash
.DEFAULT_GOAL := run

# python3.12 on PATH first (as on a user's machine), then pyenv's 3.12; each must really run
# (a pyenv shim is on PATH even where 3.12 is not the selected version).
PYTHON ?= $(shell for p in python3.12 $$(pyenv root 2>/dev/null)/versions/3.12.*/bin/python3.12; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1 && { command -v "$$p"; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The public data folder, when it is where the shared checkout keeps it.
SHARED_DATA := $(abspath $(CURDIR)/../shared/data)
ifeq ($(origin CHARTCODER_DATA), undefined)
  ifneq ($(wildcard $(SHARED_DATA)/icd10cm-index),)
    export CHARTCODER_DATA := $(SHARED_DATA)
  endif
endif

# Prefect's server and ephemeral API: no telemetry (offline machines log errors otherwise).
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: run test setup browser ocr-engine artifacts lint typecheck pytest bench clean

setup: $(STAMP) browser ocr-engine

# The review site's tests drive Debian's Chromium with Playwright (never `playwright install`):
# installed here when missing (as root, or through sudo), skipped when present.
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x "$(CHROMIUM)" || { \
	  if ! command -v apt-get >/dev/null; then \
	    echo "warning: no $(CHROMIUM) and no apt-get: install Chromium for the review tests" >&2; \
	  else \
	    sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo -n"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    $$sudo apt-get install -y --no-install-recommends chromium \
	      || { $$sudo apt-get update && $$sudo apt-get install -y --no-install-recommends chromium; } \
	      || echo "warning: could not install chromium: the review tests need it" >&2; \
	  fi; }

# Tesseract, which reads scanned PDF pages (records/ocr.py): Debian's packages, installed when
# missing (as root, else through sudo). Without apt-get it is only a warning: text-layer PDFs
# are read all the same and a scanned page carries the error.
OCR_PACKAGES := tesseract-ocr tesseract-ocr-eng
ocr-engine:
	@if tesseract --list-langs 2>/dev/null | grep -qx eng; then :; \
	elif command -v apt-get >/dev/null; then \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		echo "installing $(OCR_PACKAGES)"; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			$$sudo apt-get install -y -qq --no-install-recommends $(OCR_PACKAGES) >/dev/null; \
	else \
		echo "warning: no tesseract with English data; scanned PDF pages cannot be read" \
			"(install $(OCR_PACKAGES) or your system's tesseract)" >&2; \
	fi

$(STAMP): pyproject.toml requirements.lock
	@test -n "$(PYTHON)" || { echo "Python 3.12 not found: install it or set PYTHON=/path/to/python3.12" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

artifacts: setup
	$(BIN)/chartcoder train

# The event chain on loopback (docs/events.md): `chartcoder up`, examples/charts/ landed in S3 as a
# new batch with examples/members.csv and examples/claims.csv and its marker, the triggered run's
# codes, HCCs, RAF and opportunities shown, then `chartcoder down`.
run: artifacts
	$(BIN)/python -m stack.demo $(if $(filter 1,$(KEEP_UP)),--keep-up)

lint: setup
	$(BIN)/ruff check nlp flows cli bridge stack review risk records tests bench
	$(BIN)/ruff format --check nlp flows cli bridge stack review risk records tests bench

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest -q

test: lint typecheck pytest

bench: artifacts
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/pipeline.py --charts 10000
	$(BIN)/python bench/events.py --charts 10 1000
	$(BIN)/python bench/pdf_text.py
	$(BIN)/python bench/pdf_pipeline.py

clean:
	rm -rf $(VENV) out .mypy_cache .ruff_cache .pytest_cache

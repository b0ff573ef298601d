# The two commands of the README: `make up` (the whole platform, locally) and `make test` (everything CI runs).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test lint typecheck protos protos-check unit workflows integration e2e ha browser fuzz bench bench-quick chaos chaos-quick recovery lock clean

# The browser tier's Chromium and the CJK fonts its pages are drawn with: Debian packages, installed here when
# missing (as root, with apt-get); anywhere else the setup stops and says what to install. Never skipped.
CHROMIUM := /usr/bin/chromium
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
# promtool, which runs the Prometheus rules' unit tests (deploy/prometheus/tests) in the unit tier: Debian's
# prometheus package, installed the same way. Its service is not started: a policy-rc.d that refuses (101)
# is put in place for the install when the machine has none. Never skipped.
PROMTOOL := /usr/bin/promtool

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,local]'
	touch $(STAMP)

up: $(STAMP)
	$(BIN)/counsel up

$(CHROMIUM) $(CJK_FONT):
	@if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "The browser tier needs Debian's chromium and fonts-noto-cjk packages and cannot install them here" \
	    "(not root, or no apt-get): apt-get install -y chromium fonts-noto-cjk" >&2; \
	  exit 1; \
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk

$(PROMTOOL):
	@if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "The rule tests need promtool from Debian's prometheus package and cannot install it here" \
	    "(not root, or no apt-get): apt-get install -y prometheus" >&2; \
	  exit 1; \
	fi
	apt-get update -qq
	@policy=/usr/sbin/policy-rc.d; placed=; \
	if [ ! -e $$policy ]; then printf '#!/bin/sh\nexit 101\n' > $$policy && chmod +x $$policy && placed=1; fi; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; status=$$?; \
	if [ -n "$$placed" ]; then rm -f $$policy; fi; \
	exit $$status

test: $(STAMP) lint protos-check typecheck $(CHROMIUM) $(CJK_FONT) $(PROMTOOL)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy services workflows deploy scripts bench examples

protos: $(STAMP)
	$(BIN)/python scripts/gen_protos.py

protos-check: $(STAMP)
	$(BIN)/python scripts/gen_protos.py --check
	cd protos && ../$(BIN)/buf lint
	cd protos && ../$(BIN)/buf breaking --against baseline.binpb

unit workflows integration e2e ha: $(STAMP)
	$(BIN)/python -m pytest -q -m $@

unit: $(PROMTOOL)

browser: $(STAMP) $(CHROMIUM) $(CJK_FONT)
	$(BIN)/python -m pytest -q -m $@

# The fuzz tier with a fresh seed and more examples, to explore (CI runs it with fixed seeds in `make test`).
# FUZZ_EXAMPLES / FUZZ_STATEFUL_EXAMPLES / FUZZ_SEED override; COUNSEL_FUZZ_BASE_URL fuzzes a running platform.
ifndef FUZZ_SEED
FUZZ_SEED := $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
endif
FUZZ_EXAMPLES ?= 100
FUZZ_STATEFUL_EXAMPLES ?= 200
fuzz: $(STAMP)
	@echo "fuzz seed $(FUZZ_SEED): rerun with make fuzz FUZZ_SEED=$(FUZZ_SEED)"
	COUNSEL_FUZZ_SEED=$(FUZZ_SEED) COUNSEL_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) \
	COUNSEL_FUZZ_STATEFUL_EXAMPLES=$(FUZZ_STATEFUL_EXAMPLES) \
	$(BIN)/python -m pytest -q -o timeout=3600 tests/e2e/test_api_fuzz.py

# Speed and capacity, beside raw baselines measured in the same run (never part of `make test`).
bench: $(STAMP)
	$(BIN)/python -m bench.run

bench-quick: $(STAMP)
	$(BIN)/python -m bench.run --quick

# Seeded faults on `counsel up --ha` under load, then the invariant checker (never part of `make test`):
# the issue's counts (about an hour), or each scenario once. CHAOS_SEED replays a schedule.
CHAOS_ARGS := $(if $(CHAOS_SEED),--seed $(CHAOS_SEED))
chaos: $(STAMP)
	$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

chaos-quick: $(STAMP)
	$(BIN)/python -m bench.chaos --quick $(CHAOS_ARGS)

recovery: $(STAMP)
	$(BIN)/python -m pytest -q --recovery tests/recovery
	$(BIN)/python -m bench.recovery

# After changing dependencies in pyproject.toml: install them, then pin the whole set again.
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,local]'
	{ echo "# The whole installed set, pinned; make installs with -c constraints.txt. Regenerate: make lock"; \
	  $(BIN)/python -m pip freeze --exclude-editable; } > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

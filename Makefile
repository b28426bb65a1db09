# Two commands matter: `make dev` (the local stack) and `make test` (every check CI runs).
# Each sets up what it needs on a fresh machine: virtualenvs with pinned packages.

# pyenv's shims run only the versions it is told to: name every 3.11, 3.12 and 3.13 this
# machine's pyenv has, whatever their patch versions (no pyenv: nothing to name).
ifeq ($(origin PYENV_VERSION),undefined)
PYENV_VERSION := $(shell pyenv versions --bare 2>/dev/null | grep -E '^3\.1[123]\.[0-9]+$$' | sort -V | paste -sd: -)
endif
export PYENV_VERSION
# Lambda runs Python 3.12; use it locally too when one runs (a shim can exist and still fail).
PYTHON ?= $(shell PYENV_VERSION=$(PYENV_VERSION) python3.12 -c '' >/dev/null 2>&1 && echo python3.12 || echo python3)

VENV := .venv
SAM_VENV := .venv-sam
BIN := $(VENV)/bin
SAM := $(SAM_VENV)/bin/sam

export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

# Lambda runs 3.12 (the main venv); the code must also run on these.
OTHER_PYTHONS := 3.11 3.13

.PHONY: dev dev-reset check test lint typecheck validate build pytest browser postfix netns-tools doc-tools other-pythons test-smtp-extensions bench soak clean

dev: $(VENV)/.installed
	$(BIN)/python -m local_stack

# `make dev`, forgetting the services, keys, records and queue of earlier runs (mail stays).
dev-reset: $(VENV)/.installed
	$(BIN)/python -m local_stack --reset

# The fast inner loop, about a minute: lint, types and the unit tests (no sockets, no stack),
# the property tests trying 50 examples each instead of hundreds. `make test` stays the full gate.
check: lint typecheck
	PROPERTY_EXAMPLES=50 $(BIN)/pytest -q -n 2 -p no:cacheprovider tests/unit

test: lint typecheck validate build pytest other-pythons

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

validate: $(SAM_VENV)/.installed
	$(SAM) validate --lint

build: $(SAM_VENV)/.installed
	$(SAM) build --cached

# tests/contract runs schemathesis (pinned in requirements-dev.txt) against a local stack of its
# own, in a network namespace with loopback alone: about five minutes.
pytest: $(VENV)/.installed browser postfix netns-tools doc-tools
	$(BIN)/pytest -n 2 --cov --cov-report=term --durations=25

# Debian's Chromium and its driver, for the Swagger UI test in a real headless browser.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium chromium-driver; }

# Under each other interpreter this machine has (skipped where one is missing), the tests whose
# outcome can depend on the Python version: the unit tests (MIME, headers, rendering), the
# security suite, and the integration tests of what talks to the stdlib's smtplib, ssl,
# http.client and email on the wire. Access control, rate limits, the queue and the admin API
# are pure logic over moto, and the end-to-end tests drive the local stack's processes: the
# 3.12 run covers them, and running them thrice would push the suite past its time budget.
OTHER_PYTHON_TESTS := tests/unit tests/security \
	tests/integration/test_transport_faults.py tests/integration/test_send_encryption.py \
	tests/integration/test_send_recipients.py tests/integration/test_attachment_fetch.py \
	tests/integration/test_service_connection_test.py tests/integration/test_queued_message.py \
	tests/integration/test_send_dkim.py \
	$(wildcard tests/integration/test_transport_pipelining.py)
other-pythons:
	@for version in $(OTHER_PYTHONS); do \
	  if ! command -v python$$version >/dev/null 2>&1 || ! python$$version -c '' 2>/dev/null; then \
	    echo "python$$version not found: skipping it"; continue; fi; \
	  $(MAKE) --no-print-directory .venv-py$$version/.installed PYTHON=python$$version || exit 1; \
	  echo "pytest on Python $$version"; \
	  .venv-py$$version/bin/pytest -q -n 2 -p no:cacheprovider $(OTHER_PYTHON_TESTS) || exit 1; \
	done

# The integration suite once more against servers offering PIPELINING alone, then PIPELINING
# and CHUNKING (`make test` runs the send path's key modules both ways; this runs every one,
# about ten minutes: tests/integration/conftest.py reads SMTP_TEST_EXTENSIONS).
test-smtp-extensions: $(VENV)/.installed browser postfix
	@for extensions in PIPELINING PIPELINING,CHUNKING; do \
	  echo "servers offering $$extensions"; \
	  SMTP_TEST_EXTENSIONS=$$extensions $(BIN)/pytest -q -n 2 -p no:cacheprovider \
	    tests/integration || exit 1; \
	done

# The round-trip, CPU and memory benchmark (bench/run.py): a table on stdout, JSON in .local/bench/.
bench: $(VENV)/.installed postfix
	$(BIN)/python -m bench $(BENCH_ARGS)

# util-linux's unshare and iproute2's ip: the contract fuzzer's network namespace (loopback alone).
netns-tools:
	@command -v unshare >/dev/null && command -v ip >/dev/null || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq util-linux iproute2; }

# What the docs' examples use beside curl and python3 (tests/e2e/test_documented_examples.py
# runs them): jq and openssl, as a reader's shell would have them.
doc-tools:
	@command -v jq >/dev/null && command -v openssl >/dev/null && command -v curl >/dev/null || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq jq openssl curl; }

# Debian's Postfix (smtp-sink, smtpd) for the benchmark and the pipelining tests, without
# configuring a system mailer.
postfix:
	@test -x /usr/sbin/smtp-sink && test -x /usr/lib/postfix/sbin/master || \
	  { echo "postfix postfix/main_mailer_type select No configuration" | $(SUDO) debconf-set-selections && \
	    $(SUDO) apt-get update -qq && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix; }

# The load-and-fault run against a local stack of its own (loopback only, bounded in time).
soak: $(VENV)/.installed
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

# The project itself, editable and without dependencies, into the venv whose bin/ is $(1): that
# is the `mailer` CLI. (setuptools warns that a folder named like the package could shadow it;
# here that folder is the package.)
install_self = PYTHONWARNINGS="ignore:Editable installation" \
	$(1)/python -m pip install --quiet --no-deps --no-build-isolation -e .

$(VENV)/.installed: requirements-dev.txt src/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(call install_self,$(BIN))
	touch $@

.venv-py%/.installed: requirements-dev.txt src/requirements.txt pyproject.toml
	$(PYTHON) -m venv .venv-py$*
	.venv-py$*/bin/python -m pip install --quiet --upgrade pip
	.venv-py$*/bin/python -m pip install --quiet -r requirements-dev.txt
	$(call install_self,.venv-py$*/bin)
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet -r requirements-sam.txt
	touch $@

clean:
	rm -rf $(VENV) $(SAM_VENV) .venv-py* .aws-sam .local .pytest_cache .mypy_cache .ruff_cache .coverage

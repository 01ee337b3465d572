# The two commands a newcomer needs:  `make run`  and  `make test`.
# Everything they need is installed from here: the venv from PyPI; kcat, promtool, PostgreSQL,
# Chromium and ChromeDriver from Debian's packages; the Kafka broker's jars from Maven Central.

VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTHON  ?= python3

.PHONY: run test lint system-deps kafka-jars bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[dev,train]'
	rm -f $(VENV)/.installed-*
	touch $@

## run: set up and run peacewatch's main job on the embedded bus (Ctrl-C stops it)
run: $(STAMP)
	$(BIN)/peacewatch run

## test: set up and pass the whole suite, lint and types included, Kafka tests on a real broker
test: $(STAMP) system-deps kafka-jars lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# From Debian: kcat (an independent Kafka client), prometheus + promtool, docker-compose (it
# validates docker-compose.yml without an engine), PostgreSQL (the tests start their own server
# for the record) and Chromium with ChromeDriver (the desk's browser tests, headless).
system-deps:
	@if ! command -v kcat >/dev/null || ! command -v promtool >/dev/null \
			|| ! command -v docker-compose >/dev/null \
			|| ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
			|| ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
			kcat prometheus docker-compose postgresql chromium chromium-driver >/dev/null; \
	fi

kafka-jars: $(STAMP)
	$(BIN)/python scripts/kafka_broker.py fetch

bench: $(STAMP) kafka-jars
	$(BIN)/python bench/bus

clean:
	rm -rf $(VENV) .cache .peacewatch .mypy_cache .ruff_cache .pytest_cache test-artifacts

# make sim   - run the stack on a simulated board, reachable from the host
# make test  - the whole test suite (unit on CPython, scenarios on the MicroPython unix port)
# make bench - benchmarks with their baselines (BENCH="callgrind" or BENCH="compare --quick": some)
BOARD ?= sim_w5500
BENCH ?=
PY := .venv/bin/python

.PHONY: setup sim test bench build clean

setup:
	@bash host_tools/bootstrap.sh

sim: setup
	$(PY) -m host_tools sim --board $(BOARD) --forward 127.0.0.1:8080

test: setup
	$(PY) -m pytest -q tests

bench: setup
	$(PY) -m bench $(BENCH)

build: setup
	$(PY) -m host_tools build

clean:
	rm -rf build .pytest_cache

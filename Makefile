# make sim   - run the stack on a simulated board, reachable from the host
# make test  - the whole test suite (unit on CPython, scenarios on the MicroPython unix port)
# make bench - benchmarks with their baselines
# make fuzz  - coverage-guided fuzzing (atheris, 3 x 60 s) and 200k+ frames in the unix port
# make soak  - 10 minutes of mixed load and attack bursts against sim_w5500
BOARD ?= sim_w5500
PY := .venv/bin/python

.PHONY: setup sim test bench build clean fuzz soak

setup:
	@bash host_tools/bootstrap.sh

sim: setup
	$(PY) -m host_tools sim --board $(BOARD) --forward 127.0.0.1:8080

test: setup
	$(PY) -m pytest -q tests

fuzz: setup
	$(PY) tests/fuzz/run.py --seconds 60
	$(PY) tests/fuzz_frames.py 200000

soak: setup
	$(PY) tests/soak.py 600

bench: setup
	$(PY) -m bench

build: setup
	$(PY) -m host_tools build

clean:
	rm -rf build .pytest_cache

# make sim   - run the stack on a simulated board, reachable from the host
# make test  - the whole test suite (unit on CPython, scenarios on the MicroPython unix port)
# make bench - benchmarks with their baselines (BENCH="callgrind" or BENCH="compare --quick": some)
# make fuzz  - coverage-guided fuzzing (atheris, 3 x 60 s) and 200k+ frames in the unix port
# make soak  - 10 minutes of mixed load and attack bursts against sim_w5500
# A real board (README "Flash a real board"):
#   make build   BOARD=w5500_evb_pico
#   make flash   BOARD=w5500_evb_pico FIRMWARE=RPI_PICO.uf2 [PORT=/media/$USER/RPI-RP2]
#   make deploy  BOARD=w5500_evb_pico PORT=/dev/ttyACM0
#   make monitor PORT=/dev/ttyACM0
#   make board-test PORT=/dev/ttyACM0   (or IP=192.168.1.50)
BOARD ?= sim_w5500
BENCH ?=
PORT ?=
IP ?=
FIRMWARE ?=
PY := .venv/bin/python

.PHONY: setup sim test bench build flash deploy monitor board-test package-json clean fuzz soak

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
	$(PY) -m bench $(BENCH)

build: setup
	$(PY) -m host_tools build --board $(BOARD)

flash: setup
	$(PY) -m host_tools flash --board $(BOARD) --firmware "$(FIRMWARE)" $(if $(PORT),--port "$(PORT)")

deploy: setup
	$(PY) -m host_tools deploy --board $(BOARD) --port "$(PORT)"

monitor: setup
	$(PY) -m host_tools monitor --port "$(PORT)"

board-test: setup
	$(PY) -m host_tools test $(if $(IP),--ip $(IP),--port "$(PORT)")

package-json: setup
	$(PY) -m host_tools build --package-json

clean:
	rm -rf build .pytest_cache

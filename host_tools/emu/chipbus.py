# Runs inside node, in the 32-bit MicroPython WebAssembly package: the glue
# between rp2040js (one call per SPI byte, CS and RST edges, the INT pin) and
# the project's own chip models (boards/sim/w5500.py, boards/sim/enc28j60.py),
# the same models the simulator boards and tests/test_model_*.py use.
# Frames cross the JavaScript boundary as hex strings (a Uint8Array arrives
# in Python as a JsProxy, which the models cannot index).
from boards.sim.memwire import MemWire


class BusSettings:
    """What the model's check_bus() reads: the PL022's configuration."""

    def __init__(self, baudrate, polarity, phase):
        self.baudrate = baudrate
        self.polarity = polarity
        self.phase = phase


class ChipBus:
    def __init__(self, chip):
        self.wire = MemWire()
        if chip == "w5500":
            from boards.sim.w5500 import W5500Model

            self.model = W5500Model(self.wire)
        elif chip == "enc28j60":
            from boards.sim.enc28j60 import ENC28J60Model

            self.model = ENC28J60Model(self.wire)
        else:
            raise ValueError("unknown chip " + chip)
        self._w = bytearray(1)
        self._r = bytearray(1)
        self.checked = False
        self.errors = []  # protocol violations, reported by the runner

    def _guard(self, fn, *args):
        try:
            return fn(*args)
        except Exception as e:  # ChipProtocolError and model bugs alike
            self.errors.append("%s: %s" % (type(e).__name__, e))
            return None

    def check_bus(self, baudrate, polarity, phase):
        self.checked = True
        self._guard(self.model.check_bus, BusSettings(baudrate, polarity, phase))

    def byte(self, v):
        """One byte clocked on SPI: MOSI in, MISO out."""
        self._w[0] = v
        self._r[0] = 0
        self._guard(self.model.xfer, self._w, self._r, 1, 0)
        return self._r[0]

    def cs(self, level):
        self._guard(self.model.cs_changed, level)

    def rst(self, level):
        self._guard(self.model._rst_changed, level)

    def int_level(self):
        v = self._guard(self.model.int_level)
        return 1 if v is None else v

    def put_hex(self, text):
        self.wire.put(bytes.fromhex(text))

    def take_hex(self):
        """Frames the chip sent since the last call, hex, joined by ','."""
        sent = self.wire.sent
        if not sent:
            return ""
        out = ",".join(f.hex() for f in sent)
        self.wire.sent = []
        return out

    def take_errors(self):
        e = self.errors
        self.errors = []
        return "\n".join(e)

    def counters(self):
        m = self.model
        names = ("transactions", "violations", "rx_frames", "tx_frames", "rx_overflows")
        return ",".join("%s=%d" % (n, getattr(m, n)) for n in names if hasattr(m, n))

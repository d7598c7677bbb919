"""The drivers and chip models inside the MicroPython unix port, the wire a
socketpair carrying the launcher's framed stream: frames of 60..1514 bytes
echoed through the driver with the loop under micropython.heap_lock(), so
neither driver nor model allocates per frame on the real VM."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MICROPYTHON = ROOT / ".venv" / "bin" / "micropython"

SCRIPT = r"""
import sys, gc, micropython
chip = sys.argv[1]
fd = int(sys.argv[2])
count = int(sys.argv[3])
from stack.drivers.tap import FramedWire
from boards.sim.machine import SPI, Pin
MAC = b"\x02\x00\x00\x00\x00\x02"
wire = FramedWire(fd)
cs = Pin(17, Pin.OUT, value=1)
irq = Pin(21, Pin.IN)
if chip == "enc28j60":
    from boards.sim.enc28j60 import ENC28J60Model
    from stack.drivers.enc28j60 import ENC28J60
    spi = SPI(1, baudrate=20000000)
    model = ENC28J60Model(wire)
    model.attach(spi, cs, int_pin=irq)
    d = ENC28J60(spi, cs, MAC, int_pin=irq)
else:
    from boards.sim.w5500 import W5500Model
    from stack.drivers.w5500 import W5500
    spi = SPI(0, baudrate=33000000)
    model = W5500Model(wire)
    model.open_ptr = 0xF800
    model.attach(spi, cs, int_pin=irq)
    d = W5500(spi, cs, MAC, int_pin=irq)
buf = bytearray(1518)
gc.collect()
print("READY", gc.mem_alloc(), gc.mem_free())
echoed = 0
warm = False
while echoed < count:
    if warm:
        micropython.heap_lock()
    n = d.recv_into(buf)
    if n:
        d.send(buf, n)
        echoed += 1
    else:
        d.wait(50)
    if warm:
        micropython.heap_unlock()
    warm = echoed > 0
print("DONE", echoed, d.stats["rx_frames"], d.stats["tx_frames"], model.violations, spi.bytes)
"""

SIZES = (60, 1514, 61, 1000, 1513, 64, 333)


def _frame(n, seq):
    mac = b"\x02\x00\x00\x00\x00\x02"
    body = bytes((seq + i) & 0xFF for i in range(n - 14))
    return mac + b"\x02\x00\x00\x00\x00\x01\x08\x00" + body


def _recv_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError
        out += chunk
    return out


@pytest.mark.parametrize("chip", ["enc28j60", "w5500"])
def test_echo_through_driver_and_model_in_unix_port_heap_locked(chip, tmp_path):
    if not MICROPYTHON.exists():
        pytest.skip("no MicroPython unix port in .venv")
    script = tmp_path / "drv_echo.py"
    script.write_text(SCRIPT)
    count = 60
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    env = dict(os.environ, MICROPYPATH=str(ROOT))
    p = subprocess.Popen([str(MICROPYTHON), "-X", "heapsize=256wK", str(script), chip,
                          str(theirs.fileno()), str(count)], pass_fds=(theirs.fileno(),),
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    theirs.close()
    ours.settimeout(20)
    try:
        # frames sent before the driver enables RX would be dropped, as by a chip
        ready = p.stdout.readline()
        assert ready.startswith("READY"), ready + p.communicate(timeout=5)[0]
        for i in range(count):
            f = _frame(SIZES[i % len(SIZES)], i)
            ours.sendall(len(f).to_bytes(2, "big") + f)
            n = int.from_bytes(_recv_exact(ours, 2), "big")
            assert _recv_exact(ours, n) == f
        out = p.communicate(timeout=20)[0]
    finally:
        if p.poll() is None:
            p.kill()
        ours.close()
    assert p.returncode == 0, out
    print(chip, ready.strip())
    done = [line for line in out.splitlines() if line.startswith("DONE")]
    assert done, out
    _, echoed, rx, tx, violations, spi_bytes = done[0].split()
    assert (int(echoed), int(rx), int(tx), int(violations)) == (count, count, count, 0)
    payload = 2 * sum(SIZES[i % len(SIZES)] for i in range(count))
    assert int(spi_bytes) < 1.10 * payload + 2000  # bring-up + per-frame overhead


FAULTS = r"""
import errno, time
from boards.sim.machine import SPI, Pin
from boards.sim.memwire import MemWire
from boards.sim.enc28j60 import ENC28J60Model, ChipProtocolError as EncError
from boards.sim.w5500 import W5500Model
from stack.drivers.enc28j60 import ENC28J60
from stack.drivers.w5500 import W5500
MAC = b"\x02\x00\x00\x00\x00\x02"
def frame(n, seq):
    b = bytearray(n)
    b[0:6] = MAC
    b[12] = 8
    for i in range(14, n):
        b[i] = (seq + i) & 0xFF
    return b
def rig(chip):
    wire = MemWire()
    cs = Pin(17, Pin.OUT, value=1)
    irq = Pin(21, Pin.IN)
    if chip == "enc":
        spi = SPI(1, baudrate=20000000)
        m = ENC28J60Model(wire)
        m.attach(spi, cs, int_pin=irq)
        return wire, m, ENC28J60(spi, cs, MAC, int_pin=irq)
    spi = SPI(0, baudrate=33000000)
    m = W5500Model(wire)
    m.open_ptr = 0xFF00
    m.attach(spi, cs)  # no INT pin: RSR reads tear
    return wire, m, W5500(spi, cs, MAC)
buf = bytearray(1518)
# ENC28J60: RX overflow then recovery, late collisions retried, link flap
wire, m, d = rig("enc")
for i in range(8):
    wire.put(frame(1514, i))
m.poll()
assert m.rx_overflows == 4
for i in range(4):
    assert d.recv_into(buf) == 1514 and buf[:1514] == frame(1514, i)
assert d.recv_into(buf) == 0 and d.stats["rx_overflow"] == 1
m.inject_late_collisions = 3
assert d.send(frame(300, 1), 300) and d.stats["tx_retry"] == 3 and wire.sent[-1] == frame(300, 1)
m.set_link(False)
assert not d.link_up()
m.set_link(True)
assert d.link_up()
print("ENC OK")
# W5500: torn RSR reads, 16-bit pointer wrap
wire, m, d = rig("w5500")
for i in range(50):
    wire.put(frame(1514, i))
    assert d.recv_into(buf) == 1514 and buf[:1514] == frame(1514, i)
assert d.stats["unstable_reads"] >= 50 and m.rx_wr < 0xFF00 and m.violations == 0
print("W5500 OK")
# no chip on the bus: a clear OSError, quickly
for level in (0x00, 0xFF):
    for cls in (ENC28J60, W5500):
        t0 = time.ticks_ms()
        try:
            cls(SPI(0, baudrate=20000000, absent=level), Pin(1, Pin.OUT, value=1), MAC)
            raise AssertionError("no error")
        except OSError as e:
            assert e.errno == errno.ENODEV
        assert time.ticks_diff(time.ticks_ms(), t0) < 500
print("ABSENT OK")
# a chip that dies after bring-up (MISO stuck): OSError(ENODEV) even under
# heap_lock (the exception was made at start-up)
import micropython
for level in (0x00, 0xFF):
    for chip in ("enc", "w5500"):
        wire, m, d = rig(chip)
        f = frame(200, 1)
        assert d.send(f, 200)
        m.wire = None  # (MemWire.send keeps copies: it allocates)
        d._spi.miso_stuck = level
        micropython.heap_lock()
        try:
            d.send(f, 200)
            err = 0
        except OSError as e:
            err = e.errno
        finally:
            micropython.heap_unlock()
        assert err == errno.ENODEV and d.stats["chip_dead"] == 1, (chip, level, err)
print("DEAD OK")
# an application that keeps calling a dead driver: each raise must not grow
# the heap for good (re-raising one exception object appends to its
# traceback on this VM, ~48 B a raise; drivers/dead.py raises copies)
import gc
for chip in ("enc", "w5500"):
    wire, m, d = rig(chip)
    f = frame(200, 1)
    assert d.send(f, 200)
    m.wire = None
    d._spi.miso_stuck = 0xFF
    for i in range(2):
        try:
            d.send(f, 200)
        except OSError:
            pass
    gc.collect()
    a = gc.mem_alloc()
    texts = 0
    for i in range(300):
        try:
            d.send(f, 200) if i % 2 else d.recv_into(f)
        except OSError as e:
            texts += "stopped answering" in e.args[1] and e.args[0] == errno.ENODEV
    gc.collect()
    grown = gc.mem_alloc() - a
    assert texts == 300 and grown < 256, (chip, texts, grown)
print("REPEAT OK")
"""


def test_fault_paths_in_unix_port(tmp_path):
    if not MICROPYTHON.exists():
        pytest.skip("no MicroPython unix port in .venv")
    script = tmp_path / "drv_faults.py"
    script.write_text(FAULTS)
    env = dict(os.environ, MICROPYPATH=str(ROOT))
    r = subprocess.run([str(MICROPYTHON), "-X", "heapsize=256wK", str(script)], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split() == ["ENC", "OK", "W5500", "OK", "ABSENT", "OK", "DEAD", "OK",
                                "REPEAT", "OK"]

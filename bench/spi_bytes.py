"""SPI bytes clocked per payload byte on the simulated ENC28J60 and W5500, and
the throughput the SPI bus allows at the board's clock beside the chip's own
limit (ENC28J60: the 10 Mbit/s line; W5500: the SPI clock, since its 100 Mbit/s
line is faster than the bus).

Two measurements:
  frames  in-process (CPython), driver + chip model, a stream of full-size
          frames each way: SPI bytes per frame byte and per UDP payload byte
          (1472 per 1514-byte frame). Deterministic.
  tcp     the firmware on the simulated board (MicroPython unix port, Linux
          peer in a namespace): curl GET /bulk (stack sends) and POST /sink
          (stack receives); SPI bytes from the driver's sim_spi_bytes counter
          over the TCP payload, ACKs and handshakes included.

Goal: <= 1.10 SPI bytes per payload byte. The SPI bus is half duplex in use
(one transfer at a time), so RX and TX share the rate printed.
"""

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHIPS = (
    # board, SPI clock, the chip's own limit in Mbit/s and what it is
    ("sim_enc28j60", 20_000_000, 10.0, "10BASE-T line"),
    ("sim_w5500", 33_000_000, 33.0, "SPI clock (100 Mbit/s line)"),
)
FRAMES = 400
GOAL = 1.10
TCP_BYTES = 2_000_000
NETNS = "benchspi"
STACK_IP = "192.0.2.2"
STATUS_PORT = 9999


def _stub_micropython():
    if "micropython" not in sys.modules:
        import types

        m = types.ModuleType("micropython")
        m.const = lambda x: x
        m.native = m.viper = lambda f: f
        m.heap_lock = m.heap_unlock = lambda: 0
        sys.modules["micropython"] = m


def _rig(board):
    _stub_micropython()
    from boards.sim.machine import SPI, Pin
    from boards.sim.memwire import MemWire

    wire = MemWire()
    cs = Pin(17, Pin.OUT, value=1)
    irq = Pin(21, Pin.IN)
    mac = b"\x02\x00\x00\x00\x00\x02"
    if board == "sim_enc28j60":
        from boards.sim.enc28j60 import ENC28J60Model
        from stack.drivers.enc28j60 import ENC28J60

        spi = SPI(1, baudrate=20_000_000)
        model = ENC28J60Model(wire)
        model.attach(spi, cs, int_pin=irq)
        drv = ENC28J60(spi, cs, mac, int_pin=irq)
    else:
        from boards.sim.w5500 import W5500Model
        from stack.drivers.w5500 import W5500

        spi = SPI(0, baudrate=33_000_000)
        model = W5500Model(wire)
        model.attach(spi, cs, int_pin=irq)
        drv = W5500(spi, cs, mac, int_pin=irq)
    return wire, spi, drv, mac, model


def frames(board):
    """(rx SPI bytes/frame byte, tx SPI bytes/frame byte, rx and tx CS
    transactions per frame) for full-size frames."""
    wire, spi, drv, mac, model = _rig(board)
    f = mac + b"\x02\x00\x00\x00\x00\x01\x08\x00" + bytes(1500)
    buf = bytearray(1518)
    b0, t0 = spi.bytes, model.transactions
    for _ in range(FRAMES):
        wire.put(f)
        assert drv.recv_into(buf) == 1514
    rx = (spi.bytes - b0) / (FRAMES * 1514)
    rx_t = (model.transactions - t0) / FRAMES
    b0, t0 = spi.bytes, model.transactions
    for _ in range(FRAMES):
        assert drv.send(buf, 1514)
    tx = (spi.bytes - b0) / (FRAMES * 1514)
    tx_t = (model.transactions - t0) / FRAMES
    assert len(wire.sent) == FRAMES and model.violations == 0
    return rx, tx, rx_t, tx_t


def _status(netns):
    from host_tools.netns import InNetns

    with InNetns(netns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(2)
        for _ in range(3):
            s.sendto(b"?", (STACK_IP, STATUS_PORT))
            try:
                return json.loads(s.recvfrom(65535)[0])
            except socket.timeout:
                continue
    finally:
        s.close()
    return None


def _curl(*args):
    cmd = ["ip", "netns", "exec", NETNS, "curl", "-s", "-o", "/dev/null", "--max-time", "120",
           "-w", "%{size_download} %{size_upload} %{time_total}"] + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=150)
    try:
        down, up, secs = r.stdout.split()
        return int(down), int(up), float(secs)
    except ValueError:
        return 0, 0, 0.0


# The default 2 KB rings cap a segment near 1 KB; a board with RAM to spare
# gives TCP 8 KB windows (two connections: the same data heap as four of 2 KB).
BIG_RINGS = "tcp_rx_bytes=8192,tcp_tx_bytes=8192,tcp_conns=2"


def tcp(board, config=None):
    """{'send': (ratio, MB/s), 'recv': (ratio, MB/s)} or {'error': why}."""
    from host_tools import netns as nsmod

    ok, why = nsmod.can_create()
    if not ok:
        return {"error": why}
    extra = ["--", "--config", config] if config else []
    proc = subprocess.Popen([sys.executable, "-m", "host_tools", "sim", "--board", board,
                             "--netns", NETNS, "--no-forward"] + extra, cwd=str(ROOT),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        if not line.startswith("READY"):
            return {"error": "simulator did not start"}
        url = "http://%s" % STACK_IP
        deadline = time.monotonic() + 15
        while _curl(url + "/")[2] == 0.0:
            if time.monotonic() > deadline:
                return {"error": "no HTTP on the stack ('HTTP off' in the log?)"}
            time.sleep(0.2)
        out = {}
        for what in ("send", "recv"):
            before = _status(NETNS)
            if what == "send":
                down, up, secs = _curl("%s/bulk?n=%d" % (url, TCP_BYTES))
                moved = down
            else:
                down, up, secs = _post(url)
                moved = up
            after = _status(NETNS)
            if not before or not after or moved != TCP_BYTES:
                out[what] = None
                continue
            d = {k: after["driver"].get(k, 0) - before["driver"].get(k, 0)
                 for k in ("sim_spi_bytes", "rx_frames", "tx_frames")}
            data_frames = d["tx_frames"] if what == "send" else d["rx_frames"]
            ack_frames = d["rx_frames"] if what == "send" else d["tx_frames"]
            # frame bytes on the wire: Ethernet+IPv4+TCP headers (54) on every data
            # segment, a 60-byte (padded) frame per pure ACK
            wire = moved + 54 * data_frames + 60 * ack_frames
            out[what] = (d["sim_spi_bytes"] / moved, moved / secs / 1e6 if secs else 0.0,
                         moved / max(1, data_frames), ack_frames / max(1, data_frames),
                         d["sim_spi_bytes"] / wire)
        return out
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _post(url):
    data = b"s" * TCP_BYTES
    cmd = ["ip", "netns", "exec", NETNS, "curl", "-s", "-o", "/dev/null", "--max-time", "120",
           "-w", "%{size_download} %{size_upload} %{time_total}", "--data-binary", "@-",
           "-H", "Content-Type: application/octet-stream", url + "/sink"]
    r = subprocess.run(cmd, capture_output=True, input=data, timeout=150)
    try:
        down, up, secs = r.stdout.decode().split()
        return int(down), int(up), float(secs)
    except ValueError:
        return 0, 0, 0.0


def _ms_per_mb(ratio, clock):
    return ratio * 1e6 * 8 / clock * 1000


def _limits(ratio, clock, chip_mbit):
    spi_mbit = clock / 1e6 / ratio  # payload Mbit/s if the bus did nothing else
    return spi_mbit, min(spi_mbit, chip_mbit)


def main():
    print("   SPI bytes per payload byte (goal <= %.2f); implied payload Mbit/s at the SPI clock"
          % GOAL)
    print("   (bus Mb/s: payload rate if the SPI bus did nothing else = clock / SPI/B;"
          " bus ms/MB: SPI time per MB of payload; limit: the lower of bus and chip)")
    print("   %-13s %-9s %-22s %7s %9s %9s %10s  %s" % ("board", "clock", "stream", "SPI/B",
                                                      "bus Mb/s", "bus ms/MB", "limit Mb/s",
                                                      "chip limit"))
    for board, clock, chip_mbit, what in CHIPS:
        rx, tx, rx_t, tx_t = frames(board)
        print("   %-13s %4.0f MHz  CS transactions per 1514-byte frame: rx %.1f, tx %.1f"
              % (board, clock / 1e6, rx_t, tx_t))
        for name, ratio in (("frames rx (per frame B)", rx), ("frames tx (per frame B)", tx),
                            ("udp rx (1472/frame)", rx * 1514 / 1472),
                            ("udp tx (1472/frame)", tx * 1514 / 1472)):
            spi_mbit, lim = _limits(ratio, clock, chip_mbit)
            flag = "" if ratio <= GOAL else "  OVER GOAL"
            print("   %-13s %4.0f MHz  %-22s %7.3f %9.1f %9.0f %10.1f  %.0f Mbit/s %s%s"
                  % (board, clock / 1e6, name, ratio, spi_mbit, _ms_per_mb(ratio, clock), lim,
                     chip_mbit, what, flag))
        for config, rings in ((None, "2K"), (BIG_RINGS, "8K")):
            _tcp_rows(board, clock, chip_mbit, what, config, rings)
    print("   TCP over the goal is TCP's segment size and ACK rate (above), not the SPI drivers.")
    return 0


def _tcp_rows(board, clock, chip_mbit, what_chip, config, rings):
    r = tcp(board, config)
    if "error" in r:
        print("   %-13s %4.0f MHz  tcp: skipped (%s)" % (board, clock / 1e6, r["error"]))
        return
    for which, name in (("send", "tcp send /bulk, %s rings" % rings),
                        ("recv", "tcp recv /sink, %s rings" % rings)):
        v = r.get(which)
        if v is None:
            print("   %-13s %4.0f MHz  %-22s    n/a (transfer incomplete)"
                  % (board, clock / 1e6, name))
            continue
        ratio, mbs, seg, acks, per_wire = v
        spi_mbit, lim = _limits(ratio, clock, chip_mbit)
        flag = "" if ratio <= GOAL else "  OVER GOAL"
        print("   %-13s %4.0f MHz  %-22s %7.3f %9.1f %9.0f %10.1f  %.0f Mbit/s %s%s"
              % (board, clock / 1e6, name, ratio, spi_mbit, _ms_per_mb(ratio, clock), lim,
                 chip_mbit, what_chip, flag))
        print("   %-13s %9s  %-22s   = TCP: %.0f B/segment, %.2f ACK frames/segment;"
              " driver: %.3f SPI B per frame B; sim %.2f MB/s"
              % ("", "", "", seg, acks, per_wire, mbs))


if __name__ == "__main__":
    sys.exit(main())

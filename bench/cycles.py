"""On-target CPU cost (docs/emulator.md): cycles of the emulated RP2040's
Cortex-M0+ (rp2040js counts every executed instruction's cycles; a WFI sleep
costs none) per ICMP echo, per full-size TCP segment received and sent, and
per keep-alive HTTP request, on emu_rp2040_w5500 and emu_rp2040_enc28j60.

Each figure is (cycles during the burst - idle cycles for the same emulated
time) / events, where the idle rate is measured first with no traffic (the
firmware's wait loop polling the INT pin each ms). The implied throughput
ceiling at 125 MHz is printed beside the SPI limit at the board's SPI clock
(bytes clocked per payload byte, counted on the emulated bus) and beside
MicroPython's own lwIP over W5500 MACRAW (5.5 Mbit/s published, 20 MHz SPI)."""

import os
import tempfile
import time

from host_tools import emu

STACK = "192.0.2.2"
MSS = 1460
CPU_HZ = 125_000_000
LWIP_MBIT = 5.5
BOARDS = (("emu_rp2040_w5500", 31_250_000), ("emu_rp2040_enc28j60", 15_625_000))


def measure(s, fn, events):
    t = s.target
    c0, us0 = t.cycles()
    spi0 = int(t.counters().get("spi_bytes", 0))
    fn()
    c1, us1 = t.cycles()
    spi1 = int(t.counters().get("spi_bytes", 0))
    return c1 - c0, us1 - us0, spi1 - spi0, events


def board_figures(board, spi_hz):
    n_ping, n_req, size = 50, 20, 200 * 1024
    with emu.Session(board) as s:
        t = s.target
        c0, us0 = t.cycles()
        time.sleep(3)
        c1, us1 = t.cycles()
        idle = (c1 - c0) / max(1, us1 - us0)  # cycles per emulated us, idle

        def cost(m):
            cyc, us, spi, n = m
            return max(0.0, cyc - idle * us) / n, spi / n

        ping = cost(measure(s, lambda: s.run("ping", "-c", str(n_ping), "-i", "0.05", "-q",
                                             STACK), n_ping))
        segs = size // MSS
        send = cost(measure(s, lambda: s.run("curl", "-s", "-o", "/dev/null",
                                             "http://%s/bulk?n=%d" % (STACK, size)), segs))
        with tempfile.NamedTemporaryFile() as f:
            f.write(os.urandom(size))
            f.flush()
            recv = cost(measure(s, lambda: s.run("curl", "-s", "-o", "/dev/null", "--data-binary",
                                                 "@" + f.name, "http://%s/sink" % STACK), segs))
        urls = ["http://%s/" % STACK] * n_req
        req = cost(measure(s, lambda: s.run("curl", "-s", "-o", "/dev/null", *urls), n_req))
    print("   %s (SPI %.2f MHz), idle %.0f cycles/ms:" % (board, spi_hz / 1e6, idle * 1000))
    print("     ICMP echo              %8.0f cycles  (%5.0f SPI bytes)" % ping)
    print("     TCP segment received   %8.0f cycles  (%5.0f SPI bytes, 1460 B payload)" % recv)
    print("     TCP segment sent       %8.0f cycles  (%5.0f SPI bytes, 1460 B payload)" % send)
    print("     keep-alive HTTP request%8.0f cycles" % req[0])
    for name, (cyc, spi) in (("receive", recv), ("send", send)):
        cpu_mbit = CPU_HZ / cyc * MSS * 8 / 1e6 if cyc else float("inf")
        spi_mbit = spi_hz / 8 / spi * MSS * 8 / 1e6 if spi else float("inf")
        print("     %-7s ceiling: CPU at 125 MHz %.2f Mbit/s | SPI at %.2f MHz %.1f Mbit/s | "
              "MicroPython lwIP on W5500 MACRAW %.1f Mbit/s (published, 20 MHz SPI)"
              % (name, cpu_mbit, spi_hz / 1e6, spi_mbit, LWIP_MBIT))


def main():
    for board, spi_hz in BOARDS:
        board_figures(board, spi_hz)


if __name__ == "__main__":
    main()

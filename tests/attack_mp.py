# The firmware the attack suite hits (tests/test_attack_*.py through
# tests/mp_firmware.py): the board's bring-up, the HTTP server on port 80
# (firmware/http.py over stack.socket, idle clients closed after 2 s), the
# TCP services of firmware/tcp_services.py (echo 7, sink 9 with sha256, source
# 19), the UDP echo (7) and status (9999) services. Shorter bounds than the
# defaults so that bounded attacks end within a test: tcp_max_retries 4 and
# tcp_persist_max_ms 2 s (an orphan held by a zero window is aborted after 4
# probes, at most 2 s apart).
#
#   micropython attack_mp.py --board sim_w5500 --fd N
#
# stdin: "heap" prints "HEAP <alloc after gc.collect>"; "conns" prints the
# TCP connections; "arp" prints the neighbour cache; EOF ends it.
import gc
import select
import sys
import time

from firmware import main as fw
from firmware import page, tcp_services
from firmware.http import HTTPServer
from firmware.udp_services import Echo, Status
from stack import socket as ssock
from stack import tcp as T

HTTP_CLIENTS = 4


def main():
    opts = fw.parse_args(sys.argv[1:])
    board = fw.load_board(opts)
    cfg = board.config()
    cfg.tcp_rx_bytes = 4096
    cfg.tcp_tx_bytes = 4096
    cfg.tcp_conns = 8
    cfg.tcp_listeners = 6
    cfg.tcp_max_retries = 4
    cfg.tcp_persist_max_ms = 2000
    board.config = lambda: cfg
    iface = fw.start(opts)
    T.TCP(iface, cfg)
    svc = tcp_services.Services(iface)
    ssock.attach(iface)
    http = HTTPServer(ssock, info=page.StackInfo(iface), port=80, max_clients=HTTP_CLIENTS,
                      backlog=2, head_max=768, out_max=768, chunk=1460, idle_ms=2000)
    echo = Echo(iface, iface.mtu)
    status = Status(iface, None)
    drv = iface.driver
    cmd = select.poll()
    cmd.register(sys.stdin, select.POLLIN)
    print("READY")
    while True:
        now = time.ticks_ms()
        iface.poll(now)
        svc.poll(now)
        echo.poll(now)
        http.step(0)
        if status.pending():
            status.poll(now)
        if cmd.poll(0):
            words = sys.stdin.readline().split()
            if not words:
                return
            if words[0] == "heap":
                gc.collect()
                print("HEAP %d" % gc.mem_alloc())
            elif words[0] == "conns":
                print("CONNS %s" % " ".join(
                    "%s/%s>%s" % (c["state"], c["local"], c["remote"])
                    for c in iface.tcp.connections()))
            elif words[0] == "arp":
                print("ARP %s" % " ".join(
                    "%s/%s" % (e[0], e[2]) for e in iface.arp.entries()))
        w = iface.poll_at(time.ticks_ms())
        drv.wait(w if w < 10 else 10)


main()

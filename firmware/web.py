# The HTTP page on our stack: firmware/main.py calls start(iface, cfg) once at
# bring-up and web.step(0) in its loop (after iface.poll). Everything the
# server needs is allocated here, once.
#
# Also runnable alone with the same bring-up as main.py, for tests and the
# benchmark: micropython firmware/web.py --board NAME --fd N [--port 80]
import sys

PORT = 80


def start(iface, cfg=None, port=PORT, max_clients=0):
    """The HTTP server on iface, or None if there is no TCP engine to serve on."""
    import gc

    # Import (compile) everything first and collect, then allocate the big
    # buffers: compiling after them fragments a small heap past use.
    try:
        from stack.tcp import TCP
    except ImportError:
        return None
    from stack import socket as ssock

    from firmware import page
    from firmware.http import HTTPServer

    gc.collect()
    if cfg is None:
        cfg = iface.cfg
    if iface.tcp is None:
        TCP(iface, cfg)
    ssock.attach(iface)
    conns = getattr(cfg, "tcp_conns", 4)
    if not max_clients:
        # A slot for every TCB, and a backlog as large as the pool: connections
        # are accepted as soon as the handshake ends, so the engine never
        # recycles a young half-open one (the peer would see a reset); when all
        # TCBs are busy a SYN is dropped and the peer's retransmission queues it.
        max_clients = conns
    return HTTPServer(ssock, info=page.StackInfo(iface), port=port, max_clients=max_clients,
                      backlog=conns, head_max=768, out_max=768, chunk=1460)


def _run(argv):
    import gc
    import time

    from firmware import main as fw

    port = PORT
    if "--port" in argv:
        i = argv.index("--port")
        port = int(argv[i + 1])
        argv = argv[:i] + argv[i + 2 :]
    opts = fw.parse_args(argv)
    board = fw.load_board(opts)
    iface = fw.start(opts)
    web = start(iface, board.config(), port)
    gc.collect()
    print("HEAP used=%d free=%d" % (gc.mem_alloc(), gc.mem_free()))
    drv = iface.driver
    while True:
        now = time.ticks_ms()
        w = iface.poll(now)
        web.step(0)
        if w is None or w < 0 or w > 50:
            w = 50
        # step(0) may have queued data and run timers: wait only if idle
        drv.wait(w)


if __name__ == "__main__":
    _run(sys.argv[1:])

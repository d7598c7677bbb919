# The HTTP server on the unix port's own kernel sockets: the baseline the
# benchmark compares our stack against, and the way its tests prove the server
# logic without the stack.
#
#   micropython firmware/http_unix.py --port N [--host 127.0.0.1] [--clients 4]
#                                     [--alloc-probe K]
#
# Prints "LISTENING host:port" once the socket listens. --alloc-probe K prints
# "ALLOC requests=K bytes=B per_request=P" after K requests that follow the
# first 10: "bytes" is garbage left on the heap (gc.mem_alloc() growth with the
# collector off); "total" is micropython.mem_total() growth, which also counts
# the frames of large functions that the VM puts on the heap and frees at once.
import gc
import socket
import sys

import micropython

from firmware.http import HTTPServer


def main(argv):
    host = "127.0.0.1"
    port = 8080
    clients = 4
    probe = 0
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--port":
            port = int(argv[i + 1])
        elif a == "--host":
            host = argv[i + 1]
        elif a == "--clients":
            clients = int(argv[i + 1])
        elif a == "--alloc-probe":
            probe = int(argv[i + 1])
        else:
            raise ValueError("unknown argument: " + a)
        i += 2
    srv = HTTPServer(socket, host=host, port=port, max_clients=clients, backlog=16)
    print("LISTENING %s:%d" % (host, port))
    if not probe:
        srv.serve_forever()
    st = srv.stats
    while st["requests"] < 10:
        srv.step(1000)
    gc.collect()
    gc.disable()
    start_req = st["requests"]
    start_total = micropython.mem_total()
    start = gc.mem_alloc()
    while st["requests"] < start_req + probe:
        srv.step(1000)
    used = gc.mem_alloc() - start
    total = micropython.mem_total() - start_total
    gc.enable()
    n = st["requests"] - start_req
    print("ALLOC requests=%d bytes=%d per_request=%d total_per_request=%d"
          % (n, used, used // n, total // n))
    srv.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])

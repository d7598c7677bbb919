"""Forward a host TCP port into a namespace: host 127.0.0.1:PORT -> STACK_IP:80."""

import socket
import threading

from host_tools.netns import InNetns


def _pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        try:
            src.shutdown(socket.SHUT_RD)
        except OSError:
            pass


def _serve_one(client, netns, target):
    with InNetns(netns):
        upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        upstream.settimeout(10)
        upstream.connect(target)
        upstream.settimeout(None)
    except OSError:
        client.close()
        upstream.close()
        return
    t = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    t.start()
    _pump(client, upstream)
    t.join()
    client.close()
    upstream.close()


def start(listen_host, listen_port, netns, target_ip, target_port=80):
    """Listen on the host side (in the caller's namespace); returns the socket."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((listen_host, listen_port))
    srv.listen(16)

    def accept_loop():
        while True:
            try:
                client, _ = srv.accept()
            except OSError:
                return
            threading.Thread(
                target=_serve_one, args=(client, netns, (target_ip, target_port)), daemon=True
            ).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    return srv

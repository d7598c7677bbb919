"""Soak: mixed load and periodic attack bursts against the firmware on
sim_w5500 (the launcher, firmware/main.py: HTTP on 80, UDP echo on 7, status
on 9999), bounded in time; prints the heap over time and the counters.

    python tests/soak.py [SECONDS]        (make soak: 600)

Load, each a thread until the time is up, every answer checked:
  keep-alive  one HTTP/1.1 connection, GET / (and /stats.json) every 0.2 s
  new conns   a new connection per request: GET /bulk?n=20000, exact bytes
  bulk        GET /bulk?n=2000000 and POST /sink of 500 KB, alternating
  ping        one echo request at a time (3 tries of 1 s: a lost frame is
              not a failure, an unanswered request is)
  udp         echo datagrams of 1..1400 random bytes to port 7 (3 tries)
  attacks     every 10 s a burst from spoofed 192.0.2.120-249 sources: 300
              SYNs, 200 ARP requests, 100 NULL/XMAS/SYN+FIN scans, 200
              incomplete fragments, a LAND SYN
Pass: 0 failed legitimate requests; the heap at the end (load stopped,
connections closed) within 1 KB of the heap after the warm-up round."""

import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from host_tools.netns import InNetns  # noqa: E402
from scenario import Sim, fresh_netns_name  # noqa: E402

STACK = "192.0.2.2"
HEAP_BOUND = 1024
ATTACK_EVERY_S = 10


def alphabet(n):
    return (b"abcdefghijklmnopqrstuvwxyz" * (n // 26 + 1))[:n]


class Soak:
    def __init__(self, sim, seconds):
        self.sim = sim
        self.seconds = seconds
        self.stop_at = 0
        self.ok = {}
        self.failed = {}
        self.errors = []
        self.lock = threading.Lock()
        self.heap = []  # (t, mem_alloc)
        self.t0 = 0

    # -- bookkeeping -------------------------------------------------------------

    def count(self, kind, good, why=""):
        with self.lock:
            d = self.ok if good else self.failed
            d[kind] = d.get(kind, 0) + 1
            if not good and len(self.errors) < 20:
                self.errors.append("%.1f s %s: %s" % (time.monotonic() - self.t0, kind, why))

    def running(self):
        return time.monotonic() < self.stop_at

    def sock(self, kind=socket.SOCK_STREAM):
        with InNetns(self.sim.netns):
            return socket.socket(socket.AF_INET, kind)

    def http(self, timeout=30):
        with InNetns(self.sim.netns):
            c = http.client.HTTPConnection(STACK, 80, timeout=timeout)
            c.connect()
        return c

    # -- legitimate load ---------------------------------------------------------

    def keepalive(self):
        c = None
        i = 0
        while self.running():
            try:
                if c is None:
                    c = self.http()
                path = "/stats.json" if i % 10 == 9 else "/"
                c.request("GET", path)
                r = c.getresponse()
                body = r.read()
                good = r.status == 200 and (json.loads(body) if path != "/"
                                            else b"<!doctype html>" in body.lower())
                self.count("keepalive", bool(good), "%s %s" % (r.status, body[:60]))
                if r.getheader("connection", "").lower() == "close":
                    c.close()
                    c = None
            except (OSError, http.client.HTTPException, ValueError) as e:
                self.count("keepalive", False, repr(e))
                if c is not None:
                    c.close()
                c = None
            i += 1
            time.sleep(0.2)
        if c is not None:
            c.close()

    def newconn(self):
        while self.running():
            try:
                c = self.http()
                c.request("GET", "/bulk?n=20000", headers={"Connection": "close"})
                r = c.getresponse()
                body = r.read()
                c.close()
                self.count("newconn", r.status == 200 and body == alphabet(20000),
                           "%s %d bytes" % (r.status, len(body)))
            except (OSError, http.client.HTTPException) as e:
                self.count("newconn", False, repr(e))
            time.sleep(0.3)

    def bulk(self):
        up = os.urandom(500_000)
        down = alphabet(2_000_000)
        k = 0
        while self.running():
            try:
                c = self.http(60)
                if k % 2 == 0:
                    c.request("GET", "/bulk?n=2000000", headers={"Connection": "close"})
                    r = c.getresponse()
                    body = r.read()
                    self.count("bulk_down", r.status == 200 and body == down,
                               "%s %d bytes" % (r.status, len(body)))
                else:
                    c.request("POST", "/sink", body=up, headers={"Connection": "close"})
                    r = c.getresponse()
                    body = r.read()
                    self.count("bulk_up", r.status == 200 and body == b"500000\n",
                               "%s %r" % (r.status, body[:40]))
                c.close()
            except (OSError, http.client.HTTPException) as e:
                self.count("bulk", False, repr(e))
            k += 1

    def ping(self):
        while self.running():
            for _ in range(3):
                r = self.sim.run("ping", "-c", "1", "-W", "1", STACK, timeout=10)
                if r.returncode == 0:
                    break
            self.count("ping", r.returncode == 0, "3 tries unanswered")
            time.sleep(0.2)

    def udp(self):
        s = self.sock(socket.SOCK_DGRAM)
        s.settimeout(1)
        rnd = random.Random(7)
        try:
            while self.running():
                data = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 1400)))
                good = False
                for _ in range(3):
                    s.sendto(data, (STACK, 7))
                    try:
                        while True:  # a late echo of an earlier try may come first
                            if s.recv(2048) == data:
                                good = True
                                break
                    except socket.timeout:
                        pass
                    if good:
                        break
                self.count("udp", good, "3 tries unanswered (%d bytes)" % len(data))
                time.sleep(0.1)
        finally:
            s.close()

    # -- attacks -----------------------------------------------------------------

    def attack_frames(self):
        from scapy.layers.inet import IP, TCP
        from scapy.layers.l2 import ARP, Ether

        stack_mac = ":".join("%02x" % b for b in self.sim.stack_mac())
        host_mac = ":".join("%02x" % b for b in self.sim.host_mac())
        e = Ether(src=host_mac, dst=stack_mac)
        frames = []
        for i in range(300):
            frames.append(e / IP(src="192.0.2.%d" % (120 + i % 80), dst=STACK)
                          / TCP(sport=1024 + i, dport=80, flags="S", seq=i * 7919))
        for i in range(200):
            hw = "02:00:00:00:02:%02x" % (i % 256)
            frames.append(Ether(src=hw, dst="ff:ff:ff:ff:ff:ff")
                          / ARP(op=1, hwsrc=hw, psrc="192.0.2.%d" % (200 + i % 50), pdst=STACK))
        for i in range(100):
            frames.append(e / IP(src="192.0.2.%d" % (120 + i % 80), dst=STACK)
                          / TCP(sport=3000 + i, dport=(80, 81)[i % 2],
                                flags=("", "FPU", "SF")[i % 3], seq=i))
        for i in range(200):
            frames.append(e / IP(src="192.0.2.%d" % (120 + i % 80), dst=STACK, id=i,
                                 flags="MF", proto=17) / (b"f" * 600))
        frames.append(e / IP(src=STACK, dst=STACK) / TCP(sport=80, dport=80, flags="S"))
        return [bytes(f) for f in frames]

    def attacks(self):
        frames = self.attack_frames()
        link = self.sim.raw_link()
        bursts = 0
        try:
            while self.running():
                time.sleep(ATTACK_EVERY_S)
                if not self.running():
                    break
                for k, f in enumerate(frames):
                    link.send(f)
                    if k % 50 == 49:
                        time.sleep(0.02)  # paced a little, so each kind reaches the stack
                bursts += 1
        finally:
            link.close()
        self.bursts = bursts

    # -- heap ----------------------------------------------------------------------

    def heap_now(self):
        st = None
        for _ in range(3):
            try:
                st = self.status()
                break
            except OSError:
                continue
        return st["mem_alloc"] if st else None

    def status(self):
        s = self.sock(socket.SOCK_DGRAM)
        s.settimeout(2)
        try:
            s.sendto(b"?", (STACK, 9999))
            return json.loads(s.recv(65535))
        finally:
            s.close()

    def sampler(self):
        while self.running():
            time.sleep(min(15, max(1, self.seconds / 8)))
            h = self.heap_now()
            if h is not None:
                self.heap.append((time.monotonic() - self.t0, h))

    # -- the run ---------------------------------------------------------------------

    def settle(self):
        """Nothing legitimate open any more: HTTP idle clients and TIME_WAIT gone."""
        time.sleep(4)

    def run(self):
        # warm-up: one round of everything, so one-time objects exist
        self.stop_at = time.monotonic() + 3
        self.t0 = time.monotonic()
        for f in (self.keepalive, self.newconn, self.ping, self.udp):
            f()
        link = self.sim.raw_link()
        for f in self.attack_frames()[::20]:
            link.send(f)
        link.close()
        self.ok.clear()
        self.failed.clear()
        self.errors.clear()
        self.settle()
        start_heap = self.heap_now()
        self.t0 = time.monotonic()
        self.stop_at = self.t0 + self.seconds
        self.heap.append((0.0, start_heap))
        ths = [threading.Thread(target=f, daemon=True) for f in
               (self.keepalive, self.newconn, self.bulk, self.ping, self.udp, self.attacks,
                self.sampler)]
        for th in ths:
            th.start()
        for th in ths:
            th.join(self.seconds + 120)
        hung = [th for th in ths if th.is_alive()]
        load_s = time.monotonic() - self.t0
        self.settle()
        end_heap = self.heap_now()
        self.heap.append((time.monotonic() - self.t0, end_heap))
        st = self.status()
        return {"start_heap": start_heap, "end_heap": end_heap, "hung": len(hung),
                "load_s": load_s, "counters": st, "http": self.http_stats()}

    def http_stats(self):
        """The HTTP server's own counters (/stats.json): why it closed what it closed."""
        try:
            c = self.http(10)
            c.request("GET", "/stats.json")
            doc = json.loads(c.getresponse().read())
            c.close()
            return doc.get("http", {})
        except (OSError, http.client.HTTPException, ValueError) as e:
            return {"unreadable": repr(e)}

    def report(self, res):
        print("soak: %.0f s of load on sim_w5500, %d attack bursts" % (
            res["load_s"], getattr(self, "bursts", 0)))
        print("  requests ok:     %s" % dict(sorted(self.ok.items())))
        print("  requests failed: %s" % (dict(sorted(self.failed.items())) or 0))
        for e in self.errors:
            print("    " + e)
        print("  heap (mem_alloc after gc.collect, bytes) over time:")
        for t, h in self.heap:
            print("    %6.0f s  %s" % (t, h))
        print("  heap end - start: %+d B (bound %d)" % (
            res["end_heap"] - res["start_heap"], HEAP_BOUND))
        st = res["counters"]
        print("  iface counters: " + " ".join("%s=%d" % kv for kv in sorted(st["iface"].items())))
        print("  driver counters: " + " ".join("%s=%d" % kv
                                               for kv in sorted(st["driver"].items())))
        print("  http counters: " + " ".join("%s=%s" % kv for kv in sorted(res["http"].items())))
        if self.failed:  # what the firmware printed (a MemoryError in the HTTP step, ...)
            print("  launcher and firmware, last lines:\n    " + "\n    ".join(
                self.sim.log().splitlines()[-30:]))


def soak(seconds):
    # SOAK_PCAP=FILE: every frame both ways to FILE (for a failure's post-mortem)
    with Sim("sim_w5500", netns=fresh_netns_name(), pcap=os.environ.get("SOAK_PCAP")) as sim:
        s = Soak(sim, seconds)
        res = s.run()
        s.report(res)
        res["failed"] = sum(s.failed.values())
        res["ok"] = sum(s.ok.values())
        res["kinds"] = dict(s.ok)
        res["alive"] = sim.alive()
        return res


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    res = soak(seconds)
    bad = []
    if res["failed"]:
        bad.append("%d failed requests" % res["failed"])
    if res["hung"]:
        bad.append("%d load threads hung" % res["hung"])
    if abs(res["end_heap"] - res["start_heap"]) > HEAP_BOUND:
        bad.append("heap moved %+d B" % (res["end_heap"] - res["start_heap"]))
    if not res["alive"]:
        bad.append("the firmware died")
    print("soak: " + ("; ".join(bad) if bad else "pass"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

"""A bad network between the TAP and the stack, as `tc qdisc ... netem` would make it.

The spec is netem's: `loss 3% delay 10ms 5ms reorder 10% duplicate 1% corrupt 1%`.
`apply_tc()` asks the kernel for the real thing on the Linux side of the TAP;
where the kernel has no sch_netem ("Specified qdisc kind is unknown", as on
this project's CI machines) `Impairment` does the same in the launcher's relay,
on both directions. Semantics follow netem: a lost frame is dropped; a
reordered one (probability `reorder`) skips the delay while the rest wait
delay +- jitter (uniform), so later frames overtake; a duplicated one is sent
twice; a corrupted one (probability `corrupt`) has one random bit flipped
anywhere in the frame, as netem does, so bad checksums reach the stack (and
Linux). The random sequence is seeded, so a run can be repeated.
"""

import heapq
import random
import subprocess
import threading
import time


def parse(spec):
    """netem spec -> dict(loss, delay, jitter, reorder, duplicate, corrupt) as
    fractions/seconds."""
    w = spec.split()
    out = {"loss": 0.0, "delay": 0.0, "jitter": 0.0, "reorder": 0.0, "duplicate": 0.0,
           "corrupt": 0.0}
    i = 0

    def pct(s):
        if not s.endswith("%"):
            raise ValueError("expected a percentage, got %r" % s)
        return float(s[:-1]) / 100

    def ms(s):
        if not s.endswith("ms"):
            raise ValueError("expected a time in ms, got %r" % s)
        return float(s[:-2]) / 1000

    while i < len(w):
        key = w[i]
        if key not in out or key == "jitter" or i + 1 >= len(w):
            raise ValueError("netem spec: cannot read %r in %r" % (key, spec))
        if key == "delay":
            out["delay"] = ms(w[i + 1])
            i += 2
            if i < len(w) and w[i].endswith("ms"):
                out["jitter"] = ms(w[i])
                i += 1
        else:
            out[key] = pct(w[i + 1])
            i += 2
    return out


def apply_tc(netns, dev, spec):
    """Real netem on the Linux side of the TAP. Returns None, or why it can't."""
    r = subprocess.run(["ip", "netns", "exec", netns, "tc", "qdisc", "replace", "dev", dev,
                        "root", "netem"] + spec.split(), capture_output=True, text=True)
    return None if r.returncode == 0 else (r.stderr.strip() or "tc failed")


def clear_tc(netns, dev):
    subprocess.run(["ip", "netns", "exec", netns, "tc", "qdisc", "del", "dev", dev, "root"],
                   capture_output=True)


class Impairment:
    """Schedules frames by the spec; deliver(direction, frame) is called later
    from one sender thread, in due-time order."""

    def __init__(self, spec, deliver, seed=1234):
        self.params = parse(spec)
        self.spec = spec
        self._deliver = deliver
        self._rand = random.Random(seed)
        self._q = []
        self._seq = 0
        self._cv = threading.Condition()
        self._stop = False
        self.counts = {"frames": 0, "lost": 0, "reordered": 0, "duplicated": 0, "corrupted": 0}
        threading.Thread(target=self._sender, daemon=True).start()

    def put(self, direction, frame):
        p = self.params
        r = self._rand
        with self._cv:
            self.counts["frames"] += 1
            if r.random() < p["loss"]:
                self.counts["lost"] += 1
                return
            if p["corrupt"] and r.random() < p["corrupt"] and frame:
                self.counts["corrupted"] += 1
                bad = bytearray(frame)
                bit = r.randrange(len(bad) * 8)
                bad[bit >> 3] ^= 1 << (bit & 7)
                frame = bytes(bad)
            copies = 1
            if r.random() < p["duplicate"]:
                copies = 2
                self.counts["duplicated"] += 1
            now = time.monotonic()
            for _ in range(copies):
                if r.random() < p["reorder"]:
                    self.counts["reordered"] += 1
                    due = now
                else:
                    due = now + max(0.0, p["delay"] + r.uniform(-p["jitter"], p["jitter"]))
                self._seq += 1
                heapq.heappush(self._q, (due, self._seq, direction, frame))
            self._cv.notify()

    def _sender(self):
        while True:
            with self._cv:
                if self._stop:
                    return
                if not self._q:
                    self._cv.wait(0.1)
                    continue
                due, _, direction, frame = self._q[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._cv.wait(wait)
                    continue
                heapq.heappop(self._q)
            self._deliver(direction, frame)

    def stop(self):
        """Stop scheduling; frames still queued are delivered at once."""
        with self._cv:
            self._stop = True
            pending = sorted(self._q)
            self._q = []
            self._cv.notify()
        for _, _, direction, frame in pending:
            self._deliver(direction, frame)

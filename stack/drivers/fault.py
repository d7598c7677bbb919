# Fault injector: wraps any Driver and makes its link bad on purpose, on a
# board as on the host: drop, duplicate, corrupt (one bit flipped), delay
# (which reorders: later frames overtake a delayed one) and a byte-rate limit,
# each with a probability, from a seeded generator so a run repeats exactly.
#
#     drv = FaultDriver(W5500(spi, cs, mac), seed=7, drop=0.05, corrupt=0.01,
#                       delay=0.1, delay_ms=30, rate_bytes_per_s=200_000)
#
# Faults apply to received frames, sent frames or both (rx / tx). Probabilities
# become 16-bit thresholds at start-up and the generator works on 16-bit ints,
# so nothing is allocated per frame (floats and ints of 2**30 or more are heap
# objects on a 32-bit board). Delayed frames wait in `slots` preallocated
# buffers; with none free a frame goes undelayed (counted). Time comes from
# ticks_ms(), read only when a delay or the rate limit is on.
from micropython import const

from stack import mem
from stack import stats as _stats
from stack.clock import ticks_add, ticks_diff, ticks_ms

_ONE = const(0x10000)  # probability 1.0 as a 16-bit threshold
_MAX_FRAME = const(1518)
_TX = const(0)
_RX = const(1)
_WEYL = const(0x9E37)


def _threshold(p):
    if not 0 <= p <= 1:
        raise ValueError("a probability is between 0 and 1")
    return int(p * _ONE)


class FaultDriver:
    def __init__(
        self,
        inner,
        seed=1,
        drop=0.0,
        duplicate=0.0,
        corrupt=0.0,
        delay=0.0,
        delay_ms=50,
        rate_bytes_per_s=0,
        rx=True,
        tx=True,
        slots=4,
    ):
        self.inner = inner
        self.mac = inner.mac
        self._drop = _threshold(drop)
        self._dup = _threshold(duplicate)
        self._corrupt = _threshold(corrupt)
        self._delay = _threshold(delay)
        self._delay_ms = delay_ms
        self._rx = rx
        self._tx = tx
        # xorshift16 (7, 9, 8) plus a Weyl sequence: repeatable from the seed
        self._x = (seed & 0xFFFF) or 0xACE1
        self._w = (seed >> 16) & 0xFFFF
        # rate limit: a bucket of bytes, refilled per ms (burst: 100 ms worth, at least 1 frame)
        if rate_bytes_per_s and rate_bytes_per_s < 1000:
            raise ValueError("rate_bytes_per_s: 0 (off) or at least 1000")
        self._rate = rate_bytes_per_s
        self._per_ms = rate_bytes_per_s // 1000
        cap = self._per_ms * 100
        self._cap = cap if cap > _MAX_FRAME else _MAX_FRAME
        self._bucket = self._cap
        self._bucket_at = ticks_ms()
        # delayed (and duplicated received) frames
        self._slot_buf = [bytearray(_MAX_FRAME) for _ in range(slots)]
        self._slot_len = [0] * slots  # 0: free
        self._slot_dir = bytearray(slots)
        self._slot_due = [0] * slots
        self._dup_buf = bytearray(_MAX_FRAME)  # a received frame to hand out twice
        self._dup_len = 0
        self.stats = _stats.register(
            inner.stats,
            "fault_drop",
            "fault_duplicate",
            "fault_corrupt",
            "fault_delay",
            "fault_delay_full",
            "fault_rate_drop",
        )

    def _rand16(self):
        x = self._x
        x ^= (x << 7) & 0xFFFF
        x ^= x >> 9
        x ^= (x << 8) & 0xFFFF
        self._x = x
        self._w = (self._w + _WEYL) & 0xFFFF
        return (x + self._w) & 0xFFFF

    def _hit(self, threshold):
        return threshold > 0 and self._rand16() < threshold

    def _rate_ok(self, n):
        if not self._rate:
            return True
        now = ticks_ms()
        dt = ticks_diff(now, self._bucket_at)
        if dt > 0:
            self._bucket_at = now
            if dt > 1000:
                dt = 1000  # a full bucket long before this
            b = self._bucket + dt * self._per_ms
            self._bucket = b if b < self._cap else self._cap
        if self._bucket < n:
            self.stats["fault_rate_drop"] += 1
            return False
        self._bucket -= n
        return True

    def _mangle(self, buf, n):
        """Drop / corrupt: False if the frame is lost."""
        if self._hit(self._drop):
            self.stats["fault_drop"] += 1
            return False
        if not self._rate_ok(n):
            return False
        if self._hit(self._corrupt):
            self.stats["fault_corrupt"] += 1
            bit = (self._rand16() * n) >> 13  # a random bit of the n bytes: [0, 8n)
            buf[bit >> 3] ^= 1 << (bit & 7)
        return True

    def _hold(self, direction, buf, n):
        """Keep the frame for delay_ms; False if no slot is free."""
        for k in range(len(self._slot_len)):
            if not self._slot_len[k]:
                mem.copy(self._slot_buf[k], 0, buf, 0, n)
                self._slot_len[k] = n
                self._slot_dir[k] = direction
                self._slot_due[k] = ticks_add(ticks_ms(), self._delay_ms)
                self.stats["fault_delay"] += 1
                return True
        self.stats["fault_delay_full"] += 1
        return False

    def _due(self, direction):
        """Index of a delayed frame of that direction whose time has come, or -1."""
        now = -1
        for k in range(len(self._slot_len)):
            if self._slot_len[k] and self._slot_dir[k] == direction:
                if now < 0:
                    now = ticks_ms()
                if ticks_diff(now, self._slot_due[k]) >= 0:
                    return k
        return -1

    # -- the Driver contract (docs/contracts.md) ------------------------------------

    def send(self, buf, n):
        k = self._due(_TX)
        while k >= 0:
            self.inner.send(self._slot_buf[k], self._slot_len[k])
            self._slot_len[k] = 0
            k = self._due(_TX)
        if not self._tx:
            return self.inner.send(buf, n)
        if not self._mangle(buf, n):
            return True  # lost on the wire: the sender cannot tell
        if self._hit(self._delay) and self._hold(_TX, buf, n):
            return True
        ok = self.inner.send(buf, n)
        if self._hit(self._dup):
            self.stats["fault_duplicate"] += 1
            self.inner.send(buf, n)
        return ok

    def recv_into(self, buf):
        if self._dup_len:
            n = self._dup_len
            mem.copy(buf, 0, self._dup_buf, 0, n)
            self._dup_len = 0
            return n
        k = self._due(_RX)
        if k >= 0:
            n = self._slot_len[k]
            mem.copy(buf, 0, self._slot_buf[k], 0, n)
            self._slot_len[k] = 0
            return n
        while True:
            n = self.inner.recv_into(buf)
            if n <= 0 or not self._rx:
                return n
            if not self._mangle(buf, n):
                continue  # lost: look at the next one
            if self._hit(self._delay) and n <= _MAX_FRAME and self._hold(_RX, buf, n):
                continue
            if self._hit(self._dup) and n <= _MAX_FRAME:
                self.stats["fault_duplicate"] += 1
                mem.copy(self._dup_buf, 0, buf, 0, n)
                self._dup_len = n
            return n

    def link_up(self):
        return self.inner.link_up()

    def wait(self, timeout_ms):
        if self._slot_len.count(0) != len(self._slot_len) or self._dup_len:
            timeout_ms = 0 if self._dup_len else (timeout_ms if timeout_ms < 5 else 5)
        self.inner.wait(timeout_ms)

    def close(self):
        self.inner.close()

# Byte ring for socket buffers, and the out-of-order assembler.
#
# Ring: a preallocated bytearray with a read position and a fill count. The
# TCP TX ring holds sent-but-unacknowledged bytes followed by unsent ones
# (peek_into reads at an offset for (re)transmission, discard drops what was
# acknowledged); the RX ring holds in-order received bytes, and out-of-order
# bytes are written into its free space (write_at) before they become
# readable (commit). Nothing here allocates after __init__.
from stack import mem


class Ring:
    def __init__(self, size):
        self.buf = bytearray(size)
        self.size = size
        self.head = 0  # position of the first readable byte
        self.used = 0

    def free(self):
        return self.size - self.used

    def clear(self):
        self.head = 0
        self.used = 0

    def _copy_in(self, pos, src, soff, n):
        # pos: ring position (< size); splits at the end of the buffer
        first = self.size - pos
        if first >= n:
            mem.copy(self.buf, pos, src, soff, n)
        else:
            mem.copy(self.buf, pos, src, soff, first)
            mem.copy(self.buf, 0, src, soff + first, n - first)

    def _copy_out(self, pos, dst, doff, n):
        first = self.size - pos
        if first >= n:
            mem.copy(dst, doff, self.buf, pos, n)
        else:
            mem.copy(dst, doff, self.buf, pos, first)
            mem.copy(dst, doff + first, self.buf, 0, n - first)

    def _pos(self, at):
        p = self.head + at
        return p - self.size if p >= self.size else p

    def write(self, src, soff, n):
        """Append up to n bytes of src[soff:]; returns how many fitted."""
        f = self.size - self.used
        if n > f:
            n = f
        if n > 0:
            self._copy_in(self._pos(self.used), src, soff, n)
            self.used += n
        return n

    def write_at(self, at, src, soff, n):
        """Place n bytes at offset `at` past the readable data, inside the free
        space, without making them readable (the caller checked the bounds)."""
        if n > 0:
            self._copy_in(self._pos(self.used + at), src, soff, n)

    def commit(self, n):
        """Make n bytes placed by write_at readable."""
        self.used += n

    def read_into(self, dst, doff, n):
        """Move up to n readable bytes into dst[doff:]; returns the count."""
        if n > self.used:
            n = self.used
        if n > 0:
            self._copy_out(self.head, dst, doff, n)
            self.discard(n)
        return n

    def peek_into(self, at, dst, doff, n):
        """Copy n readable bytes starting `at` bytes past the head (caller
        checks at + n <= used); nothing is consumed."""
        if n > 0:
            self._copy_out(self._pos(at), dst, doff, n)

    def discard(self, n):
        p = self.head + n
        self.head = p - self.size if p >= self.size else p
        self.used -= n
        # (head is NOT reset to 0 when the ring empties: out-of-order bytes
        # may sit in the free space at positions relative to head + used)


class Assembler:
    """Out-of-order ranges beyond the in-order edge, as offsets from it.

    At most `slots` disjoint, non-adjacent, sorted ranges [start, end) with
    start > 0. add() records one (merging), advance(n) is called when n
    in-order bytes arrived and returns how many bytes are now contiguous.
    """

    def __init__(self, slots):
        self.slots = slots
        self.start = [0] * slots
        self.end = [0] * slots
        self.n = 0

    def clear(self):
        self.n = 0

    def add(self, s, e):
        """Record [s, e) (0 < s < e). False if it needs a new slot and none is
        free (the data is then not kept)."""
        st = self.start
        en = self.end
        n = self.n
        i = 0
        while i < n and en[i] < s:
            i += 1
        # ranges i.. end at or after s; merge every one that starts <= e
        j = i
        while j < n and st[j] <= e:
            j += 1
        if j == i:
            if n == self.slots:
                return False
            k = n
            while k > i:
                st[k] = st[k - 1]
                en[k] = en[k - 1]
                k -= 1
            st[i] = s
            en[i] = e
            self.n = n + 1
            return True
        if st[i] < s:
            s = st[i]
        if en[j - 1] > e:
            e = en[j - 1]
        st[i] = s
        en[i] = e
        gone = j - i - 1
        if gone:
            k = i + 1
            while k + gone < n:
                st[k] = st[k + gone]
                en[k] = en[k + gone]
                k += 1
            self.n = n - gone
        return True

    def advance(self, n):
        """n in-order bytes were placed at [0, n): returns the total now
        contiguous from 0 (>= n) and shifts the remaining ranges by it."""
        st = self.start
        en = self.end
        c = n
        drop = 0
        while drop < self.n and st[drop] <= c:
            if en[drop] > c:
                c = en[drop]
            drop += 1
        m = self.n - drop
        k = 0
        while k < m:
            st[k] = st[k + drop] - c
            en[k] = en[k + drop] - c
            k += 1
        self.n = m
        return c

    def span(self):
        """End of the farthest range (0 if none)."""
        return self.end[self.n - 1] if self.n else 0

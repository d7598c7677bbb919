"""Helpers shared by the fuzz tests (hypothesis properties and atheris harnesses).

Fence: a bytearray that refuses any read outside [lo, hi): a parser given
(buf, off, end) must never look before off or at/after end, whatever the
bytes say. Out-of-range reads raise FenceError (an AssertionError, so a
parser's own `except` clauses cannot swallow it)."""


class FenceError(AssertionError):
    pass


class Fence(bytearray):
    def __init__(self, data, lo, hi):
        super().__init__(data)
        self.lo = lo
        self.hi = hi

    def __getitem__(self, i):
        if isinstance(i, int):
            if not self.lo <= i < self.hi:
                raise FenceError("read at %d outside [%d, %d)" % (i, self.lo, self.hi))
        else:
            start, stop, _ = i.indices(len(self))
            if stop > start and (start < self.lo or stop > self.hi):
                raise FenceError("slice %d:%d outside [%d, %d)" % (start, stop, self.lo, self.hi))
        return super().__getitem__(i)

    def find(self, sub, start=0, end=None):
        end = len(self) if end is None else end
        if end > start and (start < self.lo or end > self.hi):
            raise FenceError("find %d:%d outside [%d, %d)" % (start, end, self.lo, self.hi))
        return super().find(sub, start, end)


def fenced(data, pre=b"", post=b""):
    """(buf, off, end): data placed after pre (readable only from off to end),
    with post after it (present in the buffer but out of bounds)."""
    off = len(pre)
    end = off + len(data)
    return Fence(pre + data + post, off, end), off, end

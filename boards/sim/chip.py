# What both chip models share: how they hang on the simulated bus and pins, and
# what they do when a driver breaks the chip's rules.


class ChipProtocolError(Exception):
    """The driver did something the real chip would not accept."""


class ChipModel:
    """Base of the register-level models. A subclass sets self.wire,
    self.frame, self.strict, self.violations, self.last_violation,
    self.selected and provides cs_changed(level), int_level(), _reset() and
    receive(buf, n)."""

    def poll(self):
        """Pull every frame waiting on the wire into the chip's RX memory (or
        drop it as the chip would). Called lazily when the driver looks."""
        w = self.wire
        if w is None:
            return
        buf = self.frame
        while True:
            n = w.recv_into(buf)
            if n == 0:
                return
            if n > 0:
                self.receive(buf, n)

    def attach(self, spi, cs, int_pin=None, rst=None):
        spi.attach(self)
        cs._listener = self.cs_changed
        self.selected = cs.value() == 0
        if int_pin is not None:
            int_pin._source = self.int_level
        if rst is not None:
            rst._listener = self._rst_changed

    def _rst_changed(self, level):
        if level == 0:
            self._reset()

    def _violation(self, msg):
        self.violations += 1
        self.last_violation = msg
        if self.strict:
            raise ChipProtocolError(msg)

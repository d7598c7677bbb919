"""Random interleavings of arrivals, receives, sends and link flaps on both
chips (hypothesis): every frame that the chip stored comes out intact and in
order, everything else is counted, and the strict model sees no misuse."""

from hypothesis import given, settings
from hypothesis import strategies as st

from boards.sim.enc28j60 import ENC28J60Model
from boards.sim.machine import SPI, Pin
from boards.sim.memwire import MemWire
from boards.sim.w5500 import W5500Model
from stack.drivers.enc28j60 import ENC28J60
from stack.drivers.w5500 import W5500

MAC = b"\x02\x00\x00\x00\x00\x02"


def rig(chip, with_int, open_ptr):
    wire = MemWire()
    cs = Pin(17, Pin.OUT, value=1)
    irq = Pin(21, Pin.IN) if with_int else None
    if chip == "enc28j60":
        spi = SPI(1, baudrate=20_000_000)
        model = ENC28J60Model(wire)
        model.attach(spi, cs, int_pin=irq)
        d = ENC28J60(spi, cs, MAC, int_pin=irq)
    else:
        spi = SPI(0, baudrate=33_000_000)
        model = W5500Model(wire)
        model.open_ptr = open_ptr
        model.attach(spi, cs, int_pin=irq)
        d = W5500(spi, cs, MAC, int_pin=irq)
    return wire, model, d


ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(14, 1514)),
        st.tuples(st.just("recv"), st.integers(1, 6)),
        st.tuples(st.just("send"), st.integers(14, 1514)),
        st.tuples(st.just("link"), st.booleans()),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(chip=st.sampled_from(["enc28j60", "w5500"]), with_int=st.booleans(),
       open_ptr=st.integers(0, 0xFFFF), program=ops)
def test_random_traffic_frames_intact_and_counted(chip, with_int, open_ptr, program):
    wire, model, d = rig(chip, with_int, open_ptr)
    buf = bytearray(1518)
    seq = 0
    stored = []  # frames the chip accepted, in order
    got = []
    sent = 0
    for op, arg in program:
        if op == "put":
            f = MAC + b"\x02\x00\x00\x00\x00\x01\x08\x00" + bytes(
                (seq + i) & 0xFF for i in range(arg - 14))
            seq += 1
            before = model.rx_frames
            model.receive(bytearray(f) + bytearray(1518 - len(f)), len(f))
            if model.rx_frames > before:
                stored.append(f + bytes(max(0, 60 - len(f))))
        elif op == "recv":
            for _ in range(arg):
                n = d.recv_into(buf)
                if n:
                    got.append(bytes(buf[:n]))
        elif op == "send":
            f = bytes(MAC) + bytes(i & 0xFF for i in range(arg - 6))
            if d.send(bytearray(f), arg):
                sent += 1
                if model.link:
                    assert wire.sent[-1] == f + bytes(max(0, 60 - arg))
        else:
            model.set_link(arg)
            d.link_up()
    for _ in range(len(stored) + 2):
        n = d.recv_into(buf)
        if n:
            got.append(bytes(buf[:n]))
    assert got == stored
    assert model.violations == 0
    assert d.stats["rx_frames"] == len(stored) and d.stats["tx_frames"] == sent

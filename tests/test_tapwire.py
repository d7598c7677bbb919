"""The C relay (host_tools/tapwire.c) between a TAP and the stack's framed
stream: frames become length-prefixed records and back, records that arrive
in pieces or several at once are cut right, and it leaves no process behind.
A SOCK_SEQPACKET pair stands in for the TAP fd: one frame per read()."""

import os
import socket
import subprocess
import time

import pytest

from scenario import ROOT

RELAY = ROOT / "build" / "tapwire"


@pytest.fixture
def relay():
    if not RELAY.exists():
        subprocess.run(["gcc", "-O2", "-Wall", "-Werror", "-o", str(RELAY),
                        str(ROOT / "host_tools" / "tapwire.c")], check=True)
    tap_ours, tap_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    st_ours, st_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    fds = (tap_theirs.fileno(), st_theirs.fileno())
    p = subprocess.Popen([str(RELAY), str(fds[0]), str(fds[1])], pass_fds=fds)
    tap_theirs.close()
    st_theirs.close()
    tap_ours.settimeout(5)
    st_ours.settimeout(5)
    yield tap_ours, st_ours, p
    if p.poll() is None:
        p.terminate()
        p.wait(5)
    tap_ours.close()
    st_ours.close()


def _read_exact(s, n):
    out = b""
    while len(out) < n:
        b = s.recv(n - len(out))
        assert b, "stream closed"
        out += b
    return out


def test_frames_from_the_tap_become_records(relay):
    tap, stream, _ = relay
    frames = [os.urandom(n) for n in (60, 1514, 1, 9000)]
    for f in frames:
        tap.send(f)
    for f in frames:
        n = int.from_bytes(_read_exact(stream, 2), "big")
        assert n == len(f) and _read_exact(stream, n) == f


def test_records_in_pieces_or_together_become_one_frame_each(relay):
    tap, stream, _ = relay
    frames = [os.urandom(n) for n in (60, 1514, 77, 1000)]
    wire = b"".join(len(f).to_bytes(2, "big") + f for f in frames)
    for cut in (1, 3, 700, 1500):  # split at odd places, then the rest at once
        stream.sendall(wire[:cut])
        time.sleep(0.02)
        stream.sendall(wire[cut:])
        for f in frames:
            assert tap.recv(65536) == f


def test_stops_on_sigterm_and_reaps_its_other_direction(relay):
    tap, stream, p = relay
    time.sleep(0.1)
    kids = [int(x) for x in open("/proc/%d/task/%d/children" % (p.pid, p.pid)).read().split()]
    assert len(kids) == 1
    p.terminate()
    assert p.wait(5) == 0
    time.sleep(0.1)
    assert not os.path.exists("/proc/%d" % kids[0])  # reaped, not a zombie


def test_exits_when_the_stack_goes_away(relay):
    tap, stream, p = relay
    stream.close()
    tap.send(b"x" * 60)  # the next frame finds the stream gone
    assert p.wait(5) == 0

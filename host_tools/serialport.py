"""Opening a board's serial port, with errors a user can act on (pyserial and
mpremote underneath): a missing port names the ports there are, no permission
names the group to join, a busy port says so."""

import errno
import os


class PortError(Exception):
    """A port that cannot be used, with the reason and what to do."""


def ports_seen():
    """'/dev/ttyACM0 (Board in FS mode), ...' or 'none'."""
    from serial.tools import list_ports

    seen = ["%s (%s)" % (p.device, p.description) if p.description and p.description != "n/a"
            else p.device for p in sorted(list_ports.comports(), key=lambda p: p.device)]
    return ", ".join(seen) if seen else "none"


def explain(port, err):
    """A PortError for the OSError/SerialException `err` met opening `port`."""
    code = getattr(err, "errno", None)
    if code is None and err.args and isinstance(err.args[0], int):
        code = err.args[0]
    if code == errno.ENOENT:
        return PortError("no port %s (is the board plugged in?); serial ports here: %s"
                         % (port, ports_seen()))
    if code in (errno.EACCES, errno.EPERM):
        return PortError("no permission to open %s: add yourself to its group (on Debian: "
                         "sudo usermod -aG dialout $USER, then log in again)" % port)
    if code in (errno.EBUSY, errno.EAGAIN):
        return PortError("%s is in use by another program (a monitor, mpremote, Thonny?)"
                         % port)
    if code == errno.ENOTTY:
        return PortError("%s is not a serial port" % port)
    return PortError("cannot open %s: %s" % (port, err))


def check(port):
    """Open and close `port` once, so the tools built on pyserial fail with a
    clear PortError instead of a generic one. Returns the port."""
    import serial

    if not port:
        raise PortError("no --port given; serial ports here: %s" % ports_seen())
    if os.path.isdir(port):
        raise PortError("%s is a folder, not a serial port" % port)
    try:
        s = serial.Serial(port, 115200, exclusive=True, timeout=0)
    except (OSError, serial.SerialException) as e:
        raise explain(port, e) from None
    s.close()
    return port


def transport(port):
    """An mpremote SerialTransport on `port`, checked first."""
    from mpremote.transport_serial import SerialTransport

    check(port)
    # A read timeout, so a port with no REPL behind it ends in mpremote's own
    # timeouts instead of a read that waits forever (it reads pty ports blocking).
    return SerialTransport(port, baudrate=115200, timeout=1)

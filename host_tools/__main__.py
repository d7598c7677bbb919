"""python -m host_tools COMMAND ...: the project's host command line (click)."""

import sys

import click

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 99}


@click.group(context_settings=CONTEXT)
def cli():
    """Build, flash, deploy, watch and test the stack on a board, or run it on a
    simulated board behind a TAP in a network namespace.

    \b
    A typical session with a W5500-EVB-Pico on /dev/ttyACM0:
      python -m host_tools build --board w5500_evb_pico
      python -m host_tools deploy --board w5500_evb_pico --port /dev/ttyACM0
      python -m host_tools monitor --port /dev/ttyACM0
      python -m host_tools test --port /dev/ttyACM0
    """


# -- sim ---------------------------------------------------------------------------------------


@cli.command(context_settings=CONTEXT)
@click.option("--board", default="unix_tap", show_default=True,
              help="board module in boards/ (unix_tap, sim_enc28j60, sim_w5500, host32_tap, "
                   "emu_rp2040_w5500, emu_rp2040_enc28j60)")
@click.option("--netns", default="stacksim", show_default=True,
              help="network namespace to create (it must not exist yet)")
@click.option("--forward", metavar="HOST:PORT",
              help="forward this host TCP port to the stack's port 80 (prints URL ...)")
@click.option("--no-forward", is_flag=True, help="no host port forward (the default)")
@click.option("--heapsize", default="64wK", show_default=True,
              help="the board's data heap, as -X heapsize (64wK: 64 KB on a 32-bit board); "
                   "code and simulated chips get their measured size on top")
@click.option("--no-frozen", "frozen", is_flag=True, flag_value=False, default=True,
              help="the heap holds the code too, as on a board running .mpy files")
@click.option("--heap-lock", is_flag=True,
              help="run the steady-state loop under micropython.heap_lock()")
@click.option("--impair", metavar="NETEM",
              help="a bad link, as tc netem's spec: 'loss 3% delay 10ms 5ms reorder 10% "
                   "duplicate 1%' (tc netem on the TAP if the kernel has it, else the relay)")
@click.option("--pcap", metavar="FILE",
              help="write every frame the stack receives and sends to FILE (classic pcap)")
@click.option("--app", default="main", show_default=True,
              help="firmware/APP.py to run (tcp_services for the TCP tests)")
@click.option("--commands", is_flag=True,
              help="read 'impair SPEC' / 'impair off' / 'impair-counts' lines on stdin")
@click.option("--dhcp", is_flag=True,
              help="configure the stack by DHCP from dnsmasq on the Linux side (addresses "
                   "192.0.2.100-150, host record device.test); READY names the leased address")
@click.option("--source", is_flag=True,
              help="run the .py sources instead of a .mpy build (needs a bigger heap)")
@click.argument("app_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- APP_ARGS...]")
def sim(board, netns, forward, no_forward, heapsize, frozen, heap_lock, impair, pcap, app,
        commands, dhcp, source, app_args):
    """Run the stack on a simulated board behind a TAP.

    Creates the namespace with a TAP whose Linux side is 192.0.2.1/24, starts
    the firmware on the MicroPython unix port, prints READY 192.0.2.2 once the
    stack answers (and URL http://HOST:PORT/ with --forward). Ctrl-C stops it
    and removes the namespace. Arguments after -- go to the firmware app.
    """
    if forward and no_forward:
        raise click.UsageError("--forward and --no-forward exclude each other")
    from host_tools import sim as simmod

    sys.exit(simmod.run(board, netns, None if no_forward else forward, heapsize, heap_lock,
                        source, frozen, impair, app, list(app_args), commands, dhcp, pcap))


# -- build -------------------------------------------------------------------------------------


@cli.command(context_settings=CONTEXT)
@click.option("--board", metavar="BOARD",
              help="build for this board (boards/BOARD.py): .mpy for its arch into "
                   "build/BOARD/, laid out as the board's filesystem, and a size table")
@click.option("--arch", default=None, metavar="ARCH",
              help="without --board: compile stack/, boards/ and firmware/ for this mpy-cross "
                   "-march (armv6m, xtensawin, x64, ...) into OUT/ARCH/ (default armv6m)")
@click.option("--out", default="build", show_default=True, help="output folder")
@click.option("--no-heap", is_flag=True,
              help="leave out the heap column (it imports every module in the unix port)")
@click.option("--package-json", is_flag=True,
              help="write package.json (what `mpremote mip install github:OWNER/REPO` "
                   "installs) from the tree, and nothing else")
def build(board, arch, out, no_heap, package_json):
    """Compile the stack with mpy-cross.

    With --board, prints a table of every module: its .mpy bytes and the heap
    it takes when imported (measured in the MicroPython unix port, x86-64:
    about twice a 32-bit board's figure), and the totals.
    """
    from host_tools import build as buildmod

    if package_json:
        path = buildmod.ROOT / "package.json"
        path.write_text(buildmod.package_json_text())
        click.echo("wrote %s (version %s)" % (path, buildmod.version()))
        return
    if board:
        if arch:
            raise click.UsageError("--arch comes from the board file; give one of them")
        sys.exit(buildmod.run_board(board, out, heap=not no_heap))
    sys.exit(buildmod.run(arch or "armv6m", out))


# -- flash -------------------------------------------------------------------------------------


@cli.command(context_settings=CONTEXT)
@click.option("--board", required=True, metavar="BOARD",
              help="the board file (boards/BOARD.py): it names the chip to flash")
@click.option("--port", metavar="PORT",
              help="ESP32: the serial port (/dev/ttyUSB0). RP2040: the RPI-RP2 drive's folder, "
                   "or the serial port of a board running MicroPython (flash asks it to "
                   "enter BOOTSEL); without it, a mounted RPI-RP2 drive is looked for")
@click.option("--firmware", required=True, metavar="FILE", type=click.Path(),
              help="the MicroPython image: a .uf2 for RP2040 boards, a .bin for ESP32 boards")
@click.option("--erase", is_flag=True,
              help="ESP32: erase the whole flash first (the board's files go too)")
@click.option("--no-progress", "progress", is_flag=True, flag_value=False, default=True,
              help="no progress bar")
def flash(board, port, firmware, erase, progress):
    """Write a MicroPython firmware image onto a board.

    ESP32 boards: esptool writes the .bin at the offset its chip family boots
    from (0x1000 on ESP32 and ESP32-S2, 0 on S3/C3/C6; a whole-flash image with
    padding goes at 0). RP2040 boards: the .uf2 is copied onto the RPI-RP2
    drive. The image is checked first: a file that is not a firmware image,
    or one built for another chip, is refused before the board is touched.
    """
    from host_tools import flash as flashmod

    sys.exit(flashmod.run(board, port, firmware, progress, erase))


# -- deploy, monitor, pty-board ------------------------------------------------------------------


@cli.command(context_settings=CONTEXT)
@click.option("--board", required=True, metavar="BOARD",
              help="the board file (boards/BOARD.py) the build is made for")
@click.option("--port", required=True, metavar="PORT",
              help="the board's serial port (/dev/ttyACM0, /dev/ttyUSB0, ...)")
@click.option("--out", default="build", show_default=True,
              help="build folder (the build is made or brought up to date first)")
@click.option("--no-reset", "reset", is_flag=True, flag_value=False, default=True,
              help="leave the board in its REPL instead of soft-resetting it to run main.py")
@click.option("--no-progress", "progress", is_flag=True, flag_value=False, default=True,
              help="no progress bar")
def deploy(board, port, out, reset, progress):
    """Copy the board's build to the board over its raw REPL (mpremote).

    Builds first (as build --board), then copies /lib/stack/, /lib/firmware/,
    /lib/boards/, /lib/board.mpy and /main.py: only the files whose SHA-256 on
    the board differs. Files in those folders that the build does not hold are
    removed (a .py left by mip would shadow the .mpy). A running program is
    interrupted with Ctrl-C; at the end a soft reset starts the new main.py.
    """
    from host_tools import deploy as deploymod

    sys.exit(deploymod.run(board, port, out, reset, progress))


@cli.command(context_settings=CONTEXT)
@click.option("--port", required=True, metavar="PORT",
              help="the board's serial port (/dev/ttyACM0, /dev/ttyUSB0, ...)")
def monitor(port):
    """Show the board's console and type into it.

    Keys go to the board as typed, Ctrl-C (interrupt) and Ctrl-D (soft reset)
    included; Ctrl-] or Ctrl-X quits. Connecting sends nothing, so a running
    program keeps running.
    """
    from host_tools import monitor as monitormod

    sys.exit(monitormod.run(port))


@cli.command("test", context_settings=CONTEXT)
@click.option("--ip", metavar="ADDRESS", help="the board's IPv4 address")
@click.option("--port", metavar="PORT",
              help="the board's serial port instead: it is soft-reset and its address read "
                   "from the console (the 'IP a.b.c.d' line firmware/main.py prints)")
def test_cmd(ip, port):
    """Run the network checks against a live board and print a pass/fail table.

    ARP, ping, UDP echo (port 7), the HTTP page, and 1 MB each way over TCP
    (GET /bulk checked byte for byte, POST /sink counted by the board). Exit
    status 0 only if every check passed. For the simulator, run it inside its
    namespace: sudo ip netns exec stacksim python -m host_tools test --ip 192.0.2.2
    """
    if bool(ip) == bool(port):
        raise click.UsageError("give one of --ip and --port")
    from host_tools import nettest

    sys.exit(nettest.run(ip, port))


@cli.command("pty-board", context_settings=CONTEXT)
@click.option("--root", default="build/pty-board", show_default=True,
              help="host folder that is the board's filesystem (/, /lib, /main.py)")
@click.option("--run-main", is_flag=True,
              help="run /main.py after a soft reset from the friendly REPL, as a board does")
def pty_board(root, run_main):
    """A MicroPython unix-port "board" on a pseudo-terminal, for deploy,
    monitor and mpremote without hardware.

    Prints PORT /dev/pts/N; the unix port's REPL answers there, with its raw
    REPL (what mpremote drives) and a soft reset on Ctrl-D. Ctrl-C stops it.
    """
    from host_tools import ptyboard

    sys.exit(ptyboard.run(root, run_main))


def main(argv=None):
    return cli.main(args=argv, prog_name="python -m host_tools")


if __name__ == "__main__":
    main()

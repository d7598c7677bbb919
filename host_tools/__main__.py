"""python -m host_tools COMMAND ...: the project's host command line."""

import argparse
import sys


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m host_tools")
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("sim", help="run the stack on a simulated board behind a TAP")
    s.add_argument("--board", default="unix_tap", help="board module in boards/ (default unix_tap)")
    s.add_argument("--netns", default="stacksim", help="network namespace to create (default stacksim)")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--forward", metavar="HOST:PORT",
                   help="forward this host TCP port to the stack's port 80")
    g.add_argument("--no-forward", action="store_true", help="no host port forward (default)")
    s.add_argument("--heapsize", default="64wK",
                   help="the board's data heap, as -X heapsize (default 64wK: 64 KB on a 32-bit "
                        "board); code and simulated chips get their measured size on top")
    s.add_argument("--no-frozen", dest="frozen", action="store_false",
                   help="the heap holds the code too, as on a board running .mpy files")
    s.add_argument("--heap-lock", action="store_true",
                   help="run the steady-state loop under micropython.heap_lock()")
    s.add_argument("--impair", metavar="NETEM",
                   help="a bad link, as tc netem's spec: 'loss 3%% delay 10ms 5ms reorder 10%% "
                        "duplicate 1%%' (tc netem on the TAP if the kernel has it, else the relay)")
    s.add_argument("--pcap", metavar="FILE",
                   help="write every frame the stack receives and sends to FILE (classic pcap)")
    s.add_argument("--app", default="main",
                   help="firmware/APP.py to run (default main; tcp_services for TCP tests)")
    s.add_argument("--commands", action="store_true",
                   help="read 'impair SPEC' / 'impair off' lines on stdin while running")
    s.add_argument("app_args", nargs="*", metavar="-- APP_ARGS",
                   help="arguments after -- go to the firmware app")
    s.add_argument("--dhcp", action="store_true",
                   help="configure the stack by DHCP from dnsmasq on the Linux side (addresses "
                        "192.0.2.100-150, host record device.test); READY names the leased address")
    s.add_argument("--source", action="store_true",
                   help="run the .py sources instead of a .mpy build (needs a bigger heap)")

    b = sub.add_parser("build", help="compile stack/ to .mpy with mpy-cross")
    b.add_argument("--arch", default="armv6m", help="mpy-cross -march (armv6m, xtensawin, ...)")
    b.add_argument("--out", default="build", help="output folder (default build/)")

    a = p.parse_args(argv)
    if a.cmd == "sim":
        from host_tools import sim

        return sim.run(a.board, a.netns, None if a.no_forward else a.forward, a.heapsize,
                       a.heap_lock, a.source, a.frozen, a.impair, a.app, a.app_args,
                       a.commands, a.dhcp, a.pcap)
    if a.cmd == "build":
        from host_tools import build

        return build.run(a.arch, a.out)
    return 2


if __name__ == "__main__":
    sys.exit(main())

"""The simulator launcher: a namespace with a TAP, the stack on the MicroPython
unix port at the other end of it, READY on stdout once it answers."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from host_tools import netns as nsmod

ROOT = Path(__file__).resolve().parent.parent
HOST_IP = "192.0.2.1"
STACK_IP = "192.0.2.2"
TAP_NAME = "stap0"
DEFAULT_HEAP = "64wK"  # a 64 KB heap as on a 32-bit board ('w' scales for the word size)
READY_TIMEOUT_S = 30


def micropython_path():
    return str(Path(sys.executable).parent / "micropython")


def module_path(source):
    """MICROPYPATH for the firmware: a .mpy build for this machine (as a board
    runs it), or the source tree with source=True or when no build arch fits."""
    from host_tools import build

    arch = None if source else build.host_arch()
    if arch is None:
        return str(ROOT)
    out_root, failures = build.build_tree(arch, ROOT / "build")
    if failures:
        raise SystemExit("sim: mpy-cross failed on %s:\n%s" % failures[0])
    return str(out_root)


def heap_bytes(spec, word_bytes=8):
    """'64wK' -> bytes as MicroPython's -X heapsize reads it ('w': times word/4)."""
    s = spec.strip()
    mult = 1
    if s[-1:] in "kK":
        mult, s = 1024, s[:-1]
    elif s[-1:] in "mM":
        mult, s = 1024 * 1024, s[:-1]
    if s.endswith("w"):
        mult, s = mult * word_bytes // 4, s[:-1]
    return int(s) * mult


def measure_base(board, env, app="main", dhcp=False):
    """Heap bytes that the firmware's code and the simulated chips take (what a
    board keeps in flash or in the chip), from a dry run with a roomy heap."""
    import socket

    a, b = socket.socketpair()
    extra = ([] if app == "main" else ["--app", app]) + (["--dhcp"] if dhcp else [])
    try:
        r = subprocess.run([micropython_path(), "-X", "heapsize=8M",
                            str(ROOT / "firmware" / "main.py"), "--board", board,
                            "--fd", str(b.fileno()), "--measure-base"] + extra,
                           pass_fds=(b.fileno(),), env=env, capture_output=True, text=True,
                           timeout=60, cwd=str(ROOT))
    finally:
        a.close()
        b.close()
    for line in r.stdout.splitlines():
        if line.startswith("BASE "):
            return int(line.split()[1])
    raise SystemExit("sim: could not measure the firmware's code size:\n" + r.stdout + r.stderr)


def firmware_cmd(board, fd, heap, heap_lock=False, app="main", app_args=(), pcap=None):
    cmd = [micropython_path(), "-X", "heapsize=" + heap,
           str(ROOT / "firmware" / (app + ".py")), "--board", board, "--fd", str(fd)]
    if heap_lock:
        cmd.append("--heap-lock")
    if pcap:
        cmd += ["--pcap", os.path.abspath(pcap)]
    return cmd + list(app_args)


def wait_answering(netns, proc, timeout_s, ip=STACK_IP):
    """True once the stack answers ping (which needs ARP first), False if the
    process died or the time ran out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        r = subprocess.run(["ip", "netns", "exec", netns, "ping", "-c", "1", "-W", "1", ip],
                           capture_output=True)
        if r.returncode == 0:
            return True
    return False


class Impairer:
    """netem on the Linux side of the TAP when the kernel has it, else the
    relay's user-space twin (host_tools/impair.py)."""

    def __init__(self, netns, relay):
        self.netns = netns
        self.relay = relay
        self.how = None

    def set(self, spec):
        from host_tools import impair

        if not spec or spec == "off":
            if self.how == "tc":
                impair.clear_tc(self.netns, TAP_NAME)
            self.relay.impair(None)
            self.how = None
            return "off"
        impair.parse(spec)  # a bad spec fails here, for both ways
        why = impair.apply_tc(self.netns, TAP_NAME, spec)
        if why is None:
            self.how = "tc"
            return "tc"
        self.relay.impair(spec)
        self.how = "relay"
        return "relay (tc netem: %s)" % why

    def counts(self):
        """Frames the impairment has dropped so far (and more, from the relay)."""
        if self.how == "tc":
            out = subprocess.run(["ip", "netns", "exec", self.netns, "tc", "-s", "qdisc", "show",
                                  "dev", TAP_NAME], capture_output=True, text=True).stdout
            m = re.search(r"dropped (\d+)", out)
            return {"how": "tc", "lost": int(m.group(1)) if m else 0}
        imp = self.relay.impairment
        return dict(imp.counts, how="relay") if imp else {"how": "off", "lost": 0}


def wait_leased(server, proc, timeout_s):
    """The address dnsmasq leased to the stack, once it answers ping there; None
    if the process died or the time ran out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return None
        leases = server.leases()
        if leases:
            ip = leases[-1][1]
            if wait_answering(server.netns, proc, 1, ip):
                return ip
        time.sleep(0.1)
    return None


def _commands(impairer, stream, dhcp_server=None):
    """Lines on the launcher's stdin: `impair SPEC` / `impair off` (answered
    `IMPAIR <how>`), `impair-counts` (answered `IMPAIRCOUNTS {json}`),
    `dhcp-server stop|start` (answered `DHCPSERVER stopped|started`); or
    `ERROR <why>`."""
    for line in stream:
        words = line.split(None, 1)
        if not words:
            continue
        try:
            if words[0] == "impair":
                print("IMPAIR " + impairer.set(words[1].strip() if len(words) > 1 else "off"),
                      flush=True)
            elif words[0] == "impair-counts":
                print("IMPAIRCOUNTS " + json.dumps(impairer.counts()), flush=True)
            elif words[0] == "dhcp-server" and dhcp_server is not None:
                what = words[1].strip() if len(words) > 1 else ""
                if what == "stop":
                    dhcp_server.stop()
                    print("DHCPSERVER stopped", flush=True)
                elif what == "start":
                    dhcp_server.start()
                    print("DHCPSERVER started", flush=True)
                else:
                    print("ERROR dhcp-server stop|start", flush=True)
            else:
                print("ERROR unknown command: " + words[0], flush=True)
        except (ValueError, OSError, RuntimeError) as e:
            print("ERROR " + str(e), flush=True)


def run(board, netns, forward, heapsize, heap_lock, source=False, frozen=True, impair=None,
        app="main", app_args=(), commands=False, dhcp=False, pcap=None):
    from host_tools import emu

    if commands:
        # SIGUSR1: every thread's stack to stderr. tests/scenario.py asks for
        # it when a command's answer is late (a rare stall, cause unknown).
        import faulthandler

        faulthandler.register(signal.SIGUSR1, all_threads=True)
    if emu.handles(board):  # emulated RP2040 or host32: host_tools/emu.py runs them
        if dhcp:
            print("sim: --dhcp is not available on emulated boards yet", file=sys.stderr)
            return 2
        if pcap:
            print("sim: --pcap is not available on emulated boards yet", file=sys.stderr)
            return 2
        return emu.run_sim(board, netns, forward, heapsize, impair, commands)
    ok, why = nsmod.can_create()
    if not ok:
        print("sim: cannot start: " + why, file=sys.stderr)
        return 2
    if not (ROOT / "firmware" / (app + ".py")).exists():
        print("sim: no firmware/%s.py" % app, file=sys.stderr)
        return 2
    try:
        fd = nsmod.create(netns, TAP_NAME, HOST_IP + "/24")
    except nsmod.NetnsError as e:
        print("sim: " + str(e), file=sys.stderr)
        return 2
    from host_tools.tapwire import CRelay, Relay

    # The C relay costs a fraction of the Python one per frame (ping RTT and
    # bulk, bench compare); the Python one is needed to impair the link.
    relay = CRelay(fd) if CRelay.available() and not impair and not commands else Relay(fd)
    relay.start()
    impairer = Impairer(netns, relay)
    proc = None
    server = None

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        env = dict(os.environ, MICROPYPATH=module_path(source))
        if dhcp:
            from host_tools import dnsmasq

            server = dnsmasq.Dnsmasq(netns, TAP_NAME, echo=sys.stderr)
            try:
                server.start()
            except dnsmasq.DnsmasqError as e:
                print("sim: " + str(e), file=sys.stderr)
                return 2
            app_args = ["--dhcp"] + list(app_args)
        heap_arg = heapsize
        if frozen:
            # A board freezes the firmware (code in flash) and its chip has its
            # own memory; the unix port can do neither, so the heap gets room
            # for both on top of the board's data heap.
            base = measure_base(board, env, app, dhcp)
            heap_arg = str(heap_bytes(heapsize) + base)
            print("sim: heap %s for data + %d B for code and simulated chips" % (heapsize, base),
                  file=sys.stderr, flush=True)
        # The stack's own output (heap line, errors) goes to stderr; stdout is ours.
        proc = subprocess.Popen(firmware_cmd(board, relay.child_fd, heap_arg, heap_lock, app,
                                             app_args, pcap),
                                pass_fds=(relay.child_fd,), env=env, stdout=sys.stderr,
                                stdin=subprocess.DEVNULL, cwd=str(ROOT))
        relay.close_child_end()
        stack_ip = STACK_IP
        if server is not None:
            stack_ip = wait_leased(server, proc, READY_TIMEOUT_S)
            if stack_ip is None:
                print("sim: no DHCP lease answered within %d s (board %s)\n%s"
                      % (READY_TIMEOUT_S, board, server.log()), file=sys.stderr)
                return 1
        elif not wait_answering(netns, proc, READY_TIMEOUT_S):
            print("sim: the stack did not answer within %d s (board %s)" % (READY_TIMEOUT_S, board),
                  file=sys.stderr)
            return 1
        if impair:
            print("sim: impairment " + impairer.set(impair), file=sys.stderr, flush=True)
        print("READY " + stack_ip, flush=True)
        if forward:
            from host_tools import forward as fwd

            host, port = forward.rsplit(":", 1)
            fwd.start(host, int(port), netns, stack_ip)
            print("URL http://%s:%s/" % (host, port), flush=True)
        print("sim: board %s in namespace %s (%s relay); try: sudo ip netns exec %s ping %s"
              % (board, netns, "C" if isinstance(relay, CRelay) else "Python", netns, stack_ip),
              file=sys.stderr, flush=True)
        if commands:
            import threading

            threading.Thread(target=_commands, args=(impairer, sys.stdin, server),
                             daemon=True).start()
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if server is not None:
            server.close()  # by PID, its lease file removed
        relay.stop()
        nsmod.remove(netns)

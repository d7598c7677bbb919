"""lwIP in C, the baseline of `python -m bench compare`: Debian's lwIP source
package built with NO_SYS and the bench's own options and raw-API HTTP server.

Why the source package: Debian's binary liblwip-dev is built for the Hurd's
threaded port (NO_SYS 0, its lwipopts.h fixed inside the library), so a NO_SYS
build has to compile the core from source. The source package carries lwIP's
core only (no contrib, so no unix port or tapif): the TAP netif is the bench's
own, in bench/baselines/lwip_httpd.c.

    python -m bench.lwip build      fetch (once) and build; prints the binary's path

Everything lands under build/lwip/ (never committed): the source package is
fetched with `apt-get source` through a private apt configuration there
(deb-src lines made from this machine's own deb sources), so the system's
apt setup is left alone. Needs apt-get, dpkg-source (dpkg-dev) and gcc.
"""

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PACKAGE = "lwip"
VERSION = "2.1.3+dfsg1-2"  # Debian bookworm's; pinned
WORK = ROOT / "build" / "lwip"
SRC = WORK / "src" / "lwip-2.1.3+dfsg1"
BIN = WORK / "lwip_httpd"
OURS = ROOT / "bench" / "baselines"
OPTS_DIR = OURS / "lwip"
MAIN_C = OURS / "lwip_httpd.c"
# lwIP's core for IPv4 over Ethernet (src/Filelists.mk: COREFILES, CORE4FILES, ethernet.c)
CORE = (
    "core/init.c", "core/def.c", "core/inet_chksum.c", "core/ip.c", "core/mem.c",
    "core/memp.c", "core/netif.c", "core/pbuf.c", "core/raw.c", "core/stats.c", "core/sys.c",
    "core/tcp.c", "core/tcp_in.c", "core/tcp_out.c", "core/timeouts.c", "core/udp.c",
    "core/ipv4/etharp.c", "core/ipv4/icmp.c", "core/ipv4/ip4.c", "core/ipv4/ip4_addr.c",
    "core/ipv4/ip4_frag.c", "netif/ethernet.c",
)
CFLAGS = ("-O2", "-std=gnu99", "-w")  # -w: lwIP's own sources, not ours to lint


class BuildError(RuntimeError):
    pass


def _deb_src_lines():
    """deb-src entries for the archives this machine's apt already uses
    (one-line and deb822 formats), so no archive is named here."""
    out = []
    files = [Path("/etc/apt/sources.list")] + sorted(Path("/etc/apt/sources.list.d").glob("*"))
    for f in files:
        try:
            text = f.read_text()
        except OSError:
            continue
        if f.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                if re.search(r"^Types:.*\bdeb\b", stanza, re.M):
                    out.append(re.sub(r"^Types:.*$", "Types: deb-src", stanza, flags=re.M)
                               .strip())
        else:
            for line in text.splitlines():
                if line.startswith("deb "):
                    out.append("deb-src " + line[4:])
    return out


def _apt(*args, cwd=None):
    apt_dir = WORK / "apt"
    (apt_dir / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (apt_dir / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    (apt_dir / "parts").mkdir(exist_ok=True)
    entries = _deb_src_lines()
    if not entries:
        raise BuildError("no apt sources on this machine to derive deb-src entries from")
    deb822 = [e for e in entries if e.startswith("Types:")]
    oneline = [e for e in entries if not e.startswith("Types:")]
    (apt_dir / "parts" / "src.sources").write_text("\n\n".join(deb822) + "\n")
    (apt_dir / "sources.list").write_text("\n".join(oneline) + "\n")
    cmd = ["apt-get", "-q",
           "-o", "Dir::Etc::SourceList=" + str(apt_dir / "sources.list"),
           "-o", "Dir::Etc::SourceParts=" + str(apt_dir / "parts"),
           "-o", "Dir::State::Lists=" + str(apt_dir / "lists"),
           "-o", "Dir::Cache=" + str(apt_dir / "cache"),
           "-o", "APT::Sandbox::User=root"] + list(args)
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise BuildError("%s failed:\n%s" % (" ".join(cmd[:2] + list(args)),
                                              (r.stdout + r.stderr)[-2000:]))
    return r


def fetch():
    """Debian's lwIP source package, unpacked with its patches, in SRC."""
    if (SRC / "src" / "core" / "tcp.c").exists():
        return SRC
    for tool in ("apt-get", "dpkg-source"):
        if subprocess.run(["sh", "-c", "command -v " + tool], capture_output=True).returncode:
            raise BuildError("%s is missing (make setup installs dpkg-dev)" % tool)
    _apt("update")
    (WORK / "src").mkdir(parents=True, exist_ok=True)
    _apt("source", "%s=%s" % (PACKAGE, VERSION), cwd=str(WORK / "src"))
    if not (SRC / "src" / "core" / "tcp.c").exists():
        raise BuildError("apt-get source %s=%s unpacked nothing at %s" % (PACKAGE, VERSION, SRC))
    return SRC


def _ours():
    return [MAIN_C] + sorted(OPTS_DIR.rglob("*.h"))


def build():
    """The lwip_httpd binary, built if missing or older than its inputs."""
    src = fetch()
    inputs = _ours() + [src / "src" / c for c in CORE]
    if BIN.exists() and all(BIN.stat().st_mtime >= p.stat().st_mtime for p in inputs):
        return BIN
    obj_dir = WORK / "obj"
    obj_dir.mkdir(parents=True, exist_ok=True)
    inc = ["-I", str(OPTS_DIR), "-I", str(src / "src" / "include")]

    def cc(path):
        obj = obj_dir / (path.stem + ".o")
        r = subprocess.run(["gcc", "-c", *CFLAGS, *inc, str(path), "-o", str(obj)],
                           capture_output=True, text=True, timeout=300)
        if r.returncode:
            raise BuildError("gcc %s:\n%s" % (path.name, r.stderr[-3000:]))
        return obj

    srcs = [src / "src" / c for c in CORE] + [MAIN_C]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        objs = list(ex.map(cc, srcs))
    tmp = BIN.with_suffix(".tmp")
    r = subprocess.run(["gcc", "-o", str(tmp)] + [str(o) for o in objs], capture_output=True,
                       text=True, timeout=120)
    if r.returncode:
        raise BuildError("link:\n" + r.stderr[-3000:])
    tmp.replace(BIN)
    return BIN


class Lwip:
    """A compare target: lwip_httpd on the TAP of a fresh namespace, the TAP
    fd handed over directly (no relay: lwIP reads the TAP itself)."""

    name = "lwip"
    label = "lwIP 2.1.3 C, NO_SYS, raw API"

    def __init__(self, tag):
        self.netns = "bcmp%s-lw" % tag
        self.proc = None
        self.fd = -1
        self._why = None

    def available(self):
        if self._why is None:
            try:
                build()
                self._why = ""
            except (BuildError, OSError, subprocess.SubprocessError) as e:
                self._why = "lwIP baseline not built: %s" % e
        return self._why

    def start(self):
        from bench import compare
        from host_tools import netns as nsmod

        if nsmod.exists(self.netns):
            nsmod.remove(self.netns)
        self.fd = nsmod.create(self.netns, "ltap0", compare.HOST_IP + "/24")
        self.proc = subprocess.Popen(
            ["taskset", "-c", compare.SERVER_CPU, str(BIN), "--fd", str(self.fd), "--ip",
             compare.SERVER_IP, "--gw", compare.HOST_IP],
            pass_fds=(self.fd,), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("LISTENING") or not compare.wait_http(self.netns, self.proc):
            self.stop()
            raise RuntimeError("lwip_httpd did not start: %r" % line.strip())

    def stop(self):
        from bench import compare
        from host_tools import netns as nsmod

        compare.stop(self.proc)
        self.proc = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        nsmod.remove(self.netns)


def main(argv=()):
    args = list(argv) or ["build"]
    if args[0] != "build":
        raise SystemExit("usage: python -m bench.lwip build")
    try:
        print(build().relative_to(ROOT))
    except BuildError as e:
        print("lwip: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

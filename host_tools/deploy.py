"""deploy: put a board's build on the board over its raw REPL (mpremote),
copying only what changed.

The build (`build --board B`, host_tools/build.py) is laid out as the board's
filesystem: /lib/stack/, /lib/firmware/, /lib/boards/, /lib/board.mpy and
/main.py. The board hashes what it has (SHA-256, one script for all files);
only files whose hash differs are written. Files under /lib/stack,
/lib/firmware and /lib/boards that the build does not hold are removed: a
stale .py there (left by `mip install`, which copies sources) would shadow the
.mpy beside it, since MicroPython looks for .py first.
"""

import hashlib
import sys
from pathlib import Path

OWNED_DIRS = ("/lib/stack", "/lib/firmware", "/lib/boards")
# Would shadow /lib/board.mpy: '' (the root) comes before /lib in sys.path.
SHADOWS = ("/board.py", "/board.mpy", "/lib/board.py")
CHUNK = 512  # bytes per raw-REPL write: small enough for a busy board's heap

_SCAN = """\
import os, hashlib, binascii
def _h(p):
    try:
        f = open(p, 'rb')
    except OSError:
        return '-'
    d = hashlib.sha256()
    b = bytearray(512)
    m = memoryview(b)
    while True:
        n = f.readinto(b)
        if not n:
            break
        d.update(m[:n])
    f.close()
    return binascii.hexlify(d.digest()).decode()
def _walk(d):
    try:
        es = list(os.ilistdir(d))
    except OSError:
        return
    for e in es:
        p = d + '/' + e[0]
        if e[1] == 0x4000:
            print('D', p)
            _walk(p)
        else:
            print('F', p, _h(p))
for _d in %r:
    _walk(_d)
for _p in %r:
    print('F', _p, _h(_p))
"""

_MKDIRS = """\
import os
for _d in %r:
    try:
        os.mkdir(_d)
    except OSError:
        pass
"""

_REMOVE = """\
import os
for _p in %r:
    try:
        os.remove(_p)
    except OSError:
        pass
for _d in %r:
    try:
        os.rmdir(_d)
    except OSError:
        pass
"""


def local_files(out_root):
    """{device path: (local Path, sha256 hex)} of a board build."""
    files = {}
    for p in sorted(Path(out_root).rglob("*")):
        if p.is_file() and not p.name.startswith("."):
            files["/" + str(p.relative_to(out_root))] = (p, hashlib.sha256(p.read_bytes())
                                                         .hexdigest())
    return files


def remote_state(transport, paths):
    """(files {path: sha256 hex or '-'}, dirs set) on the board: everything
    under OWNED_DIRS, and `paths`."""
    out = transport.exec(_SCAN % (list(OWNED_DIRS), sorted(paths)))
    files, dirs = {}, set()
    for line in out.decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "F":
            files[parts[1]] = parts[2]
        elif len(parts) == 2 and parts[0] == "D":
            dirs.add(parts[1])
    return files, dirs


def parents(path):
    """'/lib/stack/wire/x.mpy' -> ['/lib', '/lib/stack', '/lib/stack/wire']."""
    parts = path.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def plan(local, remote_files, remote_dirs):
    """What to do: (to copy [paths], up to date [paths], to remove [paths],
    dirs to remove [paths]), from the two sides' hashes."""
    copy = [p for p in sorted(local) if remote_files.get(p) != local[p][1]]
    same = [p for p in sorted(local) if remote_files.get(p) == local[p][1]]
    remove = sorted(p for p, h in remote_files.items()
                    if p not in local and h != "-"
                    and (p.startswith(tuple(d + "/" for d in OWNED_DIRS)) or p in SHADOWS))
    wanted_dirs = {d for p in local for d in parents(p)}
    rmdirs = sorted((d for d in remote_dirs if d not in wanted_dirs), reverse=True)
    return copy, same, remove, rmdirs


def deploy(transport, out_root, progress=True, log=print):
    """Sync the build at out_root onto the board behind `transport` (an
    mpremote transport, raw REPL entered). Returns (copied, same, removed)."""
    from tqdm import tqdm

    local = local_files(out_root)
    remote_files, remote_dirs = remote_state(transport, list(local) + list(SHADOWS))
    copy, same, remove, rmdirs = plan(local, remote_files, remote_dirs)
    if remove or rmdirs:
        transport.exec(_REMOVE % (remove, rmdirs))
    if copy:
        needed = sorted({d for p in copy for d in parents(p)}, key=lambda d: (d.count("/"), d))
        transport.exec(_MKDIRS % (needed,))
        total = sum(local[p][0].stat().st_size for p in copy)
        with tqdm(total=total, unit="B", unit_scale=True, disable=not progress,
                  file=sys.stderr, desc="deploy", leave=True) as bar:
            for p in copy:
                data = local[p][0].read_bytes()
                bar.set_postfix_str(p, refresh=False)
                done = [0]

                def step(written, size, done=done):
                    bar.update(written - done[0])
                    done[0] = written

                transport.fs_writefile(p, data, chunk_size=CHUNK, progress_callback=step)
                if not data:
                    step(0, 0)
    return copy, same, remove


def run(board, port, out_dir="build", reset=True, progress=True):
    from host_tools import build, serialport

    try:
        build.board_facts(board)
    except ValueError as e:
        print("deploy: " + str(e), file=sys.stderr)
        return 2
    out_root, rows, failures = build.build_board(board, out_dir)
    for rel, err in failures:
        print("deploy: build failed: %s\n%s" % (rel, err), file=sys.stderr)
    if failures:
        return 1
    try:
        t = serialport.transport(port)
    except serialport.PortError as e:
        print("deploy: " + str(e), file=sys.stderr)
        return 2
    from mpremote.transport import TransportError

    try:
        try:
            # a board answers Ctrl-C, Ctrl-A within milliseconds, even from a busy loop
            t.enter_raw_repl(soft_reset=False, timeout_overall=4)
        except TransportError as e:
            print("deploy: no MicroPython REPL on %s (%s); is MicroPython flashed? "
                  "(python -m host_tools flash --help)" % (port, e), file=sys.stderr)
            return 1
        copied, same, removed = deploy(t, out_root, progress)
        size = sum((out_root / p.lstrip("/")).stat().st_size for p in copied)
        print("deploy: %s to %s: %d file%s copied (%d bytes), %d up to date, %d removed"
              % (board, port, len(copied), "" if len(copied) == 1 else "s", size, len(same),
                 len(removed)))
        for p in removed:
            print("  removed %s (not in the build)" % p)
        t.exit_raw_repl()
        if reset:
            # a soft reset runs the new /main.py, as at power-up
            t.serial.write(b"\x04")
            print("deploy: soft reset: the board runs the new main.py (watch it with "
                  "python -m host_tools monitor --port %s)" % port)
    except TransportError as e:
        print("deploy: the board stopped answering on %s: %s" % (port, e), file=sys.stderr)
        return 1
    finally:
        t.close()
    return 0

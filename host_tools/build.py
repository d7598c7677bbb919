"""Compile the stack, boards and firmware to .mpy with mpy-cross.

A board runs .mpy files (copied to /lib) or frozen modules: either way it never
compiles the stack from source, which would need far more heap than the code
itself. The simulator does the same: it runs a build for the host's own
architecture (x64), so its 64 KB heap holds what a board's would.
"""

import ast
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("stack", "boards", "firmware")
# The manifest is read by a firmware build, never imported.
KEEP_SOURCE = ("firmware/manifest.py",)
HOST_ARCH = {"x86_64": "x64", "i686": "x86", "armv7l": "armv7m"}


def host_arch():
    """mpy-cross -march for the unix port on this machine, or None (run source)."""
    return HOST_ARCH.get(platform.machine())


def mpy_cross():
    return str(Path(sys.executable).parent / "mpy-cross")


def sources(packages=("stack",)):
    for pkg in packages:
        yield from sorted((ROOT / pkg).rglob("*.py"))


def compile_one(src, out, arch):
    """Compile src to out; returns (returncode, stderr). The file appears whole
    (written aside, then renamed), so a simulator starting meanwhile never
    imports half of one."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(".%s.%d.tmp" % (out.name, os.getpid()))
    r = subprocess.run([mpy_cross(), "-march=" + arch, "-o", str(tmp), str(src)],
                       capture_output=True, text=True)
    if r.returncode == 0:
        os.replace(tmp, out)
    elif tmp.exists():
        tmp.unlink()
    return r.returncode, r.stderr


def build_tree(arch, out_dir, packages=PACKAGES):
    """Compile every package into out_dir/arch (only files newer than their .mpy).
    Returns (out_root, failures as [(relative path, stderr)])."""
    out_root = Path(out_dir) / arch
    failures = []
    for src in sources(packages):
        rel = src.relative_to(ROOT)
        if str(rel) in KEEP_SOURCE:
            continue
        out = out_root / rel.with_suffix(".mpy")
        if out.exists() and out.stat().st_mtime >= src.stat().st_mtime:
            continue
        rc, err = compile_one(src, out, arch)
        if rc:
            failures.append((str(rel), err))
    # A .mpy whose source is gone must not shadow anything.
    for mpy in out_root.rglob("*.mpy"):
        if not (ROOT / mpy.relative_to(out_root).with_suffix(".py")).exists():
            mpy.unlink()
    return out_root, failures


def run(arch, out_dir):
    out_root, failures = build_tree(arch, out_dir)
    for rel, err in failures:
        print("FAIL %s\n%s" % (rel, err), file=sys.stderr)
    total = len(list(out_root.rglob("*.mpy")))
    print("%d files built for %s in %s (%d failed)" % (total, arch, out_root, len(failures)))
    return 1 if failures else 0


# -- a board's build: what the board runs, laid out as its filesystem ---------------------------

# The firmware's entry point: copied as /main.py (boot runs it by name, so it
# stays a source file); what it imports is found by following its imports.
MAIN = "firmware/main.py"
OUR_PACKAGES = ("stack", "firmware", "boards")


def board_facts(board):
    """The board file's module-level constants (PORT, ARCH, CHIP, ...), read
    without importing it (hardware boards import `machine`)."""
    path = ROOT / "boards" / (board + ".py")
    if not path.exists():
        known = sorted(p.stem for p in (ROOT / "boards").glob("*.py") if p.stem != "__init__")
        raise ValueError("no board %r (boards/%s.py); known: %s" % (board, board, ", ".join(known)))
    facts = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                continue
            for t in node.targets:
                if isinstance(t, ast.Name):
                    facts[t.id] = value
    for need in ("PORT", "ARCH", "CHIP"):
        if need not in facts:
            raise ValueError("boards/%s.py does not name its %s" % (board, need))
    return facts


def module_file(name):
    """'stack.iface' -> Path of stack/iface.py or stack/iface/__init__.py, or None."""
    base = ROOT.joinpath(*name.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def imports_of(path):
    """Our modules that `path` imports anywhere in it (top level or inside a
    function: lazy imports run on the board too), as dotted names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + ["%s.%s" % (node.module, a.name) for a in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] not in OUR_PACKAGES:
                continue
            parts = name.split(".")
            for i in range(1, len(parts) + 1):  # packages on the way in run their __init__
                if module_file(".".join(parts[:i])) is not None:
                    found.add(".".join(parts[:i]))
    return found


def dotted(path):
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def board_modules(board):
    """Dotted names of every module the board's build holds, dependencies
    first: the whole stack (except the drivers of other chips), and what the
    firmware and the board file import."""
    roots = [ROOT / MAIN, ROOT / "boards" / (board + ".py")]
    roots += [p for p in sources(("stack",)) if "drivers" not in p.relative_to(ROOT).parts]
    deps = {}
    todo = [dotted(p) for p in roots if p != ROOT / MAIN]
    todo += sorted(imports_of(ROOT / MAIN))
    while todo:
        name = todo.pop()
        if name in deps:
            continue
        deps[name] = imports_of(module_file(name)) - {name}
        todo.extend(deps[name])
    order = []
    done = set()

    def visit(name, path=()):
        if name in done or name in path:  # an import cycle: first come, first placed
            return
        for d in sorted(deps[name]):
            visit(d, path + (name,))
        done.add(name)
        order.append(name)

    for name in sorted(deps):
        visit(name)
    return order


def device_path(name, board):
    """Where a module lives on the board: /lib/<package path>.mpy, and the
    board file as /lib/board.mpy (firmware/main.py imports `board`)."""
    if name == "boards." + board:
        return "lib/board.mpy"
    src = module_file(name)
    return "lib/" + str(src.relative_to(ROOT).with_suffix(".mpy"))


def build_board(board, out_dir="build"):
    """Compile the board's modules for its arch into out_dir/board/ laid out as
    the board's filesystem (lib/..., main.py). Returns (out_root, rows,
    failures): rows are (module name, device path, bytes) in import order."""
    facts = board_facts(board)
    arch = facts["ARCH"]
    out_root = Path(out_dir) / board
    rows = []
    failures = []
    wanted = set()
    for name in board_modules(board):
        src = module_file(name)
        dev = device_path(name, board)
        out = out_root / dev
        wanted.add(dev)
        if not (out.exists() and out.stat().st_mtime >= src.stat().st_mtime):
            rc, err = compile_one(src, out, arch)
            if rc:
                failures.append((str(src.relative_to(ROOT)), err))
                continue
        rows.append((name, dev, out.stat().st_size))
    main_out = out_root / "main.py"
    main_src = (ROOT / MAIN).read_bytes()
    if not main_out.exists() or main_out.read_bytes() != main_src:
        main_out.parent.mkdir(parents=True, exist_ok=True)
        main_out.write_bytes(main_src)
    wanted.add("main.py")
    rows.append(("main", "main.py", len(main_src)))
    # What an earlier build left and this one does not hold must not reach a board.
    for f in sorted(out_root.rglob("*")):
        if f.is_file() and str(f.relative_to(out_root)) not in wanted:
            f.unlink()
    return out_root, rows, failures


_HEAP_PROBE = """\
import gc, micropython
names = %r
cost = [0] * len(names)
for i in range(len(names)):
    gc.collect()
    micropython.qstr_info()
    before = gc.mem_alloc()
    try:
        __import__(names[i])
    except Exception as e:
        cost[i] = -1
        micropython.qstr_info()
        continue
    gc.collect()
    cost[i] = gc.mem_alloc() - before
    micropython.qstr_info()
print("HEAP", " ".join(str(c) for c in cost))
"""
_QSTR_LINE = re.compile(r"qstr pool: .*n_total_bytes=(\d+)")
QSTR_ROW = "(qstr pools)"


def import_heap(names):
    """Heap bytes each module takes when imported after the ones before it (so
    its own code and globals, not its dependencies'), measured in the
    MicroPython unix port on this machine's .mpy build. {name: bytes}, -1 for
    a module the unix port cannot import. The names a module interns go to
    qstr pools that grow in steps, charged to whichever module crosses a step:
    they are taken out of each module's figure and given as one more entry,
    QSTR_ROW, so that no module carries a pool step that is not its own."""
    arch = host_arch()
    if arch is None:
        return {}
    out_root, failures = build_tree(arch, ROOT / "build")
    if failures:
        return {}
    mp = str(Path(sys.executable).parent / "micropython")
    r = subprocess.run([mp, "-X", "heapsize=4M", "-c", _HEAP_PROBE % (list(names),)],
                       env=dict(os.environ, MICROPYPATH=".frozen:" + str(out_root)),
                       capture_output=True, text=True, timeout=120)
    pools = [int(m.group(1)) for m in _QSTR_LINE.finditer(r.stdout)]
    for line in r.stdout.splitlines():
        if line.startswith("HEAP ") and len(pools) == 2 * len(names):
            costs = [int(c) for c in line.split()[1:]]
            out = {}
            for i, name in enumerate(names):
                grew = pools[2 * i + 1] - pools[2 * i]
                out[name] = costs[i] - grew if costs[i] >= 0 else -1
            out[QSTR_ROW] = pools[-1] - pools[0]
            return out
    return {}


def size_table(board, facts, rows, heap):
    """The table `build --board` prints, as lines."""
    lines = ["%s: %s port, %s, %s (mpy-cross -march=%s)" % (
        board, facts["PORT"], facts["CHIP"], "build/" + board, facts["ARCH"])]
    lines.append("%-34s %10s %12s" % ("module (path on the board)", "bytes", "heap*"))
    total = heap_total = 0
    for name, dev, size in sorted(rows, key=lambda r: (r[1] == "main.py", r[1])):
        h = heap.get(name if name != "main" else None)
        if name == "boards." + board:
            h = heap.get(name)
        cell = "-" if h is None else ("n/a" if h < 0 else str(h))
        lines.append("%-34s %10d %12s" % (dev, size, cell))
        total += size
        if h is not None and h > 0:
            heap_total += h
    if QSTR_ROW in heap:
        lines.append("%-34s %10s %12d" % (QSTR_ROW, "", heap[QSTR_ROW]))
        heap_total += heap[QSTR_ROW]
    lines.append("%-34s %10d %12s" % ("total (%d files)" % len(rows), total,
                                      heap_total if heap else "-"))
    if heap:
        lines.append("* heap: bytes each module takes when imported from .mpy after the ones "
                     "it needs, measured in the MicroPython unix port (x86-64: objects are "
                     "about twice their size on a 32-bit board); the names all modules intern "
                     "are the qstr pools row; frozen modules keep code and names in flash "
                     "and take less. main.py runs as a script.")
    return lines


def run_board(board, out_dir="build", heap=True):
    try:
        facts = board_facts(board)
    except ValueError as e:
        print("build: " + str(e), file=sys.stderr)
        return 2
    out_root, rows, failures = build_board(board, out_dir)
    for rel, err in failures:
        print("FAIL %s\n%s" % (rel, err), file=sys.stderr)
    if failures:
        return 1
    names = [name for name, _, _ in rows if name != "main"]
    measured = import_heap(names) if heap else {}
    print("\n".join(size_table(board, facts, rows, measured)))
    return 0


# -- package.json for mip ------------------------------------------------------------------------


def version():
    """stack.__version__, read from stack/__init__.py."""
    for node in ast.parse((ROOT / "stack" / "__init__.py").read_text()).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets):
            return ast.literal_eval(node.value)
    raise ValueError("stack/__init__.py has no __version__")


def firmware_modules():
    """The firmware/ files a board runs besides main.py (what main.py imports)."""
    names = [n for n in board_modules("unix_tap") if n.split(".")[0] == "firmware"]
    return sorted(str(module_file(n).relative_to(ROOT)) for n in names)


def hardware_boards():
    """Board files for real boards: not the host's (PORT unix, host32) nor
    the emulator's (emu_*), which only the project's own tests run."""
    found = []
    for p in sorted((ROOT / "boards").glob("*.py")):
        if p.stem == "__init__" or p.stem.startswith("emu_"):
            continue
        try:
            if board_facts(p.stem)["PORT"] not in ("unix", "host32"):
                found.append(p.stem)
        except ValueError:
            continue
    return found


def package_json():
    """package.json for `mpremote mip install github:OWNER/REPO` (sources into
    /lib: the whole stack, the firmware modules, the hardware board files)."""
    files = [str(p.relative_to(ROOT)) for p in sources(("stack",))]
    files += firmware_modules()
    files += ["boards/__init__.py"] + ["boards/%s.py" % b for b in hardware_boards()]
    return {"urls": [[f, f] for f in files], "deps": [], "version": version()}


def package_json_text():
    import json

    doc = package_json()
    lines = ",\n".join("    %s" % json.dumps(u) for u in doc["urls"])
    return '{\n  "urls": [\n%s\n  ],\n  "deps": [],\n  "version": %s\n}\n' % (
        lines, json.dumps(doc["version"]))

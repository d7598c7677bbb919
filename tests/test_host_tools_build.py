"""host_tools build --board: a board's build is its filesystem (lib/..., main.py)
of .mpy files for its arch, with a size table and each module's import heap;
firmware/manifest.py freezes the same modules; package.json (mip) lists the
tree as it is and carries stack.__version__."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from host_tools import build

ROOT = Path(__file__).resolve().parent.parent
# .mpy v6 header byte 2: arch << 2 | sub-version, written when a file holds native code
MPY_ARCH = {"armv6m": 4, "xtensawin": 10, "x64": 2}


def run_build(board, out, *extra):
    return subprocess.run([sys.executable, "-m", "host_tools", "build", "--board", board,
                           "--out", str(out)] + list(extra), cwd=str(ROOT), capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("name,arch,chip,other", [
    ("w5500_evb_pico", "armv6m", "w5500", "enc28j60"),
    ("esp32_w5500", "xtensawin", "w5500", "enc28j60"),
])
def test_board_build_from_scratch_prints_the_size_table(name, arch, chip, other, tmp_path):
    r = run_build(name, tmp_path)
    assert r.returncode == 0, r.stderr
    root = tmp_path / name
    files = sorted(p for p in root.rglob("*") if p.is_file())
    rel = {str(p.relative_to(root)) for p in files}
    assert {"main.py", "lib/board.mpy", "lib/boards/__init__.mpy", "lib/stack/iface.mpy",
            "lib/stack/tcp.mpy", "lib/firmware/page.mpy", "lib/firmware/web.mpy",
            "lib/stack/drivers/%s.mpy" % chip} <= rel
    assert "lib/stack/drivers/%s.mpy" % other not in rel  # only this board's chip
    assert "lib/stack/drivers/tap.mpy" not in rel
    assert not any(p.startswith("lib/boards/sim") for p in rel)
    assert (root / "main.py").read_bytes() == (ROOT / "firmware" / "main.py").read_bytes()
    native = 0
    for p in files:
        if p.suffix == ".mpy":
            head = p.read_bytes()[:4]
            assert head[:2] == b"M\x06"
            if head[2] >> 2:
                assert head[2] >> 2 == MPY_ARCH[arch], p
                native += 1
    assert native >= 1  # the viper kernels (stack/csum.py) are compiled for the board's CPU
    # the table: one row per file with its exact size, and the total
    rows = {}
    for line in r.stdout.splitlines():
        m = re.match(r"(\S+)\s+(\d+)\s+(\S+)$", line)
        if m:
            rows[m.group(1)] = (int(m.group(2)), m.group(3))
    assert set(rows) == rel
    for p in files:
        assert rows[str(p.relative_to(root))][0] == p.stat().st_size
    total = re.search(r"^total \((\d+) files\)\s+(\d+)\s+(\d+)$", r.stdout, re.M)
    assert total, r.stdout
    assert int(total.group(1)) == len(files)
    assert int(total.group(2)) == sum(p.stat().st_size for p in files)
    heap = {k: v[1] for k, v in rows.items()}
    assert int(heap["lib/stack/iface.mpy"]) > 1000
    assert int(heap["lib/firmware/page.mpy"]) > 0
    assert heap["main.py"] == "-"
    # the names modules intern are one row of their own (qstr pools grow in steps)
    qstr = re.search(r"^\(qstr pools\)\s+(\d+)$", r.stdout, re.M)
    assert qstr and int(qstr.group(1)) > 0, r.stdout
    assert int(total.group(3)) == sum(int(v) for v in heap.values() if v.isdigit()) + int(
        qstr.group(1))
    # no module carries a pool step: each is within a few times its .mpy size
    for rel, (size, h) in rows.items():
        if h.isdigit():
            assert int(h) < 4 * size + 4096, (rel, size, h)


def test_rebuild_removes_what_the_board_no_longer_holds(tmp_path):
    assert run_build("pico_enc28j60", tmp_path, "--no-heap").returncode == 0
    stray = tmp_path / "pico_enc28j60" / "lib" / "stack" / "gone.mpy"
    stray.write_bytes(b"M\x06\x00\x1f")
    r = run_build("pico_enc28j60", tmp_path, "--no-heap")
    assert r.returncode == 0, r.stderr
    assert not stray.exists()
    assert "heap" in r.stdout and "lib/stack/drivers/enc28j60.mpy" in r.stdout


def test_unknown_board_is_a_clear_error(tmp_path):
    r = run_build("no_such_board", tmp_path)
    assert r.returncode == 2
    assert "no board 'no_such_board'" in r.stderr and "w5500_evb_pico" in r.stderr


def test_lazy_imports_are_part_of_the_build():
    # firmware/main.py imports firmware.web inside a function: the board needs it
    names = build.board_modules("w5500_evb_pico")
    assert "firmware.web" in names and "firmware.http" in names
    assert names.index("stack.clock") < names.index("stack.iface")  # dependencies first


class ManifestRecorder:
    """The manifest functions of MicroPython's tools/makemanifest.py, recording."""

    def __init__(self, manifest):
        self.dir = manifest.parent
        self.packages = {}
        self.includes = []

    def include(self, path):
        self.includes.append(path)

    def package(self, name, files=None, base_path=".", opt=None):
        base = (self.dir / base_path / name).resolve()
        assert base.is_dir(), base
        if files is None:
            files = [str(p.relative_to(base)) for p in sorted(base.rglob("*.py"))]
        for f in files:
            assert (base / f).is_file(), base / f
        self.packages[name] = sorted(files)


def test_manifest_freezes_what_the_board_build_holds():
    path = ROOT / "firmware" / "manifest.py"
    rec = ManifestRecorder(path)
    exec(compile(path.read_text(), str(path), "exec"),
         {"include": rec.include, "package": rec.package})
    assert rec.includes == ["$(PORT_DIR)/boards/manifest.py"]
    assert set(rec.packages) == {"stack", "firmware", "boards"}
    assert ["firmware/" + f for f in rec.packages["firmware"]] == build.firmware_modules()
    assert rec.packages["boards"] == ["__init__.py"]
    assert len(rec.packages["stack"]) == len(list(build.sources(("stack",))))


def test_package_json_is_the_tree_as_it_is():
    committed = (ROOT / "package.json").read_text()
    assert committed == build.package_json_text(), \
        "package.json is stale: python -m host_tools build --package-json"
    doc = json.loads(committed)
    import stack

    assert doc["version"] == stack.__version__
    for dest, src in doc["urls"]:
        assert dest == src and (ROOT / src).is_file()
    assert "stack/iface.py" in [u[0] for u in doc["urls"]]
    assert "boards/w5500_evb_pico.py" in [u[0] for u in doc["urls"]]

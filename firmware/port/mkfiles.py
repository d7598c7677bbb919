"""Make the stack port's read-only file table (firmware/port/files.c reads it).

    python3 mkfiles.py OUT.bin ROOT_DIR [--prefix lib] [--unique-id HEX16] [--heap BYTES]

Every file under ROOT_DIR becomes an entry named PREFIX/relative/path.
Layout, little-endian: magic "PTFS" (u32 0x53465450), count (u32),
unique_id (8 bytes), heap_bytes (u32, 0 = all RAM left), reserved (u32), then count entries of (name_off, data_off, size) as u32,
then NUL-terminated names, then the file data, each 4-byte aligned.
Offsets count from the start of the table.
"""

import struct
import sys
from pathlib import Path

MAGIC = 0x53465450


def build(root, prefix="lib", unique_id=b"\xe6\x60\x58\x38\x83\x2a\x27\x21", heap_bytes=0):
    root = Path(root)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    names = [("%s/%s" % (prefix, p.relative_to(root).as_posix())).lstrip("/").encode() for p in files]
    datas = [p.read_bytes() for p in files]
    head = 24 + 12 * len(files)
    name_offs = []
    pos = head
    for n in names:
        name_offs.append(pos)
        pos += len(n) + 1
    data_offs = []
    for d in datas:
        pos = (pos + 3) & ~3
        data_offs.append(pos)
        pos += len(d)
    out = bytearray(pos)
    struct.pack_into("<II8sII", out, 0, MAGIC, len(files), unique_id, heap_bytes, 0)
    for i in range(len(files)):
        struct.pack_into("<III", out, 24 + 12 * i, name_offs[i], data_offs[i], len(datas[i]))
        out[name_offs[i] : name_offs[i] + len(names[i])] = names[i]
        out[data_offs[i] : data_offs[i] + len(datas[i])] = datas[i]
    return bytes(out)


def main(argv):
    args = list(argv)
    prefix = "lib"
    uid = None
    if "--prefix" in args:
        i = args.index("--prefix")
        prefix = args[i + 1]
        del args[i : i + 2]
    if "--unique-id" in args:
        i = args.index("--unique-id")
        uid = bytes.fromhex(args[i + 1])
        del args[i : i + 2]
    heap = 0
    if "--heap" in args:
        i = args.index("--heap")
        heap = int(args[i + 1])
        del args[i : i + 2]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    kw = {"heap_bytes": heap}
    if uid:
        kw["unique_id"] = uid
    blob = build(args[1], prefix, **kw)
    Path(args[0]).write_bytes(blob)
    print("%s: %d bytes" % (args[0], len(blob)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

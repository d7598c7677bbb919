"""Run a script inside the real MicroPython unix port (heap-capped like a board)."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MICROPYTHON = str(ROOT / ".venv" / "bin" / "micropython")


def run_mp(script, *args, heapsize="64wK", timeout=300):
    """CompletedProcess of micropython -X heapsize=HEAP tests/SCRIPT ARGS, with
    the project root on MICROPYPATH so `import stack` works."""
    env = dict(os.environ, MICROPYPATH=str(ROOT))
    return subprocess.run(
        [MICROPYTHON, "-X", "heapsize=" + heapsize, str(ROOT / "tests" / script)] + list(args),
        env=env, capture_output=True, text=True, timeout=timeout)

"""Every file under stack/ compiles with the real mpy-cross for both board
architectures (viper included: native code is emitted only with -march)."""

import pytest

from host_tools import build

ARCHES = ("armv6m", "xtensawin")


@pytest.mark.parametrize("arch", ARCHES)
def test_stack_compiles_for(arch, tmp_path):
    sources = list(build.sources())
    assert len(sources) >= 15
    failures = []
    for src in sources:
        rc, err = build.compile_one(src, tmp_path / (src.stem + ".mpy"), arch)
        if rc:
            failures.append("%s: %s" % (src.name, err))
        else:
            data = (tmp_path / (src.stem + ".mpy")).read_bytes()
            assert data[0] == ord("M") and data[1] == 6  # .mpy v6
    assert failures == []

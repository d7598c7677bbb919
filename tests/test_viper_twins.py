"""Viper kernels equal their plain twins, checked inside the unix port."""

from mp import run_mp


def test_viper_kernels_equal_their_twins_in_the_unix_port():
    p = run_mp("mp_viper_twins.py")
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.split() == ["OK", "7000"]

"""python -m host_tools: every command and option is described in --help, and
the sim command hands sim.run exactly what its options say."""

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from host_tools.__main__ import cli

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def commands():
    return sorted(cli.commands)


def test_python_m_host_tools_help_lists_every_command():
    r = subprocess.run([sys.executable, "-m", "host_tools", "--help"], cwd=str(ROOT),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    for name in commands():
        assert name in r.stdout
    assert {"sim", "build"} <= set(commands())


@pytest.mark.parametrize("name", commands())
def test_every_option_of_every_command_has_help(name):
    cmd = cli.commands[name]
    assert cmd.help and len(cmd.help) > 20
    for p in cmd.params:
        if isinstance(p, click.Option):
            assert p.help and len(p.help) > 10, "%s %s has no help" % (name, p.opts)
    r = CliRunner().invoke(cli, [name, "--help"])
    assert r.exit_code == 0
    for p in cmd.params:
        if isinstance(p, click.Option):
            assert p.opts[0] in r.output


@pytest.fixture
def sim_calls(monkeypatch):
    from host_tools import sim

    calls = []
    monkeypatch.setattr(sim, "run", lambda *a: calls.append(a) or 0)
    return calls


def test_sim_defaults_reach_sim_run(sim_calls):
    r = CliRunner().invoke(cli, ["sim"])
    assert r.exit_code == 0, r.output
    assert sim_calls == [("unix_tap", "stacksim", None, "64wK", False, False, True, None, "main",
                          [], False, False, None)]


def test_sim_every_option_reaches_sim_run(sim_calls):
    r = CliRunner().invoke(cli, ["sim", "--board", "sim_w5500", "--netns", "x1", "--forward",
                                 "127.0.0.1:8080", "--heapsize", "96wK", "--no-frozen",
                                 "--heap-lock", "--impair", "loss 3%", "--app", "tcp_services",
                                 "--commands", "--source", "--dhcp", "--pcap", "s.pcap", "--",
                                 "--config", "tcp_conns=2"])
    assert r.exit_code == 0, r.output
    assert sim_calls == [("sim_w5500", "x1", "127.0.0.1:8080", "96wK", True, True, False,
                          "loss 3%", "tcp_services", ["--config", "tcp_conns=2"], True, True,
                          "s.pcap")]


def test_sim_no_forward_and_forward_exclude_each_other(sim_calls):
    r = CliRunner().invoke(cli, ["sim", "--forward", "127.0.0.1:1", "--no-forward"])
    assert r.exit_code == 2
    assert "exclude" in r.output
    assert sim_calls == []
    r = CliRunner().invoke(cli, ["sim", "--no-forward"])
    assert sim_calls[0][2] is None


def test_unknown_option_is_a_usage_error(sim_calls):
    r = CliRunner().invoke(cli, ["sim", "--bogus"])
    assert r.exit_code == 2 and "No such option" in r.output

"""pybpftrace on the virtual kernel: each script of support/bt_scripts.py prints what bpftrace prints."""

import shutil
import subprocess

import pytest

from pybpf.cli.pybpftrace import main
from support.bt_scripts import BPFTRACE_0_17, NEWER_THAN_0_17, SCRIPTS

BPFTRACE = shutil.which("bpftrace")


def run(script: str, capsys) -> tuple[int, str, str]:
    code = main(["--no-cache", "-e", script])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_output(name, capsys):
    script, expected = SCRIPTS[name]
    code, out, err = run(script, capsys)
    assert code == 0, err
    assert out == expected
    assert err.startswith("Attached ")


@pytest.mark.skipif(BPFTRACE is None, reason="bpftrace is not installed (apt install bpftrace)")
@pytest.mark.parametrize("name", [name for name in SCRIPTS if name not in NEWER_THAN_0_17])
def test_same_as_bpftrace_0_17(name):
    """bpftrace 0.17 prints the same, after its 'Attaching N probes...' line (current bpftrace: on stderr)."""
    import os
    if os.geteuid() != 0:
        pytest.skip("bpftrace needs root to load its programs")
    script, expected = SCRIPTS[name]
    done = subprocess.run([BPFTRACE, "-e", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    first, _, rest = done.stdout.partition("\n")
    assert first.startswith("Attaching ")
    assert rest == BPFTRACE_0_17.get(name, expected)

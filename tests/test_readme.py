"""Every example in the README and docs/ runs: Python blocks execute, console blocks print what they show."""

import os
import re
import stat
import subprocess
import sys

import pytest

from support.paths import REPO

README = (REPO / "README.md").read_text()
DOCS = "".join(path.read_text() for path in sorted((REPO / "docs").glob("*.md")))
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README + DOCS, re.S)
CONSOLE_BLOCKS = re.findall(r"```console\n(.*?)```", README, re.S)


@pytest.mark.parametrize("code", PYTHON_BLOCKS, ids=[f"python-{i}" for i in range(len(PYTHON_BLOCKS))])
def test_python_example(code, monkeypatch):
    monkeypatch.chdir(REPO)
    exec(compile(code, "README.md", "exec"), {})


def _sessions(block: str):
    """(command, expected output) pairs; a command runs on while its quotes are open."""
    lines = block.splitlines()
    i, out = 0, []
    while i < len(lines):
        assert lines[i].startswith("$ "), lines[i]
        command = lines[i][2:]
        while command.count("'") % 2:
            i += 1
            command += "\n" + lines[i]
        i += 1
        expected = []
        while i < len(lines) and not lines[i].startswith("$ "):
            expected.append(lines[i])
            i += 1
        out.append((command, "\n".join(expected)))
    return out


@pytest.mark.parametrize("block", CONSOLE_BLOCKS, ids=[f"console-{i}" for i in range(len(CONSOLE_BLOCKS))])
def test_console_example(block, tmp_path):
    (tmp_path / "bin").mkdir()
    for command, module in (("pybpf", "pybpf"), ("pybpftrace", "pybpf.cli.pybpftrace")):  # this checkout's code
        shim = tmp_path / "bin" / command
        shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m {module} \"$@\"\n")
        shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ, PATH=f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    for command, expected in _sessions(block):
        done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=60)
        assert (done.stdout + done.stderr).rstrip("\n") == expected, command


def test_quick_start_is_two_commands_and_ci_runs_the_second():
    quick = re.search(r"## Quick start.*?```sh\n(.*?)```", README, re.S).group(1).strip().splitlines()
    assert len(quick) == 2
    assert quick[1] in (REPO / ".ci" / "run").read_text()

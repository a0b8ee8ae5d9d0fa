"""What a run of a cached script imports and builds: only what its probes need.

A second run of a script finds its object, the loader's reading of it, the
verifier's acceptance and the engine's translation in the cache: it imports
neither llvmlite's compiler, pyelftools, the verifier nor the Linux kernel
module, and BEGIN/END (run once) are not compiled to native code.
"""

import json
import os
import subprocess
import sys

import pytest

from pybpf.kernel.virtual import VirtualKernel
from pybpf.trace.compiler import compile_script
from pybpf.trace.runtime import Session

HIST = ('BEGIN { $i = 0; while ($i < 20) { @h = hist($i * 37); if ($i % 5 == 0) { printf("out %d\\n", $i); } '
        '$i++; } exit(); }')
REPORT = """
import json, sys
from pybpf.cli.pybpftrace import main
code = main(["-q", "-e", sys.argv[1]])
heavy = ("llvmlite.binding", "elftools.elf.elffile", "pybpf.verifier", "pybpf.kernel.linux", "pybpf.vm.jit.compile")
print(json.dumps({"code": code, "imported": sorted(m for m in heavy if m in sys.modules)}), file=sys.stderr)
"""


def run(tmp_path, script: str) -> dict:
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path), PYTHONPATH=os.pathsep.join(sys.path))
    env.pop("PYBPF_ENGINE", None)
    done = subprocess.run([sys.executable, "-c", REPORT, script], env=env, capture_output=True, text=True,
                          timeout=300)
    return json.loads(done.stderr.strip().splitlines()[-1]) | {"out": done.stdout}


def test_a_second_run_imports_only_what_it_runs(tmp_path):
    first = run(tmp_path, HIST)
    assert first["code"] == 0 and "llvmlite.binding" in first["imported"]  # it compiled
    second = run(tmp_path, HIST)
    assert second == {"code": 0, "imported": [], "out": first["out"]}
    assert second["out"].startswith("out 0\nout 5\nout 10\nout 15\n\n\n@h: \n")


def engines(script: str, monkeypatch, engine: str | None = None) -> dict[str, str]:
    if engine is None:
        monkeypatch.delenv("PYBPF_ENGINE", raising=False)
    else:
        monkeypatch.setenv("PYBPF_ENGINE", engine)
    kernel = VirtualKernel(ncpus=1)
    session = Session(compile_script(script, cache=False), kernel=kernel, err=open(os.devnull, "w"))
    from pybpf.kernel.loader import load_object
    session.loaded = load_object(kernel, session.compiled.bpf_object(), session._engines())
    try:
        return {name: kernel.info(fd)["engine"] for name, fd in session.loaded.prog_fds.items()}
    finally:
        session.close()


LONG = " ".join(f'printf("{i} %d %d %d\\n", nsecs, nsecs, nsecs);' for i in range(5))  # over 64 instructions


def test_begin_and_end_run_on_the_compiled_engine(monkeypatch):
    chosen = engines(f"BEGIN {{ {LONG} }} END {{ {LONG} }} interval:s:1 {{ {LONG} exit(); }}", monkeypatch)
    assert chosen["BEGIN_0"] == chosen["END_1"] == "compiled"
    assert [engine for name, engine in chosen.items() if name.startswith("interval")] == ["native"]


def test_pybpf_engine_still_decides(monkeypatch):
    assert set(engines(f"BEGIN {{ {LONG} }}", monkeypatch, engine="interp").values()) == {"interp"}

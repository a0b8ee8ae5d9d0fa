"""`pybpf run FILE.o`: an object's programs on the virtual kernel, attached by section name.

Loads the object (maps, then programs), attaches every program whose section
names a virtual-kernel attach point (kernel/virtual/sections.py), optionally
runs a Python script in-process under the probes, streams the trace pipe and
ring buffer records to standard output while it runs, and prints the maps at
the end.  Everything is detached and closed on the way out, whatever ends
the run (the script finishing, --seconds, Ctrl-C, an error).
"""

from __future__ import annotations

import sys
import threading
import time

from ..elf import load
from ..kernel.errors import BpfError
from ..kernel.loader import load_object
from ..kernel.virtual import VirtualKernel
from ..kernel.virtual.sections import target_for_section
from ..maps import RingBufMap
from .pyscript import script_thread


def _drain(kernel, rings, out) -> None:
    for line in kernel.trace_pipe.drain():
        out.write(line)
    for name, ring in rings:
        ring.consume(lambda data: out.write(f"{name}: {data.hex(' ')}\n"))


def _print_maps(kernel, loaded, out) -> None:
    for name, fd in loaded.map_fds.items():
        bpf_map = kernel.map(fd)
        if isinstance(bpf_map, RingBufMap) or not bpf_map.key_size:
            continue
        try:
            items = list(bpf_map.items())
        except OSError:
            continue
        out.write(f"map {name} ({len(items)} entries):\n")
        for key, value in items:
            out.write(f"  {key.hex(' ')}: {value.hex(' ')}\n")


def run_object(path: str, seconds: float | None, script: list[str] | None, out=None) -> int:
    out = out or sys.stdout
    kernel = VirtualKernel()
    loaded = load_object(kernel, load(path))
    links = []
    try:
        for prog in loaded.obj.programs:
            target = target_for_section(prog.section)
            if target is None:
                print(f"pybpf run: {prog.name}: section {prog.section} has no attach point on the virtual kernel; "
                      "loaded, not attached", file=sys.stderr)
                continue
            try:
                links.append(kernel.link_create(loaded.prog_fds[prog.name], target))
            except BpfError as err:
                reason = err.args[0].split(": ", 2)[2:]  # "COMMAND: ENAME (text): reason"
                raise BpfError(err.command, err.errno, f"{path}: program '{prog.name}' ({prog.section})"
                               + (f": {reason[0]}" if reason else "")) from None
        print(f"Attached {len(links)} program{'s' if len(links) != 1 else ''}", file=sys.stderr)
        rings = [(name, kernel.map(fd)) for name, fd in loaded.map_fds.items()
                 if isinstance(kernel.map(fd), RingBufMap)]
        done = threading.Event()
        if script:
            worker = script_thread(script, done)
            worker.start()
        elif seconds is None:
            seconds = float("inf")
        deadline = time.monotonic() + (seconds if seconds is not None else float("inf"))
        try:
            while not done.is_set() and time.monotonic() < deadline:
                done.wait(min(0.05, max(deadline - time.monotonic(), 0)))
                _drain(kernel, rings, out)
        except KeyboardInterrupt:
            pass
        status = 0
        if script:
            worker.join()
            status = worker.exit_status
        _drain(kernel, rings, out)
        _print_maps(kernel, loaded, out)
    finally:
        for link in links:
            kernel.close(link)
        for fd in loaded.fds():
            kernel.close(fd)
    return status

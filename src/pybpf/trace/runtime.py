"""Running a compiled script on a kernel: attach, deliver records, print maps, detach.

BEGIN runs first, then the other probes fire until exit(), SIGINT, the end
of a `-c` command or a time limit; then END runs, the maps are printed in
name order, and everything is detached and closed, whatever ended the run.
"""

from __future__ import annotations

import struct
import sys

try:
    import pwd
except ImportError:  # not on Windows: usernames print as uids
    pass
import threading
import time

from .. import elf
from ..kernel.loader import load_object
from .builtins import ACTIONS
from .codegen import RINGBUF_MAP, START_MAP, MapLayout
from .compiler import Compiled
from .format import render
from .output import format_map
from .output import json as json_output
from .output.text import value_text
from .probes import PROVIDERS
from .source import Diagnostic
from .types import EnumValue, Pointer, Type, slot_size

ACTION_NAMES = {number: name for name, number in ACTIONS.items()}


def _printf(session, fmt: str, values: list) -> None:
    session.emit("printf", render(fmt, values))


def _print_value(session, fmt: str, values: list) -> None:
    if session.json:
        session.out.write(json_output.value_record(values[0]) + "\n")
    else:
        session.out.write(value_text(values[0]) + "\n")


def _time(session, fmt: str, values: list) -> None:
    session.emit("time", time.strftime(fmt))


def _cat(session, fmt: str, values: list) -> None:
    path = render(fmt, values)
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            session.emit("cat", handle.read())
    except OSError as err:
        print(f"ERROR: failed to open file '{path}': {err.strerror}", file=session.err)


def _system(session, fmt: str, values: list) -> None:
    import subprocess
    session.out.flush()
    done = subprocess.run(render(fmt, values), shell=True, capture_output=True, text=True)
    session.emit("syscall", done.stdout)


# What user space does with each kind of output record (semantic.Output.kind).
OUTPUTS = {"printf": _printf, "print": _print_value, "time": _time, "cat": _cat, "system": _system,
           "strftime": None}


class Timestamp:
    """strftime()'s value: CLOCK_MONOTONIC nanoseconds that print as local time in a format."""

    def __init__(self, ns: int, fmt: str):
        self.ns, self.fmt = ns, fmt

    def __str__(self) -> str:
        wall = (time.time_ns() - (time.monotonic_ns() - self.ns)) / 1e9
        return time.strftime(self.fmt, time.localtime(wall))


FORMATS: list = []  # strftime formats of the running script, by index (set by Session)


def decode(data: bytes, t: Type):
    """A value of type t from its bytes in a record, key or map value."""
    if t.kind == "timestamp":
        return Timestamp(int.from_bytes(data[:8], "little"), FORMATS[t.params[0]].fmt)
    if t.kind == "username":
        uid = int.from_bytes(data[:8], "little")
        try:
            return pwd.getpwuid(uid).pw_name
        except (KeyError, NameError):
            return str(uid)
    if t.kind == "int":
        return int.from_bytes(data[:8], "little", signed=t.signed)
    if t.kind == "bool":
        return any(data[:8])
    if t.kind == "ptr":  # tracelang: pointers print in hex, enums by name
        return Pointer(int.from_bytes(data[:8], "little"))
    if t.kind == "enum":
        return EnumValue(int.from_bytes(data[:8], "little"), t.variants)
    if t.kind == "str":
        return data[:t.size].split(b"\0", 1)[0].decode("utf-8", "replace")
    if t.kind == "tuple":
        values, offset = [], 0
        for item in t.items:
            values.append(decode(data[offset:], item))
            offset += slot_size(item)
        return tuple(values)
    return int.from_bytes(data[:8], "little")


class Session:
    """One run of a compiled script on a kernel (the virtual kernel unless given)."""

    def __init__(self, compiled: Compiled, kernel=None, out=None, err=None, output_format: str = "text"):
        from ..kernel.virtual import VirtualKernel
        self.compiled, self.resources = compiled, compiled.resources
        self.kernel = kernel or VirtualKernel()
        self.out, self.err = out or sys.stdout, err or sys.stderr
        self.links: list[int] = []
        self.loaded = None
        self.exiting = threading.Event()
        self.exit_code = 0
        self.json = output_format == "json"  # -f json: NDJSON records (output/json.py)
        self.by_index = {info.index: info for info in self.resources.maps.values()}
        FORMATS[:] = self.resources.outputs

    # -- start and stop ----------------------------------------------------------------
    def start(self) -> None:
        self.loaded = load_object(self.kernel, elf.load(self.compiled.elf))
        try:
            if START_MAP in self.loaded.map_fds:
                self.kernel.map_update(self.loaded.map_fds[START_MAP], bytes(4),
                                       struct.pack("<Q", time.monotonic_ns()))
            self.ring = self.kernel.map(self.loaded.map_fds[RINGBUF_MAP])
            for name, point in self.compiled.programs:
                attach = PROVIDERS[point.provider].attach(point)
                self.links.append(self.kernel.link_create(self.loaded.prog_fds[name], attach.target,
                                                          **attach.options))
            count = len(self.links)
            attached = json_output.attached_record(count) if self.json else \
                f"Attached {count} probe{'s' if count != 1 else ''}"
            print(attached, file=self.err)
            self.kernel.trigger("BEGIN")
            self.poll()
        except BaseException:
            self.close()
            raise

    def finish(self) -> None:
        """Run END, print the maps, detach and close everything."""
        try:
            self.kernel.trigger("END")
            self.poll()
            if not self.json:
                self.out.write("\n\n")
            if self.resources.config.get("print_maps_on_exit", 1):  # tracelang: config = { ... }
                self.print_maps()
        finally:
            self.close()

    def close(self) -> None:
        for link in self.links:
            self.kernel.close(link)
        self.links = []
        if self.loaded is not None:
            for fd in self.loaded.fds():
                self.kernel.close(fd)
            self.loaded = None

    def run(self, seconds: float | None = None, until: threading.Event | None = None) -> None:
        """Deliver records until exit(), `until` is set, `seconds` pass, or Ctrl-C."""
        deadline = time.monotonic() + seconds if seconds is not None else None
        try:
            while not self.exiting.is_set() and not (until is not None and until.is_set()):
                if deadline is not None and time.monotonic() >= deadline:
                    break
                self.exiting.wait(0.02)
                self.poll()
        except KeyboardInterrupt:
            pass

    # -- records ----------------------------------------------------------------------
    def poll(self) -> None:
        self.ring.consume(self.record)
        self.out.flush()

    def record(self, data: bytes) -> None:
        action = int.from_bytes(data[:8], "little")
        if action < len(self.resources.outputs):
            output = self.resources.outputs[action]
            values, offset = [], 8
            for t in output.types:
                values.append(decode(data[offset:], t))
                offset += slot_size(t)
            if output.span is not None:
                self.out.flush()
                level = "WARNING" if output.kind == "warnf" else "ERROR"
                message = render(output.fmt, values).rstrip("\n")
                print(Diagnostic(output.span, message, level).render(self.compiled.source), file=self.err)
            else:
                OUTPUTS[output.kind](self, output.fmt, values)
        elif ACTION_NAMES.get(action) == "div_zero":
            self.out.flush()
            print("WARNING: Divide or modulo by 0 detected. This can lead to unexpected results. "
                  "1 is being used as the result.", file=self.err)
        elif ACTION_NAMES.get(action) == "exit":
            self.exit_code = int.from_bytes(data[8:16], "little") & 0xFF
            self.exiting.set()
        elif action in ACTION_NAMES:
            info = self.by_index[int.from_bytes(data[8:16], "little")]
            if ACTION_NAMES[action] == "map_full":
                self.out.flush()
                print("WARNING: Map full; can't update element.", file=self.err)
            elif ACTION_NAMES[action] == "print":
                self.print_map(info)
                if not self.json:
                    self.out.write("\n")
            else:
                self.clear_map(info, zero=ACTION_NAMES[action] == "zero")

    # -- maps ---------------------------------------------------------------------------
    def entries(self, info) -> list[tuple[tuple, object]]:
        layout = MapLayout.of(info)
        bpf_map = self.kernel.map(self.loaded.map_fds[layout.symbol])
        kind, rows = info.value.kind, {}
        for key, value in bpf_map.items():
            keys, offset = [], 0
            for t in info.keys:
                keys.append(decode(key[offset:], t))
                offset += slot_size(t)
            keys = tuple(keys)
            if kind in ("hist", "lhist"):
                bucket = int.from_bytes(key[offset:offset + 8], "little")
                rows.setdefault(keys, {})[bucket] = int.from_bytes(value[:8], "little")
            elif kind in ("avg", "stats"):
                total, count = struct.unpack_from("<qQ", value)
                rows[keys] = (count, total)
            elif kind in ("min", "max"):
                rows[keys] = struct.unpack_from("<q", value)[0]
            elif kind in ("count", "sum"):
                rows[keys] = int.from_bytes(value[:8], "little", signed=kind == "sum")
            else:
                rows[keys] = decode(value, info.value)
        return list(rows.items())

    def emit(self, kind: str, text: str) -> None:
        """Text that a printf, time, cat or system record produced, in the output format."""
        self.out.write(json_output.message_record(kind, text) + "\n" if self.json else text)

    def print_map(self, info) -> None:
        if self.json:
            line = json_output.map_record(info.name, info.value, self.entries(info), keyed=bool(info.keys))
            if line is not None:
                self.out.write(line + "\n")
            return
        lines = format_map(info.name, info.value, self.entries(info))
        if lines:
            self.out.write("\n".join(lines) + "\n")

    def print_maps(self) -> None:
        for name in sorted(self.resources.maps):
            self.print_map(self.resources.maps[name])

    def clear_map(self, info, zero: bool = False) -> None:
        fd = self.loaded.map_fds[MapLayout.of(info).symbol]
        bpf_map = self.kernel.map(fd)
        for key, value in list(bpf_map.items()):
            if zero:
                self.kernel.map_update(fd, key, bytes(len(value)))
            else:
                self.kernel.map_delete(fd, key)

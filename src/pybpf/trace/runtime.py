"""Running a compiled script on a kernel: attach, deliver records, print maps, detach.

BEGIN runs first, then the other probes fire until exit(), SIGINT, the end
of a `-c` command or a time limit; then END runs, the maps are printed in
name order, and everything is detached and closed, whatever ended the run.

On the virtual kernel records are taken from its ring buffer map between
waits; on Linux the ring buffer is mmap'd (kernel/linux/ringbuf.py) and the
session sleeps in epoll until the kernel wakes it (kernel/linux/poll.py).
"""

from __future__ import annotations

import os
import struct
import sys

try:
    import pwd
except ImportError:  # not on Windows: usernames print as uids
    pass
import threading
import time

from ..errors import PybpfError
from ..uapi import PERCPU_MAP_TYPES  # not the Linux kernel's module: printing a map on the virtual kernel imports it
from ..kernel.loader import load_object
from .builtins import ACTIONS, CPID_MAP, TAI_OFFSET_MAP
from .builtins_tseries import AGGREGATORS
from .codegen import RINGBUF_MAP, RINGBUF_SIZE, START_MAP, MapLayout
from .compiler import Compiled
from .format import compile_format, render
from .output import format_map
from .output import json as json_output
from .output.lines import Batch
from .output.stacks import STACK_READERS, decode_stack, stack_reader
from .output.text import NUMBER_NAMES, Buffer, select_entries, value_text, zero_entries
from .percpu import fold, value_copies
from .probes import providers
from .source import Diagnostic
from .structs import decode_composite
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
    limit = session.resources.config.get("max_cat_bytes", 10240)
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            session.emit("cat", handle.read(limit))
    except OSError as err:
        session.out.flush()
        print(f"ERROR: failed to open file '{path}' ({err.strerror})", file=session.err)


def _system(session, fmt: str, values: list) -> None:
    import subprocess
    session.out.flush()
    done = subprocess.run(render(fmt, values), shell=True, capture_output=True, text=True)
    session.emit("syscall", done.stdout)


def _join(session, separator: str, values: list) -> None:
    """join(): the first `count` strings (up to the array's NULL), on a line."""
    session.emit("join", separator.join(values[1:1 + values[0]]) + ("" if session.json else "\n"))


# What user space does with each kind of output record (semantic.Output.kind).
OUTPUTS = {"printf": _printf, "print": _print_value, "time": _time, "cat": _cat, "system": _system,
           "join": _join, "strftime": None}


class Timestamp:
    """strftime()'s value: CLOCK_MONOTONIC nanoseconds that print as local time in a format."""

    def __init__(self, ns: int, fmt: str):
        self.ns, self.fmt = ns, fmt

    def __eq__(self, other) -> bool:  # as map keys: by time
        return isinstance(other, Timestamp) and self.ns == other.ns

    def __lt__(self, other) -> bool:
        return self.ns < other.ns

    def __hash__(self) -> int:
        return hash(self.ns)

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
    if t.kind == "inet":
        from .builtins_net import inet_text
        return inet_text(data)
    if t.kind in ("kstack", "ustack"):
        return decode_stack(data, t.params[1], t.params[0], t.kind == "ustack")
    if t.kind in NUMBER_NAMES:
        return NUMBER_NAMES[t.kind](int.from_bytes(data[:8], "little", signed=True))
    if t.kind == "buffer":  # {u64 length; u8 data[]}
        return Buffer(data[8:8 + min(int.from_bytes(data[:8], "little"), t.size - 8)])
    if t.kind == "ptr":  # tracelang: pointers print in hex, enums by name
        return Pointer(int.from_bytes(data[:8], "little"))
    if t.kind == "enum":
        return EnumValue(int.from_bytes(data[:8], "little"), t.variants)
    if t.kind == "str":
        return data[:t.size].split(b"\0", 1)[0].decode("utf-8", "replace")
    if t.kind in ("record", "struct", "array"):
        return decode_composite(data, t, decode)
    if t.kind == "tuple":
        values, offset = [], 0
        for item in t.items:
            values.append(decode(data[offset:], item))
            offset += slot_size(item)
        return tuple(values)
    return int.from_bytes(data[:8], "little")


def values_decoder(types: tuple[Type, ...], offset: int = 8):
    """A function from a record's bytes to its values (after the 8-byte action number), built once per output:
    one struct.Struct when every value is an integer (printf's usual arguments), decode() of each otherwise."""
    if all(t.kind == "int" and slot_size(t) >= 8 for t in types):
        layout = struct.Struct("<" + "".join(("q" if t.signed else "Q") + "x" * (slot_size(t) - 8) for t in types))
        return lambda data: layout.unpack_from(data, offset)
    places = []
    for t in types:
        places.append((offset, t))
        offset += slot_size(t)
    return lambda data: [decode(data[start:], t) for start, t in places]


def new_kernel(kind: str, cache: bool = True):
    """The kernel a script compiled for `kind` runs on: a VirtualKernel, or the running LinuxKernel.
    The virtual kernel keeps its verifier's verdicts and its engine's translations beside the compile cache
    (VirtualKernel's `cache`): a script run again is not verified or translated again, as its object is not
    compiled again (unless `cache` is off)."""
    if kind == "linux":
        from ..kernel.linux import LinuxKernel
        return LinuxKernel()
    from ..kernel.virtual import VirtualKernel
    from .compiler import cache_dir
    return VirtualKernel(cache=cache_dir() if cache else None)


def choose_kernel(choice: str) -> str:
    """--kernel auto: "linux" when bpf() works here (privileged), else "virtual"; others as given."""
    if choice != "auto":
        return choice
    try:
        from ..kernel.linux.syscall import kernel_available
    except (ImportError, OSError):
        return "virtual"
    return "linux" if kernel_available()[0] else "virtual"


class Session:
    """One run of a compiled script on a kernel (the virtual kernel unless given)."""

    def __init__(self, compiled: Compiled, kernel=None, out=None, err=None, output_format: str = "text",
                 pid: int | None = None):
        self.compiled, self.resources = compiled, compiled.resources
        # a script compiled without the cache (--no-cache, -d) is verified afresh too
        self.kernel = kernel or new_kernel(compiled.resources.kernel, cache=compiled.reading is not None)
        self.out, self.err = Batch(out or sys.stdout), err or sys.stderr  # one write a poll (output/lines.py)
        self.handlers: dict = {}  # action number -> what its records do (handler())
        self.pid = pid  # -p: uprobes and USDT probes of this process only
        self.command_pid: int | None = None  # -c on Linux: uprobes of the command only
        self.links: list[int] = []
        self.loaded = None
        self.reader = self.poller = None  # Linux: the mmap'd ring buffer and the epoll it wakes
        self.exiting = threading.Event()
        self.exit_code = 0
        self.json = output_format == "json"  # -f json: NDJSON records (output/json.py)
        self.by_index = {info.index: info for info in self.resources.maps.values()}
        FORMATS[:] = self.resources.outputs
        STACK_READERS[:] = [stack_reader(self.kernel, lambda: self.loaded.map_fds if self.loaded else {})]

    # -- start and stop ----------------------------------------------------------------
    def start(self) -> None:
        self.loaded = load_object(self.kernel, self.compiled.bpf_object(), self._engines())
        try:
            if TAI_OFFSET_MAP in self.loaded.map_fds:  # nsecs(sw_tai): CLOCK_TAI - CLOCK_MONOTONIC
                offset = time.clock_gettime_ns(time.CLOCK_TAI) - time.monotonic_ns()
                self.kernel.map_update(self.loaded.map_fds[TAI_OFFSET_MAP], bytes(4), struct.pack("<q", offset))
            if CPID_MAP in self.loaded.map_fds and self.command_pid is not None:  # cpid: -c's command
                self.kernel.map_update(self.loaded.map_fds[CPID_MAP], bytes(4), struct.pack("<Q", self.command_pid))
            if START_MAP in self.loaded.map_fds:
                self.kernel.map_update(self.loaded.map_fds[START_MAP], bytes(4),
                                       struct.pack("<Q", time.monotonic_ns()))
            self.ring = self.kernel.map(self.loaded.map_fds[RINGBUF_MAP])
            if self.resources.kernel == "linux":
                from ..kernel.linux.poll import Poller
                from ..kernel.linux.ringbuf import RingBuffer
                self.reader = RingBuffer(self.loaded.map_fds[RINGBUF_MAP], RINGBUF_SIZE, self.record)
                self.poller = Poller()
                self.reader.add_to(self.poller)
            table = providers(self.resources.kernel)
            oneshot = ("BEGIN", "END")  # BEGIN runs before the other probes are attached, as in bpftrace
            programs = sorted(self.compiled.programs, key=lambda program: program[1].provider not in oneshot)
            began = False
            for name, point in programs:
                if not began and point.provider not in oneshot:
                    self.begin()
                    began = True
                attach = table[point.provider].attach(point, self.resources.probe_facts.get(point.text))
                options = dict(attach.options)
                if self.pid is not None and point.provider in ("uprobe", "uretprobe", "usdt"):
                    options["pid"] = self.pid
                elif self.command_pid is not None and point.provider in ("uprobe", "uretprobe", "usdt"):
                    options["pid"] = self.command_pid  # -c: the command's own calls (and semaphores), as bpftrace
                try:
                    self.links.append(self.kernel.link_create(self.loaded.prog_fds[name], attach.target, **options))
                except PybpfError as err:  # bpftrace: the reason, then which probe
                    raise PybpfError(f"{err}\nERROR: Error attaching probe: '{point.text}'") from None
            count = len(self.links)
            attached = json_output.attached_record(count) if self.json else \
                f"Attached {count} probe{'s' if count != 1 else ''}"
            print(attached, file=self.err)
            self._remember_processes()
            if not began:
                self.begin()
            self.poll()
        except BaseException:
            self.close()
            raise

    def _engines(self) -> dict[str, str]:
        """The virtual kernel runs BEGIN and END on the compiled-Python engine: they run once, and native code
        (the tiered engine's choice for a program of 64 instructions or more) would cost an LLVM compile and
        llvmlite's 80 MiB for that one run.  PYBPF_ENGINE, when set, still decides."""
        if self.resources.kernel != "virtual" or os.environ.get("PYBPF_ENGINE"):
            return {}
        return {name: "compiled" for name, point in self.compiled.programs if point.provider in ("BEGIN", "END")}

    def begin(self) -> None:
        """Run BEGIN.  First, with __BPFTRACE_NOTIFY_PROBES_ATTACHED set, the line bpftrace's runtime-test
        runner waits for (it starts the test's timeout there and drops what came before)."""
        if os.environ.get("__BPFTRACE_NOTIFY_PROBES_ATTACHED"):
            self.out.write("__BPFTRACE_NOTIFY_PROBES_ATTACHED\n")
            self.out.flush()
        self.kernel.trigger("BEGIN")

    def finish(self) -> None:
        """Run END, print the maps, detach and close everything."""
        try:
            self.kernel.trigger("END")
            self.poll()
            if not self.json:
                self.out.write("\n\n")
            if self.resources.config.get("print_maps_on_exit", True):  # config = { ... }, BPFTRACE_*
                self.print_maps()
        finally:
            self.close()

    def close(self) -> None:
        """Detach and close everything, after passing on what output is still in the batch."""
        self.out.flush()
        links, self.links = self.links, []
        for link in links:
            self.kernel.close(link)
        if self.poller is not None:
            self.poller.close()
            self.reader.close()
            self.reader = self.poller = None
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
                if self.poller is not None:  # Linux: sleep until the ring buffer has records
                    wait = 0.1 if deadline is None else max(0.0, min(0.1, deadline - time.monotonic()))
                    self.poller.poll(wait)
                else:
                    self.exiting.wait(0.02)
                self.poll()
                self._remember_processes()
        except KeyboardInterrupt:
            pass

    def _remember_processes(self) -> None:
        """Linux ustack: keep the mappings of -p's or -c's process while it runs, so that its stacks still
        resolve when the maps print after it exited."""
        stacks = getattr(self.kernel, "stacks", None)
        target = self.command_pid or self.pid
        if target and hasattr(stacks, "remember") and self.loaded is not None and \
                any(name.startswith("stack_") for name in self.loaded.map_fds):
            stacks.remember(target)

    # -- records ----------------------------------------------------------------------
    def poll(self) -> None:
        if self.reader is not None:
            self.reader.consume()
        else:
            self.ring.consume(self.record)
        self.out.flush()

    def record(self, data: bytes) -> None:
        """One ring buffer record, by its action number: a handler built at its first record (handler())."""
        action = int.from_bytes(data[:8], "little")
        handle = self.handlers.get(action)
        if handle is None:
            handle = self.handlers[action] = self.handler(action)
        handle(data)

    def handler(self, action: int):
        """What to do with the records of one action number: an output's values decoded by one function
        (values_decoder) and, for printf, formatted by its compiled format, written to the batch."""
        if action >= len(self.resources.outputs):
            return lambda data: self.control(action, data)
        output = self.resources.outputs[action]
        values_of = values_decoder(output.types)
        if output.span is None and output.kind == "printf":
            text_of, write = compile_format(output.fmt), self.out.write
            if not self.json:
                return lambda data: write(text_of(values_of(data)))
            return lambda data: self.emit("printf", text_of(values_of(data)))
        if output.span is None:
            act = OUTPUTS[output.kind]
            return lambda data: act(self, output.fmt, values_of(data))
        return lambda data: self.diagnostic(output, values_of(data))

    def diagnostic(self, output, values) -> None:
        """warnf, errorf (and the stdlib's assert): bpftrace's diagnostic at the call's place, on stderr."""
        self.out.flush()
        level = "WARNING" if output.kind == "warnf" else "ERROR"
        message = render(output.fmt, values).rstrip("\n")
        source = getattr(output.span, "source", None) or self.compiled.source  # stdlib's assert
        print(Diagnostic(output.span, message, level).render(source), file=self.err)

    def control(self, action: int, data: bytes) -> None:
        """The records that are not outputs: exit, warnings, and print/clear/zero of a map."""
        if ACTION_NAMES.get(action) == "div_zero":
            self.out.flush()
            print("WARNING: Divide or modulo by 0 detected. This can lead to unexpected results. "
                  "1 is being used as the result.", file=self.err)
        elif ACTION_NAMES.get(action) == "exit":
            self.exit_code = int.from_bytes(data[8:16], "little") & 0xFF
            self.exiting.set()
        elif action in ACTION_NAMES:
            extra = int.from_bytes(data[8:16], "little")  # the map index; print(@m, top, div) adds them
            info, top, div = self.by_index[extra & 0xFFFFFF], extra >> 24 & 0xFFFFF, extra >> 44 or 1
            if ACTION_NAMES[action] == "map_full":
                self.out.flush()
                print("WARNING: Map full; can't update element.", file=self.err)
            elif ACTION_NAMES[action] == "print":
                self.print_map(info, top, div, explicit=True)
                if not self.json:
                    self.out.write("\n")
            else:
                self.clear_map(info, zero=ACTION_NAMES[action] == "zero")

    # -- maps ---------------------------------------------------------------------------
    def entries(self, info) -> list[tuple[tuple, object]]:
        layout = MapLayout.of(info)
        bpf_map = self.kernel.map(self.loaded.map_fds[layout.symbol])
        kind, rows = info.value.kind, {}
        aggregator = AGGREGATORS[info.value.params[2]] if kind == "tseries" else "none"
        for key, value in bpf_map.items():
            cpus = value_copies(bpf_map, value, layout.value_size)
            if cpus > 1:  # an aggregation: one copy a CPU
                value = fold(value, layout.value_size, cpus, kind, aggregator)
            keys, offset = [], 0
            for t in info.keys:
                keys.append(decode(key[offset:], t))
                offset += slot_size(t)
            keys = tuple(keys)
            if kind in ("hist", "lhist", "tseries"):
                bucket = int.from_bytes(key[offset:offset + 8], "little")
                rows.setdefault(keys, {})[bucket] = int.from_bytes(value[:8], "little") if kind != "tseries" \
                    else struct.unpack_from("<qqQ" if info.value.signed else "<QQQ", value)  # value, meta, epoch
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

    def print_map(self, info, top: int = 0, div: int = 1, explicit: bool = False) -> None:
        entries = select_entries(info.value, self.entries(info), top, div)
        if explicit and not entries and not info.keys:  # print() of an unset scalar map: its zero value
            entries = zero_entries(info.value)
            if info.value.kind in ("tuple", "record", "struct", "array"):  # `{ .a = 0, .b = (0, ) }`
                entries = [((), decode(bytes(slot_size(info.value)), info.value))]
        if self.json:
            line = json_output.map_record(info.name, info.value, entries, keyed=bool(info.keys))
            if line is not None:
                self.out.write(line + "\n")
            return
        lines = format_map(info.name, info.value, entries)
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

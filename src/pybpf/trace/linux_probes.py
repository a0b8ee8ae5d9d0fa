"""Probe types on the Linux kernel: what each attach point attaches to and how its program reads arguments.

| probe | attach (kernel/linux/attach.py) | program section | arguments |
|---|---|---|---|
| `BEGIN`, `END` | `oneshot:` (BPF_PROG_TEST_RUN) | `uprobe` | none |
| `tracepoint:CAT:NAME` (wildcards) | perf tracepoint event | `tracepoint` | `args->field` from tracefs `format` |
| `rawtracepoint:NAME` | BPF_RAW_TRACEPOINT_OPEN | `raw_tracepoint` | `arg0..`: the u64 args array |
| `uprobe:PATH:FUNC` (wildcards), `uretprobe:` | uprobe PMU at the file offset | `uprobe` | `arg0..` (x86-64 SysV registers), `retval` |
| `usdt:PATH:[PROVIDER:]NAME` | uprobe on each stapsdt site | `uprobe` | `arg0..` from the note's argument specs (per site, by cookie) |
| `profile:`, `interval:` | cpu-clock perf events | `perf_event` | none |
| `software:EVENT:N`, `hardware:EVENT:N` | perf software/hardware event | `perf_event` | none |
| `kprobe:`, `kretprobe:` | kprobe PMU (this host has none) | `kprobe` | `arg0..`, `retval` |
| `fentry:`, `fexit:` | BPF trampolines (refused here) | `kprobe` | none |

What a check finds on the machine (a tracepoint's fields, a binary's real path,
a USDT probe's argument specs) goes in `resources.probe_facts[point.text]`: the
code generator reads it, and the compile cache keys on it.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import replace

from . import ast
from .probes import Attach, OneShot, Provider, _rate
from .types import INT64, UINT64, array_of, integer, pointer_to, record_of, slot_size, string

# struct pt_regs (x86-64, arch/x86/include/asm/ptrace.h): byte offset of each register.
PT_REGS = {"r15": 0, "r14": 8, "r13": 16, "r12": 24, "rbp": 32, "rbx": 40, "r11": 48, "r10": 56, "r9": 64,
           "r8": 72, "rax": 80, "rcx": 88, "rdx": 96, "rsi": 104, "rdi": 112, "orig_rax": 120, "rip": 128,
           "cs": 136, "eflags": 144, "rsp": 152, "ss": 160}
DATA_LOC_STRLEN = 64  # bpftrace's string size for a __data_loc char[] field
ARG_REGS = ("rdi", "rsi", "rdx", "rcx", "r8", "r9")  # the SysV calling convention's integer arguments
# The narrower names of the same registers, as USDT argument specs write them (-4@%eax, 1@%sil).
_NARROW = {"eax": "rax", "ax": "rax", "al": "rax", "ebx": "rbx", "bx": "rbx", "bl": "rbx", "ecx": "rcx",
           "cx": "rcx", "cl": "rcx", "edx": "rdx", "dx": "rdx", "dl": "rdx", "esi": "rsi", "si": "rsi",
           "sil": "rsi", "edi": "rdi", "di": "rdi", "dil": "rdi", "ebp": "rbp", "bp": "rbp", "bpl": "rbp",
           "esp": "rsp", "sp": "rsp", "spl": "rsp", "ip": "rip", "eip": "rip"}
_NARROW.update({f"r{n}{suffix}": f"r{n}" for n in range(8, 16) for suffix in ("d", "w", "b")})


def _reg(name: str) -> int:
    return PT_REGS[_NARROW.get(name, name)]


def missing(analyser, point: ast.AttachPoint, what: str, error: str | None = None) -> list:
    """A probe that matches nothing, as bpftrace's `config = { missing_probes = error|warn|ignore }` says:
    an error (the default), a warning and the point skipped, or the point skipped."""
    setting = analyser.program.config.get("missing_probes")
    mode = getattr(setting, "name", None) or getattr(setting, "value", None) or "error"
    if mode == "error":
        analyser.diagnostics.error(point.span, error or f"No matches for {what}.")
    elif mode == "warn":
        analyser.diagnostics.warning(point.span, f"No matches for {what}. Skipping.")
    return []


class Tracepoint(Provider):
    """tracepoint:CATEGORY:NAME, a static kernel tracepoint; its record's fields are `args->field`."""

    name = "tracepoint"

    def expand(self, analyser, point):
        from ..kernel.linux.tracefs import TracefsError, tracefs_root
        if "*" not in point.text and "?" not in point.text:
            try:
                exists = os.path.isdir(f"{tracefs_root()}/events/{point.target}/{point.func}")
            except TracefsError:
                exists = True  # check() says what is missing
            return [point] if exists or not point.func else \
                missing(analyser, point, f"tracepoint {point.target}:{point.func}")
        try:
            events = f"{tracefs_root()}/events"
            found = [(category, event) for category in sorted(os.listdir(events))
                     if fnmatch.fnmatchcase(category, point.target) and os.path.isdir(f"{events}/{category}")
                     for event in sorted(os.listdir(f"{events}/{category}"))
                     if fnmatch.fnmatchcase(event, point.func) and os.path.isdir(f"{events}/{category}/{event}")]
        except (OSError, TracefsError) as err:
            analyser.diagnostics.error(point.span, str(err))
            return []
        if not found:
            return missing(analyser, point, f"tracepoint {point.target}:{point.func}")
        return [replace(point, target=category, func=event, text=f"tracepoint:{category}:{event}")
                for category, event in found]

    def check(self, analyser, point):
        from ..kernel.linux.tracefs import TracefsError, tracepoint_format
        if not point.target or not point.func:
            analyser.diagnostics.error(point.span, "tracepoint needs CATEGORY:NAME, e.g. "
                                                   "tracepoint:syscalls:sys_enter_openat")
            return
        try:
            fields = tracepoint_format(point.target, point.func)
        except TracefsError:
            analyser.diagnostics.error(point.span, f"No matches for tracepoint {point.target}:{point.func}.")
            return
        # not the common_* fields: the kernel writes its pt_regs pointer over them for a BPF program
        analyser.resources.probe_facts[point.text] = tuple(f for f in fields if not f.name.startswith("common_"))

    def attach(self, point, facts=None):
        return Attach(f"tracepoint:{point.target}:{point.func}", {}, "tracepoint")

    def _field_type(self, f, member: str):
        """A format field's Type, or why pybpftrace cannot read it (str)."""
        if f.decl.startswith("__data_loc"):
            return string(DATA_LOC_STRLEN) if "char" in f.decl else \
                f"args->{member}: __data_loc fields other than char[] are not read by pybpftrace yet"
        if "[" in f.decl:
            if "char" in f.decl.split("[")[0]:
                return string(f.size + 1)
            count = re.search(r"\[(\d+)\]", f.decl)  # `unsigned long args[6]`: an integer array
            if count is None or not int(count.group(1)) or f.size % int(count.group(1)):
                return f"args->{member}: array field '{f.decl}' is not read by pybpftrace yet"
            return array_of(integer(f.size // int(count.group(1)), f.signed), int(count.group(1)))
        return UINT64 if "*" in f.decl else integer(8, f.signed)

    def field(self, analyser, point, member):
        for f in analyser.resources.probe_facts.get(point.text, ()):
            if f.name == member:
                return self._field_type(f, member)
        if point.text not in analyser.resources.probe_facts:
            return None  # the attach point already has its error
        return (f"Struct/union of type 'struct _tracepoint_{point.target}_{point.func}' does not contain "
                f"a field named '{member}'")

    def record(self, analyser, point):
        """args as a whole: the record's fields (but common_*), pointers printed in hex, char[] and
        __data_loc char[] fields as strings (an array of other elements makes it an error naming it)."""
        fields = analyser.resources.probe_facts.get(point.text)
        if fields is None:
            return None  # the attach point already has its error
        items = []
        for f in fields:
            t = self._field_type(f, f.name)
            if isinstance(t, str):
                return t
            items.append(pointer_to(UINT64) if "*" in f.decl else t)
        return record_of([f.name for f in fields], items)

    def emit_record(self, gen, t):
        buffer = gen.alloca_bytes(t.size)
        gen.zero(buffer, t.size)
        offset = 0
        for f, item in zip(gen.resources.probe_facts[gen.attach_point.text], t.items):
            value = self._read(gen, f, item)
            if item.is_scalar:
                gen.b.store(value, gen.at(buffer, offset, value.type))
            else:
                gen.copy(gen.at(buffer, offset), value, item.size)
            offset += slot_size(item)
        return buffer

    def emit_field(self, gen, e):
        f = next(f for f in gen.resources.probe_facts[gen.attach_point.text] if f.name == e.member)
        return self._read(gen, f, e.type)

    def _read(self, gen, f, t):
        """One field of the record the program's context points to: a u64, or a string buffer."""
        from llvmlite import ir
        if t.kind in ("str", "array"):
            buffer = gen.alloca_bytes(t.size)
            gen.zero(buffer, t.size)
            if f.decl.startswith("__data_loc"):  # u32: the string's offset in the record (low 16 bits), length
                where = gen.b.load(gen.at(gen.ctx, f.offset, ir.IntType(32)))
                start = gen.b.and_(gen.b.zext(where, ir.IntType(64)), gen.i64(0xFFFF))
                source = gen.b.gep(gen.at(gen.ctx), [start])
                gen.helper("probe_read_kernel_str", [buffer, gen.i64(t.size), source])
            else:  # through a helper: a memcpy lets LLVM load from ctx+off+off, which the verifier refuses
                gen.helper("probe_read_kernel", [buffer, gen.i64(f.size), gen.at(gen.ctx, f.offset)])
            return buffer
        value = gen.b.load(gen.at(gen.ctx, f.offset, ir.IntType(8 * f.size)))
        if f.size == 8:
            return value
        return (gen.b.sext if f.signed and "*" not in f.decl else gen.b.zext)(value, ir.IntType(64))


class RawTracepoint(Provider):
    """rawtracepoint:NAME: the tracepoint's arguments as the kernel passes them, arg0.. (u64 each)."""

    name = "rawtracepoint"
    has_args = True

    def expand(self, analyser, point):
        """rawtracepoint:sys_*: every raw tracepoint whose name matches (the kernel BTF's btf_trace_ names)."""
        from ..kernel.linux.tracefs import raw_tracepoints
        pattern = point.func or point.target
        if not any(c in pattern for c in "*?["):
            return [point]
        names = [n for n in raw_tracepoints() if fnmatch.fnmatchcase(n, pattern)]
        if not names:
            return missing(analyser, point, f"rawtracepoint {pattern}")
        return [replace(point, target="", func=n, text=f"rawtracepoint:{n}") for n in names]

    def check(self, analyser, point):
        name = point.func or point.target
        if not name:
            analyser.diagnostics.error(point.span, "rawtracepoint needs a NAME, e.g. rawtracepoint:sys_enter")

    def attach(self, point, facts=None):
        return Attach(f"raw_tracepoint:{point.func or point.target}", {}, "raw_tracepoint")


def _user_read(gen, address, size: int):
    """*(u64 *)address of the traced process, through bpf_probe_read_user (0 when it faults)."""
    buffer = gen.alloca_bytes(8)
    gen.zero(buffer, 8)
    gen.helper("probe_read_user", [buffer, gen.i64(size), gen.b.inttoptr(address, gen.ptr)])
    return gen.b.load(gen.at(buffer, 0, gen.i64(0).type))


class Uprobe(Provider):
    """uprobe:PATH:FUNC and uretprobe:PATH:FUNC: a function of an ELF binary or library."""

    has_args = True

    def __init__(self, name: str):
        self.name = name
        self.has_retval = name == "uretprobe"
        self.has_args = name == "uprobe"

    def _binary(self, analyser, point) -> str | None:
        from ..kernel.linux.uprobe import SymbolError, resolve_binary
        try:
            return resolve_binary(point.target, getattr(analyser, "pid", None))
        except SymbolError:
            analyser.diagnostics.error(point.span, f"{self.name} target file '{point.target}' does not exist "
                                                   "or is not executable")
            return None

    def expand(self, analyser, point):
        from ..kernel.linux.uprobe import SymbolError, function_symbols, resolve_binary
        if not point.target or not point.func:
            return [point]
        what = f"{self.name} {point.target}:{point.func}"
        try:
            path = resolve_binary(point.target, getattr(analyser, "pid", None))
        except SymbolError:
            return missing(analyser, point, what, f"{self.name} target file '{point.target}' does not exist or "
                                                  "is not executable")
        functions = function_symbols(path)
        if not any(c in point.func for c in "*?["):
            name = point.func.partition("+")[0]
            return [point] if name in functions or name.startswith("0x") else \
                missing(analyser, point, what, f"Could not resolve symbol: {point.target}:{point.func}")
        names = sorted(n for n in functions if fnmatch.fnmatchcase(n, point.func))
        if not names:
            return missing(analyser, point, what)
        return [replace(point, func=n, text=f"{self.name}:{point.target}:{n}") for n in names]

    def check(self, analyser, point):
        from ..kernel.linux.uprobe import SymbolError, symbol_offset
        if not point.target or not point.func:
            analyser.diagnostics.error(point.span, f"{self.name} needs PATH:FUNCTION, e.g. "
                                                   f"{self.name}:/bin/bash:readline")
            return
        path = self._binary(analyser, point)
        if path is None:
            return
        try:
            symbol_offset(path, point.func)
        except SymbolError:
            analyser.diagnostics.error(point.span, f"Could not resolve symbol: {point.target}:{point.func}")
            return
        analyser.resources.probe_facts[point.text] = path

    def attach(self, point, facts=None):
        return Attach(f"{self.name}:{facts or point.target}:{point.func}", {}, "uprobe")

    def arg(self, gen, index):
        if index < len(ARG_REGS):
            return gen.ctx_u64(PT_REGS[ARG_REGS[index]])
        # arguments past the sixth are on the stack, above the return address
        address = gen.b.add(gen.ctx_u64(PT_REGS["rsp"]), gen.i64(8 * (index - len(ARG_REGS) + 1)))
        return _user_read(gen, address, 8)

    def retval(self, gen):
        return gen.ctx_u64(PT_REGS["rax"])


class Usdt(Provider):
    """usdt:PATH:[PROVIDER:]NAME: a statically defined probe of a binary (its .note.stapsdt)."""

    name = "usdt"
    has_args = True
    arg_type = INT64  # bpftrace types USDT arguments int64 (the specs' sizes are sign-extended)

    def check(self, analyser, point):
        from ..kernel.linux import usdt
        from ..kernel.linux.uprobe import SymbolError, resolve_binary
        provider, _, name = point.func.rpartition(":")
        if not point.target or not name:
            analyser.diagnostics.error(point.span, "usdt needs PATH:PROVIDER:NAME, e.g. usdt:/usr/bin/python3:"
                                                   "python:function__entry")
            return
        try:
            path = resolve_binary(point.target, getattr(analyser, "pid", None))
        except SymbolError:
            analyser.diagnostics.error(point.span, f"usdt target file '{point.target}' does not exist or is "
                                                   "not executable")
            return
        try:
            sites = usdt.find_probe(path, provider, name)
        except SymbolError:
            analyser.diagnostics.error(point.span, f"Could not find USDT probe {point.func} in {path}")
            return
        analyser.resources.probe_facts[point.text] = (path, tuple(usdt.layouts(sites)))

    def attach(self, point, facts=None):
        path = facts[0] if facts else point.target
        # sites whose arguments differ in layout: each site's uprobe says which with its cookie
        options = {"layout_cookies": True} if facts and len(facts[1]) > 1 else {}
        return Attach(f"usdt:{path}:{point.func}", options, "uprobe")

    def arg(self, gen, index):
        """argN as the note's spec says; with several layouts, the one bpf_get_attach_cookie names (every
        layout's value is computed and the cookie selects one: a read that faults for a wrong layout
        gives 0 and is not chosen)."""
        layouts = gen.resources.probe_facts[gen.attach_point.text][1]
        values = [self._arg(gen, specs, index) for specs in layouts]
        if len(values) == 1:
            return values[0]
        cookie = gen.helper("get_attach_cookie", [gen.ctx])
        value = values[0]
        for i, other in enumerate(values[1:], 1):
            value = gen.b.select(gen.b.icmp_unsigned("==", cookie, gen.i64(i)), other, value)
        return value

    def _arg(self, gen, specs, index):
        from llvmlite import ir
        if index >= len(specs):
            return gen.i64(0)
        spec = specs[index]
        size = abs(spec.size)
        if spec.kind == "const":
            return gen.i64(spec.offset)
        if spec.kind == "reg":
            value = gen.ctx_u64(_reg(spec.reg))
        else:
            value = _user_read(gen, gen.b.add(gen.ctx_u64(_reg(spec.reg)), gen.i64(spec.offset)), size)
        if size < 8:
            narrow = gen.b.trunc(value, ir.IntType(8 * size))
            value = (gen.b.sext if spec.size < 0 else gen.b.zext)(narrow, ir.IntType(64))
        return value


class Rate(Provider):
    """profile:UNIT:N (every CPU) and interval:UNIT:N (one CPU): cpu-clock perf events."""

    def __init__(self, name: str, units: tuple[str, ...]):
        self.name, self.units = name, units

    def check(self, analyser, point):
        _rate(analyser, point, self.units)

    def attach(self, point, facts=None):
        return Attach(f"{self.name}:{point.target}:{point.func}", {}, "perf_event")


class PerfEvent(Provider):
    """software:EVENT:PERIOD and hardware:EVENT:PERIOD: a perf counter's every PERIOD-th event."""

    def __init__(self, name: str):
        self.name = name

    def check(self, analyser, point):
        from ..kernel.linux import perf
        table = perf.SOFTWARE_EVENTS if self.name == "software" else perf.HARDWARE_EVENTS
        if point.target not in table:
            analyser.diagnostics.error(point.span, f"{point.target or 'no event'}: unknown {self.name} event "
                                                   f"(one of {', '.join(sorted(table))})")
        elif point.func and not point.func.isdigit():
            analyser.diagnostics.error(point.span, f"{self.name} count must be a positive integer, "
                                                   f"not '{point.func}'")

    def attach(self, point, facts=None):
        return Attach(f"{self.name}:{point.target}:{point.func}", {}, "perf_event")


class Kprobe(Provider):
    """kprobe:FUNC, kretprobe:FUNC: kernel functions through the kprobe PMU (the attach says if it is missing)."""

    def __init__(self, name: str):
        self.name = name
        self.has_args, self.has_retval = name == "kprobe", name == "kretprobe"

    def check(self, analyser, point):
        if not (point.func or point.target):
            analyser.diagnostics.error(point.span, f"{self.name} needs a FUNCTION, e.g. {self.name}:vfs_read")

    def attach(self, point, facts=None):
        return Attach(f"{self.name}:{point.func or point.target}", {}, "kprobe")

    def arg(self, gen, index):
        return gen.ctx_u64(PT_REGS[ARG_REGS[index]]) if index < len(ARG_REGS) else gen.i64(0)

    def retval(self, gen):
        return gen.ctx_u64(PT_REGS["rax"])


class Fentry(Kprobe):
    """fentry:FUNC, fexit:FUNC: BPF trampolines; the attach reports this host's refusal."""

    def __init__(self, name: str):
        super().__init__(name)
        self.has_args = self.has_retval = False

    def attach(self, point, facts=None):
        return Attach(f"{self.name}:{point.func or point.target}", {}, "kprobe")


LINUX_PROVIDERS: dict[str, Provider] = {p.name: p for p in (
    OneShot("BEGIN"), OneShot("END"), Tracepoint(), RawTracepoint(), Uprobe("uprobe"), Uprobe("uretprobe"),
    Usdt(), Rate("profile", ("hz", "s", "ms", "us")), Rate("interval", ("s", "ms", "us", "hz")),
    PerfEvent("software"), PerfEvent("hardware"), Kprobe("kprobe"), Kprobe("kretprobe"), Fentry("fentry"),
    Fentry("fexit"))}

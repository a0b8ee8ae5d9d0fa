"""What bpftool shows of the running kernel's programs, maps and BTF, in bpftool's plain text.

The layouts follow tools/bpf/bpftool (prog.c print_prog_plain, map.c
show_map_close_plain and print_entry_plain, main.c fprint_hex, btf.c
dump_btf_type); memlock and frozen come from /proc/self/fdinfo as bpftool
reads them.  Helper calls in xlated code are named from /proc/kallsyms
(`__bpf_call_base + imm`), map references print as `map[id:N]`.
"""

from __future__ import annotations

import errno
import functools
import os
import time

from ...elf.btf import Btf
from ...elf.btf_dump import dump_raw
from ...isa.disasm import format_insn
from ...isa.insn import decode, pcs
from ...isa.opcodes import BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL
from ...uapi import MapType, ProgType
from ..errors import BpfError
from .errno_hints import translate as translate_errors
from .kernel import PERCPU_TYPES, LinuxKernel, object_info


def type_name(enum, value: int, prefix: str) -> str:
    """libbpf's string for a prog or map type: `tracepoint`, `perf_event_array`."""
    try:
        return enum(value).name.removeprefix(prefix).removesuffix("_DEPRECATED").lower()
    except ValueError:
        return f"type {value}"


def fdinfo(fd: int) -> dict[str, str]:
    out = {}
    with open(f"/proc/self/fdinfo/{fd}") as f:
        for line in f:
            name, _, value = line.partition(":")
            out[name.strip()] = value.strip()
    return out


def boot_time(ns: int) -> str:
    """A load_time (ns since boot) as wall-clock time, as bpftool's print_boot_time."""
    wall = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME) + ns / 1e9
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(wall))


def prog_show(fd: int) -> list[str]:
    info = object_info(fd)
    head = f"{info['id']}: {type_name(ProgType, info['type'], 'BPF_PROG_TYPE_')}  "
    head += f"name {info['name']}  " if info["name"] else ""
    head += f"tag {info['tag']}" + ("  gpl" if info["gpl_compatible"] else "")
    if info["run_time_ns"]:
        head += f" run_time_ns {info['run_time_ns']} run_cnt {info['run_cnt']}"
    lines = [head]
    if info["load_time"]:
        lines.append(f"\tloaded_at {boot_time(info['load_time'])}  uid {info['created_by_uid']}")
    third = f"\txlated {info['xlated_prog_len']}B"
    third += f"  jited {info['jited_prog_len']}B" if info["jited_prog_len"] else "  not jited"
    memlock = fdinfo(fd).get("memlock")
    third += f"  memlock {memlock}B" if memlock else ""
    if info["map_ids"]:
        third += "  map_ids " + ",".join(str(i) for i in info["map_ids"])
    if info["btf_id"]:
        third += f"\n\tbtf_id {info['btf_id']}"
    return lines + [third]


def map_show(fd: int) -> list[str]:
    info, extra = object_info(fd), fdinfo(fd)
    head = f"{info['id']}: {type_name(MapType, info['type'], 'BPF_MAP_TYPE_')}  "
    head += f"name {info['name']}  " if info["name"] else ""
    lines = [head + f"flags {info['map_flags']:#x}"]
    second = f"\tkey {info['key_size']}B  value {info['value_size']}B  max_entries {info['max_entries']}"
    second += f"  memlock {extra['memlock']}B" if extra.get("memlock") else ""
    lines.append(second)
    frozen = int(extra.get("frozen", "0"))
    if info["btf_id"] or frozen:
        lines.append("\t" + "  ".join(([f"btf_id {info['btf_id']}"] if info["btf_id"] else [])
                                      + (["frozen"] if frozen else [])))
    return lines


def hex_bytes(data: bytes) -> str:
    """bpftool's fprint_hex: bytes by spaces, two spaces every 8, a new line every 16."""
    out = []
    for i, byte in enumerate(data):
        sep = "" if not i else "\n" if not i % 16 else "  " if not i % 8 else " "
        out.append(f"{sep}{byte:02x}")
    return "".join(out)


def _entries(kernel: LinuxKernel, fd: int) -> list[tuple[bytes, bytes | int]]:
    """Every (key, value), or (key, errno) where the lookup failed, in the kernel's key order."""
    out, key = [], None
    while True:
        try:
            key = kernel.map_get_next_key(fd, key)
        except BpfError as err:
            if err.errno not in (errno.ENOTSUP, 524):  # ring buffers and the like have no keys to walk
                raise
            key = None
        if key is None:
            return out
        try:
            out.append((key, kernel.map_lookup(fd, key)))
        except BpfError as err:
            if err.errno != errno.ENOENT:
                out.append((key, err.errno))


def map_dump(kernel: LinuxKernel, fd: int) -> list[str]:
    """bpftool's `map dump`: through the map's BTF when it has some, else as hex bytes."""
    info = object_info(fd)
    entries = _entries(kernel, fd)
    if info["btf_id"] and info["btf_value_type_id"] and all(isinstance(v, bytes) for _, v in entries):
        return _btf_dump_entries(info, entries)
    key_size, value_size = info["key_size"], info["value_size"]
    percpu = info["type"] in PERCPU_TYPES
    break_names = key_size > 16 or value_size > 16 or percpu
    single_line = key_size + value_size <= 24 and not break_names
    lines, count = [], 0
    for key, value in entries:
        if isinstance(value, int):
            lines += ["key:", hex_bytes(key), "value:", os.strerror(value)]
            continue
        count += 1
        if percpu:
            step = (value_size + 7) // 8 * 8
            lines += ["key:", hex_bytes(key)]
            for cpu in range(len(value) // step):
                lines.append(f"value (CPU {cpu:02d}):{chr(10) if value_size > 16 else ' '}"
                             f"{hex_bytes(value[cpu * step:cpu * step + value_size])}")
        elif single_line:
            lines.append(f"key: {hex_bytes(key)}  value: {hex_bytes(value)}")
        else:
            sep = "\n" if break_names else " "
            lines.append(f"key:{sep}{hex_bytes(key)}\nvalue:{sep}{hex_bytes(value)}")
    lines.append(f"Found {count} element{'s' if count != 1 else ''}")
    return "\n".join(lines).split("\n")


def _btf_dump_entries(info: dict, entries) -> list[str]:
    from .btf_dumper import dump_entries
    btf = Btf.parse(btf_data(info["btf_id"]))
    per_cpu = None
    if info["type"] in PERCPU_TYPES:
        step = (info["value_size"] + 7) // 8 * 8
        entries = [(k, [v[i:i + info["value_size"]] for i in range(0, len(v), step)]) for k, v in entries]
        per_cpu = True
    return dump_entries(btf, info["btf_key_type_id"], info["btf_value_type_id"], entries, per_cpu).splitlines()


@functools.cache
def _kallsyms() -> tuple[int, dict[int, str]]:
    base, names = 0, {}
    try:
        with open("/proc/kallsyms") as f:
            for line in f:
                address, kind, name = line.split()[:3]
                if kind in "tTwW":
                    names.setdefault(int(address, 16), name)
                if name == "__bpf_call_base":
                    base = int(address, 16)
    except OSError:
        pass
    return base, names


def _helper_name(imm: int) -> str | None:
    base, names = _kallsyms()
    return names.get(base + imm) if base else None


def _type_only(btf: Btf, type_id: int) -> str:
    """bpftool's btf_dumper_type_only: `int `, `struct __sk_buff * `, `const char * ` (a trailing space)."""
    if type_id == 0:
        return "void "
    t = btf[type_id]
    if t.kind in ("INT", "TYPEDEF", "FLOAT"):
        return f"{t.name} "
    if t.kind in ("STRUCT", "UNION"):
        return f"{t.kind.lower()} {t.name} "
    if t.kind in ("ENUM", "ENUM64"):
        return f"enum {t.name} "
    if t.kind == "FWD":
        return f"{'union' if t.kind_flag else 'struct'} {t.name} "
    if t.kind == "PTR":
        return _type_only(btf, t.type) + "* "
    if t.kind == "ARRAY":
        return _type_only(btf, t.array[0]) + f"[{t.array[2]}]"
    if t.kind in ("VOLATILE", "CONST", "RESTRICT"):
        return f"{t.kind.lower()} " + _type_only(btf, t.type)
    if t.kind == "TYPE_TAG":
        return _type_only(btf, t.type)
    if t.kind in ("FUNC", "FUNC_PROTO"):
        return _signature(btf, t)
    return ""


def _signature(btf: Btf, t) -> str:
    """bpftool's btf_dump_func: `int count_bytes(struct __sk_buff * skb)`."""
    func, proto = (t, btf[t.type]) if t.kind == "FUNC" else (None, t)
    text = _type_only(btf, proto.type) + (f"{func.name}(" if func else "(")
    for i, arg in enumerate(proto.members):
        text += ", " if i else ""
        if not arg.type:
            text += "..."
            continue
        text += _type_only(btf, arg.type)
        if arg.name:
            text += arg.name
        elif text.endswith(" "):
            text = text[:-1]
    return text + ")"


def _source_lines(linfo: list[tuple[int, int]], btf: Btf):
    """pc -> the `; line` bpftool prints before it: its bpf_prog_linfo__lfind walk, one record a pc,
    the last at or before the pc from a cursor that moves one record on each print."""
    skip = 0

    def line_at(pc: int) -> str | None:
        nonlocal skip
        if skip >= len(linfo) or pc < linfo[skip][0]:
            return None
        found = skip
        while found + 1 < len(linfo) and linfo[found + 1][0] <= pc:
            found += 1
        skip += 1
        return "; " + btf.string(linfo[found][1]).lstrip()
    return line_at


def _call_name(info: dict, btf: Btf | None):
    """`pc+44#bpf_prog_<tag>_mix` for a bpf-to-bpf call of the xlated code (off: the pc offset, imm: the
    sub-program), named as the kernel names the jited sub-program in kallsyms."""
    def name(insn) -> str:
        text = f"call pc{insn.off:+d}"
        index = insn.imm
        if info["nr_jited_ksyms"] and 0 <= index < len(info["prog_tags"]):
            func = btf[info["func_info"][index][1]].name if btf is not None and index < len(info["func_info"]) \
                else info["name"]
            text += f"#bpf_prog_{info['prog_tags'][index]}_{func}"
        return text
    return name


def prog_dump_xlated(fd: int) -> list[str]:
    """The program as the verifier left it, one `%4d: (%02x) text` line an instruction; with BTF, each
    function's signature and the source line before its instructions, as bpftool prints them."""
    info = object_info(fd, xlated=True)
    insns = decode(info["xlated"], strict=False)  # the kernel reuses a local call's off for its pc offset
    btf = Btf.parse(btf_data(info["btf_id"])) if info["btf_id"] else None
    funcs = {pc: type_id for pc, type_id in info["func_info"]} if btf is not None else {}
    line_at = _source_lines(info["line_info"], btf) if btf is not None else (lambda pc: None)
    call = _call_name(info, btf)
    lines = []
    for pc, insn in zip(pcs(insns), insns):
        if pc in funcs:
            lines.append(_type_only(btf, funcs[pc]) + ":")
        source = line_at(pc)
        if source is not None:
            lines.append(source)
        if insn.code == 0x85 and insn.src == BPF_PSEUDO_CALL:
            text = call(insn)
        elif insn.code == 0x85 and insn.src == BPF_PSEUDO_KFUNC_CALL:  # imm: its address from __bpf_call_base
            text = f"call {_helper_name(insn.imm) or hex(_kallsyms()[0] + insn.imm)}#{insn.imm}"
        else:
            text = format_insn(insn, "kernel", _helper_name)
        lines.append(f"{pc:4d}: ({insn.code:02x}) {text}")
    return lines


LLVM_MC = ("llvm-mc-14", "llvm-mc")
LLVM_TRIPLES = {"x86_64": "x86_64", "aarch64": "aarch64", "riscv64": "riscv64", "s390x": "s390x"}


def native_insn_count(code: bytes) -> int | None:
    """How many machine instructions `code` (this machine's) holds, by llvm-mc's disassembler; None without it."""
    import platform
    import shutil
    import subprocess
    tool = next((t for t in map(shutil.which, LLVM_MC) if t), None)
    triple = LLVM_TRIPLES.get(platform.machine())
    if not code or tool is None or triple is None:
        return None
    text = " ".join(f"0x{b:02x}" for b in code)
    run = subprocess.run([tool, "--disassemble", f"-triple={triple}"], input=text, capture_output=True, text=True)
    if run.returncode:
        return None
    return sum(1 for line in run.stdout.splitlines() if line.strip() and not line.strip().startswith("."))


def prog_sizes(fd: int) -> str:
    """One line of a program's sizes: instructions after the verifier (xlated), native code (jited: bytes
    and machine instructions), instructions the verifier walked, and functions."""
    info = object_info(fd, xlated=True)
    xlated = len(decode(info["xlated"], strict=False)) if info["xlated"] else 0
    slots = info["xlated_prog_len"] // 8
    line = f"{info['id']}: {info['name'] or '-'}  xlated {slots} insns"
    line += f" ({xlated} instructions)" if xlated != slots else ""
    if info["jited_prog_len"]:
        count = native_insn_count(info["jited"])
        line += f"  jited {info['jited_prog_len']}B" + (f" {count} insns" if count is not None else "")
    else:
        line += "  not jited"
    line += f"  verified {info['verified_insns']} insns"
    functions = max(len(info["func_info"]), len(info["jited_func_lens"]), 1)
    return line + (f"  {functions} functions" if functions > 1 else "")


def btf_data(btf_id: int) -> bytes:
    """The raw BTF the kernel holds as id btf_id."""
    import ctypes

    from . import syscall
    from .attr import BpfBtfInfo
    with translate_errors("BPF_BTF_GET_FD_BY_ID"):
        fd = syscall.get_fd_by_id("btf", btf_id)
    try:
        size = object_info(fd)["btf_size"]
        buf = ctypes.create_string_buffer(size)
        with translate_errors("BPF_OBJ_GET_INFO_BY_FD"):
            syscall.obj_get_info(fd, BpfBtfInfo(btf=ctypes.addressof(buf), btf_size=size))
        return buf.raw
    finally:
        os.close(fd)


def btf_dump(source: str | int) -> list[str]:
    """`bpftool btf dump file PATH` or `... id ID`: every type, raw format."""
    if isinstance(source, int):
        data = btf_data(source)
    else:
        with open(source, "rb") as f:
            data = f.read()
    if data[:4] == b"\x7fELF":  # an object file: its .BTF section
        from ... import elf
        btf = elf.load(data).btf
        if btf is None:
            raise BpfError("btf dump", errno.ENOENT, f"{source} has no .BTF section")
        return dump_raw(btf)
    return dump_raw(Btf.parse(data))

"""Render instructions as text in three syntaxes, from the syntax tables.

- "llvm": what `llvm-objdump -d` prints (LLVM 14 where it knows the
  instruction, modern LLVM's spelling where LLVM 14 prints `<unknown>`);
  syntax_llvm lists where we print an unambiguous form instead: local calls
  `call pc+N`, pseudo 64-bit loads `r1 = map[fd:5] ll`,
  `r1 = map[fd:5][0]+8 ll`, `r1 = map[idx:3] ll`, `r1 = btf_id(7) ll`,
  `r1 = func(pc+5) ll`, kfunc calls `call kfunc#ID`.
- "kernel": what the Linux verifier log prints (kernel/bpf/disasm.c, 6.18):
  `r0 = *(u32 *)(r1 +4)`, `if r1 == 0x5 goto pc+3`,
  `call bpf_map_lookup_elem#1`; syntax_kernel lists what it cannot say.
- "ubpf": the bpf_conformance/ubpf assembler syntax: `ldxw %r0, [%r1+4]`.

The per-instruction text never carries llvm-objdump's `<.text+0x38>` target
annotations; `objdump_lines()` lays out a whole function as `llvm-objdump -d`
does, annotations included.  Helper names (kernel syntax) come from an
optional callback, since this package imports nothing else of pybpf's.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

from . import syntax_kernel, syntax_llvm, syntax_ubpf
from .asm_text import UnknownSyntax, target_field
from .insn import Insn, pcs
from .template import HelperNamer, Syntax

SYNTAXES = ("llvm", "kernel", "ubpf")
ImmNamer = Callable[[Insn], "str | None"]

_TABLES: dict[str, Syntax] = {"llvm": syntax_llvm.SYNTAX, "kernel": syntax_kernel.SYNTAX, "ubpf": syntax_ubpf.SYNTAX}


def _table(syntax: str) -> Syntax:
    try:
        return _TABLES[syntax]
    except KeyError:
        raise UnknownSyntax(syntax, SYNTAXES) from None


def format_insn(insn: Insn, syntax: str = "llvm", helper_name: HelperNamer | None = None, *,
                imm_name: ImmNamer | None = None) -> str:
    """One instruction as text.  An invalid encoding renders as `<unknown>`, as llvm-objdump does.

    `helper_name(id)` names helpers in the kernel syntax (`call bpf_trace_printk#6`).
    `imm_name(insn)` may replace the value of a 64-bit load in the kernel syntax,
    as the kernel's `cb_imm` callback does (`r1 = map[id:12]`); None keeps the default.
    """
    table = _table(syntax)
    if insn.spec is None:
        return "<unknown>"
    if imm_name is not None and syntax == "kernel" and insn.spec.kind == "lddw":
        name = imm_name(insn)
        if name is not None:
            return f"r{insn.dst} = {name}"
    return table.render(insn, helper_name)


def lossy(insn: Insn, syntax: str) -> str | None:
    """Why `syntax` cannot say `insn` exactly (so that it would not assemble back to it), or None."""
    return _table(syntax).lossy(insn) if insn.spec is not None else "not a valid instruction"


def kernel_log_line(insn: Insn, helper_name: HelperNamer | None = None, *, imm_name: ImmNamer | None = None) -> str:
    """The verifier log's form of an instruction, with its opcode: `(bf) r1 = r10`."""
    return f"({insn.code:02x}) {format_insn(insn, 'kernel', helper_name, imm_name=imm_name)}"


def disassemble(insns: Iterable[Insn], syntax: str = "llvm", helper_name: HelperNamer | None = None,
                *, with_pc: bool = True) -> list[str]:
    """One line per instruction, prefixed with its pc (`  12: r0 = 1`) unless with_pc is False."""
    _table(syntax)  # an unknown syntax is an error even for no instructions
    insns = list(insns)
    lines = []
    for pc, insn in zip(pcs(insns), insns):
        text = format_insn(insn, syntax, helper_name)
        lines.append(f"{pc:4d}: {text}" if with_pc else text)
    return lines


def jump_target(insn: Insn, pc: int) -> int | None:
    """The pc a jump (conditional, goto, gotol, may_goto) at `pc` goes to, or None for other instructions."""
    spec = insn.spec
    if spec is None or spec.kind not in ("jcond", "ja", "may_goto"):
        return None
    return pc + 1 + getattr(insn, target_field(spec))


def objdump_lines(insns: Iterable[Insn], symbols: Mapping[int, str] | None = None, *,
                  section: str = ".text", start_pc: int = 0) -> list[str]:
    """Instruction lines as `llvm-objdump -d` prints them: `%8d:\\t<bytes>\\t<text>`.

    The pc column counts 8-byte slots from the start of the section (`start_pc`
    is the first instruction's); a lddw shows its 16 bytes on one line.  Jumps
    get llvm-objdump's annotation of their target, `<sym>` or `<sym+0xNN>`,
    naming the nearest of `symbols` (byte offset in the section -> name) at or
    before the target, or else the section; the address arithmetic is
    llvm-objdump's, 64-bit unsigned (a target before the section start reads
    `<.text+0xfffffffffffffff8>`).
    """
    marks = sorted((symbols or {}).items())
    out = []
    pc = start_pc
    for insn in insns:
        text = format_insn(insn, "llvm")
        target = jump_target(insn, pc)
        if target is not None:
            text += " " + _annotation((target * 8) & 0xFFFFFFFFFFFFFFFF, marks, section)
        out.append(f"{pc:8d}:\t{insn.encode().hex(' ')}\t{text}")
        pc += insn.size
    return out


def _annotation(address: int, marks: list[tuple[int, str]], section: str) -> str:
    base, name = 0, section
    for offset, symbol in marks:
        if offset <= address:
            base, name = offset, symbol
    return f"<{name}>" if address == base else f"<{name}+{address - base:#x}>"

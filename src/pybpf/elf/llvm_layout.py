"""`pybpf objdump -d [-r]`: an object in the layout of `llvm-objdump-14 -d [-r]`.

Section by section and symbol by symbol, the raw bytes of each instruction
and its text, jump targets annotated with the nearest symbol at or before
them (`<LBB0_2>`, `<count_bytes+0x18>`), and with `-r` each relocation on
the line after the instruction it patches.  The text of each instruction
is the isa disassembler's LLVM syntax, except where LLVM 14's own text
loses information (`LLVM14_LOSSY`): there we print what llvm-objdump 14
prints, so that the listing is llvm's line for line.  `pybpf disasm` and
the summary view print the lossless text (`call pc+3`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..isa.disasm import format_insn
from ..isa.insn import Insn, decode, pcs
from .obj import BpfObject

_LDDW, _CALL = 0x18, 0x85


@dataclass(frozen=True)
class LossyLine:
    """A kind of instruction whose llvm-objdump 14 text loses information, and what that text is."""

    what: str
    applies: Callable[[Insn], bool]
    llvm_text: Callable[[Insn], str]  # what llvm-objdump 14 prints instead of our text
    why: str


LLVM14_LOSSY: tuple[LossyLine, ...] = (
    LossyLine("local call", lambda i: i.code == _CALL and i.src == 1,
              lambda i: f"call {i.imm}",
              "llvm prints `call 3` for a bpf-to-bpf call, like the helper call `call 3`; we print `call pc+3`"),
    LossyLine("lddw with a pseudo source", lambda i: i.code == _LDDW and i.src != 0,
              lambda i: f"ld_pseudo\tr{i.dst}, {i.src}, {i.imm}",
              "llvm prints `ld_pseudo r1, 2, 5` without the second slot's imm; we print `r1 = map[fd:5][0]+8 ll`"),
)


def lossy_rule(insn: Insn) -> LossyLine | None:
    """The LLVM14_LOSSY row an instruction falls under, if any."""
    return next((rule for rule in LLVM14_LOSSY if rule.applies(insn)), None)


def _symbol_ref(symbols: list[tuple[int, str]], address: int) -> str:
    best = None
    for value, name in symbols:
        if value <= address:
            best = (value, name)
    if best is None:
        return ""
    value, name = best
    return f" <{name}>" if value == address else f" <{name}+{address - value:#x}>"


def llvm_objdump_lines(obj: BpfObject, shown_path: str | None = None, relocations: bool = False) -> list[str]:
    """The lines `llvm-objdump-14 -d` (with relocations: `-dr`) prints for the object."""
    out = ["", f"{shown_path or obj.path}:\tfile format elf64-bpf"]
    for section, code in obj.code_sections.items():
        out += ["", f"Disassembly of section {section}:"]
        symbols = sorted({(s.value, s.name) for s in obj.symbols
                          if s.section == section and s.type in ("STT_FUNC", "STT_NOTYPE") and s.name})
        starts = {value: name for value, name in reversed(symbols)}
        if 0 not in starts:
            starts[0] = section
            symbols.insert(0, (0, section))
        relocs: dict[int, list[str]] = {}
        for r in obj.code_relocations.get(section, []):
            relocs.setdefault(r.offset // 8, []).append(f"\t\t{r.offset:016x}:  {r.type}\t{r.symbol}")
        insns = decode(code, strict=False)
        for pc, insn in zip(pcs(insns), insns):
            address = pc * 8
            if address in starts:
                out += ["", f"{address:016x} <{starts[address]}>:"]
            rule = lossy_rule(insn)
            text = rule.llvm_text(insn) if rule is not None else format_insn(insn, "llvm")
            spec = insn.spec
            if spec is not None and spec.kind in ("jcond", "ja", "may_goto"):
                delta = insn.imm if spec.op == "gotol" else insn.off
                text += _symbol_ref(symbols, (pc + 1 + delta) * 8)
            out.append(f"{pc:8d}:\t{insn.encode().hex(' ')}\t{text}")
            if relocations:
                out += relocs.get(pc, [])
    return out

"""The run-time fault every engine raises: the pc, the instruction and why.

A fault is a user-facing error (ARCHITECTURE.md decision 8): it names the pc
and shows the instruction in the llvm syntax (raw bytes when the
disassembler cannot render it), then the address involved and the reason.
Division by zero is not a fault: it has defined results (RFC 9669 4.1).
"""

from __future__ import annotations

from ..errors import PybpfError
from ..isa.insn import Insn


def render(insn: Insn) -> str:
    """The instruction as text, or its bytes when the disassembler is unavailable or refuses it."""
    try:
        from ..isa.disasm import format_insn
        return format_insn(insn)
    except Exception:  # the fault message must survive a disassembler that is missing or mid-change
        return insn.encode().hex(" ")


class VMFault(PybpfError):
    """A program stopped at run time: what happened, at which pc, on which instruction.

    Attributes: pc (-1 when no instruction is involved), insn (or None),
    reason (the text after the pc), addr (the faulting address, or None).
    """

    def __init__(self, pc: int, insn: Insn | None, reason: str, addr: int | None = None):
        self.pc, self.insn, self.reason, self.addr = pc, insn, reason, addr
        text = f" ({render(insn)})" if insn is not None else ""
        super().__init__(f"pc {pc}{text}: {reason}")

"""Every row of the opcode table executes on every engine (ARCHITECTURE.md decision 2).

For each `Spec` of `pybpf.isa.opcodes.SPECS` one small program runs the
instruction with known operands: r0 = 7, r3 = 3, r1 = 16 bytes of input
memory, r4 = helper id 8 for callx, a 16-byte packet, a resolver for the
pseudo lddw forms, and a subprogram at the end for local calls and lddw
func.  Every engine must give the reference interpreter's r0 and memory;
arithmetic and conditional jumps are also checked against
`pybpf.isa.semantics` directly, so that the interpreter itself is held to it.
"""

from __future__ import annotations

import pytest

from pybpf import vm
from pybpf.isa import SPECS, Insn, Spec
from pybpf.isa.semantics import ALU, JMP, MASK
from pybpf.vm.dispatch import COMPILERS, SEMANTICS
from support.engines import ENGINES

MEMORY = bytes(range(0x10, 0x20))
PACKET = bytes(range(0x80, 0x90))
OPTIONS = dict(packet=PACKET, resolver=lambda insn, pc: 0x1122334455667788)
R0, R3 = 7, 3

PROLOGUE = [Insn(0xB7, dst=0, imm=R0), Insn(0xB7, dst=3, imm=R3), Insn(0xB7, dst=4, imm=8), Insn(0xBF, dst=6, src=1)]
SUBPROGRAM = [Insn(0xB7, dst=0, imm=99), Insn(0x95)]

# kind -> operand values: registers r0/r3 for arithmetic, r1 (the memory) as a base, small immediates.
OPERANDS = {
    "alu": dict(dst=0, src=3, imm=R3), "neg": dict(dst=0), "movsx": dict(dst=0, src=3), "end": dict(dst=0),
    "ldx": dict(dst=0, src=1, off=8), "ldxs": dict(dst=0, src=1, off=8),
    "st": dict(dst=1, off=8, imm=-2), "stx": dict(dst=1, src=3, off=8),
    "atomic": dict(dst=1, src=3, off=8), "load_acq": dict(dst=0, src=1, off=8),
    "store_rel": dict(dst=1, src=3, off=8), "lddw": dict(dst=0, imm=5, imm2=6),
    "ldabs": dict(imm=2), "ldind": dict(src=3, imm=2),
    "ja": dict(off=1, imm=1), "jcond": dict(dst=0, src=3, imm=R3, off=1), "may_goto": dict(off=1),
    "call": dict(imm=8), "callx": dict(dst=4), "exit": dict(),  # helper 8: bpf_get_smp_processor_id
}


def make(spec: Spec, **values: int) -> Insn:
    """The instruction of this row with the given operand values (other fields as the row fixes them)."""
    fields = {f: spec.fixed_value(f) for f in ("dst", "src", "off", "imm")}
    fields.update({f: values[f] for f in list(fields) if f in spec.operands and f in values})
    if spec.kind == "lddw":
        fields["imm2"] = values.get("imm2", 0) if "imm2" in spec.operands else 0
    return Insn(spec.code, **fields)


def program(spec: Spec) -> list[Insn]:
    """Prologue, the instruction, exit, the subprogram.

    A jump (offset 1) skips `r0 = 1`; lddw func is followed by `callx r0` so
    that the loaded address is used rather than returned.
    """
    values = dict(OPERANDS[spec.kind])
    if spec.kind == "exit":
        return PROLOGUE + [make(spec)]
    body = [None, Insn(0x95)]
    if spec.kind in ("ja", "jcond", "may_goto"):
        body = [None, Insn(0xB7, dst=0, imm=1), Insn(0x95)]
    elif spec.op == "func":
        body = [None, Insn(0x8D, dst=0), Insn(0x95)]
    if spec.op in ("local", "func"):  # the subprogram right after the final exit
        values["imm"] = len(body) - 1 + spec.slots - 1
    body[0] = make(spec, **values)
    return PROLOGUE + body + SUBPROGRAM


def row_id(spec: Spec) -> str:
    return f"{spec.code:02x}-{spec.name.replace(' ', '_')}-{spec.op}-{spec.width}"


ROWS = [s for s in SPECS if s.op != "kfunc"]


@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize("spec", ROWS, ids=row_id)
def test_row_executes_like_the_reference(engine, spec):
    insns = program(spec)
    expected = vm.run(insns, MEMORY, **OPTIONS)
    result = ENGINES[engine](insns, MEMORY, **OPTIONS)
    assert (result.r0, result.memory) == (expected.r0, expected.memory)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.kind == "alu"], ids=row_id)
def test_arithmetic_follows_the_semantics_table(spec):
    w = spec.width
    expected = ALU[spec.op](R0 & MASK[w], R3 & MASK[w], w)
    assert vm.run(program(spec), MEMORY).r0 == expected


@pytest.mark.parametrize("spec", [s for s in SPECS if s.kind == "jcond"], ids=row_id)
def test_conditional_jumps_follow_the_semantics_table(spec):
    taken = JMP[spec.op](R0, R3, spec.width)
    assert vm.run(program(spec), MEMORY).r0 == (R0 if taken else 1)


def test_kfunc_calls_are_refused_without_a_kernel():
    spec = next(s for s in SPECS if s.op == "kfunc")
    with pytest.raises(vm.VMFault, match="kfunc calls .* need a kernel"):
        vm.run(PROLOGUE + [make(spec, imm=1), Insn(0x95)])


def test_every_kind_and_op_has_an_implementation():
    for spec in SPECS:
        assert spec.kind in COMPILERS, spec
        if spec.kind in SEMANTICS:
            assert spec.op in SEMANTICS[spec.kind], spec

"""The Python builder: one method per mnemonic of the opcode table, labels resolved at finish()."""

import inspect
import subprocess
import sys

import pytest

from pybpf import vm
from pybpf.isa.asm import assemble
from pybpf.isa.builder import R0, R1, R2, R3, R6, R10, Builder, BuilderError, Reg
from pybpf.isa.opcodes import BPF_B, BPF_DW, BPF_H, BPF_W
from support.samples import samples

HELPERS = {"bpf_ktime_get_ns": 5, "bpf_trace_printk": 6}.get


def method_name(spec):
    if spec.kind == "lddw":
        return "lddw" if spec.op == "imm64" else f"ld_{spec.op}"
    if (spec.kind, spec.op) == ("call", "helper"):
        return "call"
    return spec.name.replace(" ", "_")


def arguments(method, insn):
    """The arguments a method takes for `insn`, by the names in its signature."""
    args = []
    for name in list(inspect.signature(method).parameters)[1:]:
        if name == "src":
            args.append(Reg(insn.src) if "src" in insn.spec.operands else insn.imm)
        elif name in ("imm64", "helper"):
            args.append(insn.imm64 if name == "imm64" else insn.imm)
        elif name in ("dst",):
            args.append(Reg(insn.dst))
        else:
            args.append(getattr(insn, name) or 0)
    return args


@pytest.mark.parametrize("insn", samples(per_spec=2, seed=7), ids=lambda i: f"{i.spec.name}-{i.spec.op}")
def test_every_row_has_a_method_that_builds_it(insn):
    method = getattr(Builder, method_name(insn.spec))
    b = Builder()
    method(b, *arguments(method, insn))
    assert b.finish() == [insn]


def test_the_example_from_the_brief():
    b = Builder()
    b.mov64(R0, 1)
    b.label("out")
    b.jeq(R1, 0, "out")
    b.call(6)
    b.exit()
    assert b.finish() == assemble("r0 = 1\nout: if r1 == 0 goto out\ncall 6\nexit")


def test_builder_equals_the_assembler_and_runs():
    b = Builder(helper_id=HELPERS)
    b.mov(R0, 0).mov(R2, 0).label("loop")
    b.add(R0, R2).add(R2, 1).jlt(R2, 10, "loop")
    b.stxdw(R10, -8, R0).lock_fetch_add32(R10, -8, R2).ldxw(R1, R10, -8)
    b.mov(R6, R0).call_local("f").add(R6, R0).call("bpf_ktime_get_ns").mov(R0, R6).exit()
    b.label("f").mov32(R0, 0x1234).be16(R0).exit()
    text = """
        r0 = 0
        r2 = 0
    loop:
        r0 += r2
        r2 += 1
        if r2 < 10 goto loop
        *(u64 *)(r10 - 8) = r0
        w2 = atomic_fetch_add((u32 *)(r10 - 8), w2)
        r1 = *(u32 *)(r10 - 8)
        r6 = r0
        call f
        r6 += r0
        call 5
        r0 = r6
        exit
    f:
        w0 = 4660
        r0 = be16 r0
        exit
    """
    insns = b.finish()
    assert insns == assemble(text)
    assert vm.run(insns).r0 == 45 + 0x3412


@pytest.mark.parametrize("size,name", [(BPF_B, "b"), (BPF_H, "h"), (BPF_W, "w"), (BPF_DW, "dw")])
def test_sized_forms_equal_the_named_ones(size, name):
    sized = Builder().ldx(size, R0, R1, 4).st(size, R10, -8, 7).stx(size, R10, -8, R1).finish()
    named = getattr(getattr(getattr(Builder(), f"ldx{name}")(R0, R1, 4), f"st{name}")(R10, -8, 7),
                    f"stx{name}")(R10, -8, R1).finish()
    assert sized == named


def test_lddw_and_pseudo_sources():
    insns = (Builder().lddw(R1, -1).ld_map_fd(R2, 7).ld_map_value(R3, 7, 16).ld_func(R1, "end")
             .label("end").exit().finish())
    assert insns[0].imm64 == (1 << 64) - 1
    assert (insns[1].src, insns[1].imm) == (1, 7)
    assert (insns[2].dst, insns[2].src, insns[2].imm, insns[2].imm2) == (3, 2, 7, 16)
    assert (insns[3].src, insns[3].imm) == (4, 1)  # `end` is pc 5, after a two-slot lddw


@pytest.mark.parametrize("build,message", [
    (lambda b: b.add(R0), r"add\(R0,\): wrong operands for add, expected \(dst, imm\) or \(dst, src\)"),
    (lambda b: b.mov(R0, 1 << 32), "mov: imm 4294967296 is out of 32-bit range"),
    (lambda b: b.ldxw(R0, R1, 1 << 15), "ldxw: off 32768 is out of 16-bit range"),
    (lambda b: b.neg(11), "neg: dst must be a register R0-R10, not 11"),
    (lambda b: b.call("bpf_nope"), "unknown helper 'bpf_nope'"),
    (lambda b: b.ldx(3, R0, R1), "ldx: size must be BPF_B, BPF_H, BPF_W or BPF_DW, not 3"),
    (lambda b: b.ja("nowhere").finish(), "instruction 0 .*: unknown label 'nowhere'"),
    (lambda b: b.label("x").label("x"), "duplicate label 'x'"),
])
def test_mistakes_are_builder_errors(build, message):
    with pytest.raises(BuilderError, match=message):
        build(Builder())


def test_methods_are_documented_from_the_table():
    assert str(inspect.signature(Builder.stxdw)) == "(self, dst, off, src, /)"
    assert str(inspect.signature(Builder.add)) == "(self, dst, src, /)"
    assert str(inspect.signature(Builder.call_runtime)) == "(self, imm, off=0, /)"
    assert Builder.stxdw.__doc__ == "stxdw (cpu v1): *(u64 *)(dst + off) = src"


def test_no_such_method():
    with pytest.raises(AttributeError):
        Builder().frob(R0)


def test_the_isa_package_imports_nothing_else_of_ours():
    code = ("import sys, pybpf.isa.builder, pybpf.isa.asm, pybpf.isa.disasm; "
            "print(sorted(m for m in sys.modules if m.startswith('pybpf.') "
            "and not m.startswith('pybpf.isa') and m != 'pybpf.errors'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

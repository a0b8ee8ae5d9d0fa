"""Objects made by llvmlite's BPF target load like clang's (the tracer's path)."""

import pytest

from pybpf import elf, vm
from pybpf.uapi import ProgType

llvm = pytest.importorskip("llvmlite.binding")

IR = r"""
define i64 @twice_plus_one(i64 %x) noinline {
  %y = mul i64 %x, 2
  %z = add i64 %y, 1
  ret i64 %z
}

define i64 @prog(i8* %ctx) section "socket" {
  %a = call i64 @twice_plus_one(i64 20)
  ret i64 %a
}

@_license = global [4 x i8] c"GPL\00", section "license"
"""


def build() -> bytes:
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    module = llvm.parse_assembly(IR)
    module.verify()
    machine = llvm.Target.from_triple("bpfel-unknown-none").create_target_machine(opt=2)
    return machine.emit_object(module)


def test_llvmlite_object_loads_and_runs():
    obj = elf.load(build(), name="llvmlite.o")
    prog = obj.get_program("prog")
    assert prog.prog_type == ProgType.BPF_PROG_TYPE_SOCKET_FILTER
    assert obj.license == "GPL"
    assert vm.run(prog.insns).r0 == 41

"""`pybpf.vm.run`: the bpf_conformance calling convention and the result it returns."""

import dataclasses
import inspect

from pybpf import vm
from pybpf.isa.asm import assemble


def run(text: str, memory: bytes = b"", **kw):
    return vm.run(assemble(text), memory, **kw)


def test_the_signature_is_stable():
    # The differential test against Linux and the benchmark call exactly this.
    params = inspect.signature(vm.run).parameters
    assert list(params)[:2] == ["insns", "memory"] and params["memory"].default == b""
    assert all(params[name].kind is inspect.Parameter.KEYWORD_ONLY
               for name in ("max_steps", "helpers", "packet", "resolver", "trace"))
    assert [f.name for f in dataclasses.fields(vm.RunResult)] == ["r0", "memory", "steps"]


def test_r1_is_a_copy_of_memory_and_r2_its_length():
    data = b"\x01\x02\x03\x04"
    result = run("*(u8 *)(r1 + 0) = 9\nr0 = r2\nexit", data)
    assert result == vm.RunResult(4, b"\x09\x02\x03\x04", 3)
    assert data == b"\x01\x02\x03\x04"


def test_without_memory_r1_and_r2_are_zero():
    assert run("r0 = r1\nr0 |= r2\nexit") == vm.RunResult(0, b"", 3)


def test_r0_is_unsigned_64_bit():
    assert run("r0 = -1\nexit").r0 == (1 << 64) - 1


def test_r10_is_the_top_of_a_zeroed_512_byte_stack():
    assert run("r0 = *(u64 *)(r10 - 8)\nexit").r0 == 0
    assert run("r1 = r10\nr1 += -512\nr0 = *(u8 *)(r1 + 0)\nexit").r0 == 0


def test_instructions_may_be_any_iterable():
    assert vm.run(iter(assemble("r0 = 5\nexit"))).r0 == 5


def test_each_run_starts_afresh():
    insns = assemble("r0 = *(u64 *)(r10 - 8)\nr1 = 1\n*(u64 *)(r10 - 8) = r1\nexit")
    assert vm.run(insns).r0 == vm.run(insns).r0 == 0


def test_the_interpreter_object_runs_many_times_on_its_own_regions():
    interp = vm.Interpreter(assemble("r0 = *(u32 *)(r1 + 0)\nr0 += r2\nexit"))
    region = interp.mem.map("input", b"\x05\x00\x00\x00")
    assert interp.run(region.start, 10) == 15 and interp.steps == 3
    region.write(b"\x07")
    assert interp.run(region.start, 1) == 8

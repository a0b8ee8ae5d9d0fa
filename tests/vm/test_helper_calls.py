"""Helper calls from the interpreter: through the registry, faults naming the pc and the id."""

import pytest

from pybpf import vm
from pybpf.helpers import REGISTRY, HelperSpec
from pybpf.isa.asm import assemble

PRINTK = """
    r1 = 0x0a2164252069680a ll
    *(u64 *)(r10 - 16) = r1
    r1 = 0
    *(u64 *)(r10 - 8) = r1
    r1 = r10
    r1 += -15
    r2 = 8
    r3 = 42
    call 6
    exit
"""


def run(text: str, **kw):
    return vm.run(assemble(text), **kw)


def test_unknown_helper_id_faults_at_the_call():
    with pytest.raises(vm.VMFault, match="pc 1 .*unknown helper function 999") as err:
        run("r0 = 0\ncall 999\nexit")
    assert err.value.pc == 1


def test_a_linux_helper_without_an_implementation_is_named():
    with pytest.raises(vm.VMFault, match="helper bpf_skb_store_bytes#9 is not implemented"):
        run("mov %r1, 0\nmov %r2, 0\nmov %r3, 0\nmov %r4, 0\nmov %r5, 0\ncall 9\nexit")


def test_a_helper_that_needs_the_kernel_says_so():
    with pytest.raises(vm.VMFault, match=r"pc 1 .*bpf_map_lookup_elem#1 needs a kernel"):
        run("r1 = 0\ncall 1\nexit")


def test_ktime_and_prandom_and_cpu():
    assert run("call 5\nexit").r0 > 0
    assert run("call 125\nexit").r0 > 0
    assert run("call 7\nexit").r0 < 1 << 32
    assert run("call 8\nexit").r0 == 0


def test_trace_printk_writes_to_the_sink():
    lines = []
    result = run(PRINTK, trace=lines.append)
    assert lines == [b"hi 42!\n"] and result.r0 == 8


def test_trace_printk_without_a_sink_drops_the_line():
    assert run(PRINTK).r0 == 8


def test_a_custom_helper_table():
    def add(m, a, b, *_):
        return a + b
    helpers = {**REGISTRY, 1000: HelperSpec(1000, "add", ("ARG_ANYTHING", "ARG_ANYTHING"), "RET_INTEGER", add)}
    assert run("r1 = 2\nr2 = 40\ncall 1000\nexit", helpers=helpers).r0 == 42


def test_helpers_clobber_nothing_the_check_lets_a_program_read():
    with pytest.raises(vm.ProgramError, match="R1 !read_ok"):
        run("r1 = 1\ncall 5\nr0 = r1\nexit")

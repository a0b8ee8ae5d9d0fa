"""The virtual kernel takes a program's BTF as Linux does (BPF_BTF_LOAD, prog_load's btf_fd and func_info),
so its verifier checks global functions against their signatures."""

from __future__ import annotations

import errno
import struct

import pytest

from pybpf.isa.asm import assemble
from pybpf.kernel.errors import BpfError
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import MapType, ProgType
from support.btf import BtfBuilder

SOCKET = ProgType.BPF_PROG_TYPE_SOCKET_FILTER
# main passes a pointer to 3 on its stack to f, which returns what it points to.
PROGRAM = assemble("""
r1 = 3
*(u32 *)(r10 -4) = r1
r1 = r10
r1 += -4
call pc+1
exit
r0 = *(u32 *)(r1 +0)
exit
""")


def btf_and_func_info(tags=()) -> tuple[bytes, bytes]:
    """`int main(struct __sk_buff *)` at insn 0 and the global `int f(int *p)` at insn 6, p tagged with tags."""
    b = BtfBuilder()
    int_t = b.int()
    main = b.func("main", int_t, [("skb", b.ptr(b.struct("__sk_buff", 4)))])
    f = b.func("f", int_t, [("p", b.ptr(int_t))])
    for tag in tags:
        b.tag(f"arg:{tag}", f, 0)
    return b.data(), struct.pack("<IIII", 0, main, 6, f)


def load(kernel, tags=None, **options):
    if tags is not None:
        data, func_info = btf_and_func_info(tags)
        options.update(btf_fd=kernel.btf_load(data), func_info=func_info)
    return kernel.prog_load(SOCKET, PROGRAM, **options)


def test_without_btf_a_global_function_is_walked_with_the_callers_pointer():
    kernel = VirtualKernel()
    assert kernel.prog_test_run(load(kernel).fd, bytes(64)).retval == 3


def test_with_btf_a_maybe_null_argument_is_refused_in_the_callee():
    kernel = VirtualKernel()
    with pytest.raises(BpfError) as err:
        load(kernel, ())
    assert err.value.errno == errno.EACCES
    assert "Validating f() func#1...\n" in err.value.log and "R1 invalid mem access 'mem_or_null'" in err.value.log


def test_with_btf_a_nonnull_argument_is_verified_alone_and_runs():
    kernel = VirtualKernel()
    loaded = load(kernel, ("nonnull",), log_level=2, log_size=1 << 16)
    assert "Func#1 ('f') is safe for any args that match its prototype" in loaded.log
    assert kernel.prog_test_run(loaded.fd, bytes(64)).retval == 3


def test_btf_arguments_are_checked():
    kernel = VirtualKernel()
    with pytest.raises(BpfError) as err:
        kernel.btf_load(b"\x9f\xeb" + bytes(10))
    assert err.value.errno == errno.EINVAL
    _, func_info = btf_and_func_info()
    with pytest.raises(BpfError) as err:
        kernel.prog_load(SOCKET, PROGRAM, func_info=func_info)
    assert err.value.errno == errno.EINVAL and "btf_fd" in str(err.value)
    map_fd = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 4, 1)
    with pytest.raises(BpfError) as err:
        kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 4, 1, btf_fd=map_fd, btf_value_type_id=1)
    assert err.value.errno == errno.EINVAL
    btf_fd = kernel.btf_load(btf_and_func_info()[0])
    assert kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 4, 1, btf_fd=btf_fd, btf_key_type_id=1,
                             btf_value_type_id=1) > 0

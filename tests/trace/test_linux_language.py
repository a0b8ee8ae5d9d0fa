"""The language on the Linux kernel: integer array fields of tracepoints (`unsigned long args[6]` of
raw_syscalls:sys_enter), `ctx` cast to a declared struct (the virtual kernel's interval probes have no
context to point at)."""

from __future__ import annotations

import os
import tempfile

import pybpf
from pybpf.cli.pybpftrace import main
from support.kernel import needs_kernel

pytestmark = needs_kernel


def test_tracepoint_integer_array_field_is_indexed_and_printed():
    script = ("tracepoint:raw_syscalls:sys_enter /pid == $1 && args.args[1] == 12345/ "
              "{ @x = (args.args[0], args.args[1], args.args[2]); @whole = args.args; @n = count(); }")
    with tempfile.TemporaryFile() as f:
        with pybpf.trace(script, params=[str(os.getpid())], kernel="linux", capture=True) as tracing:
            for _ in range(3):
                os.lseek(f.fileno(), 12345, os.SEEK_SET)
        fd = f.fileno()
    assert f"@x: ({fd}, 12345, 0)\n" in tracing.output
    assert f"@whole: [{fd},12345,0," in tracing.output
    assert "@n: 3\n" in tracing.output


def test_ctx_is_the_context_address_and_casts_to_a_declared_struct(capsys):
    script = ('struct x { unsigned long x; } interval:ms:1 { $p = (struct x *)ctx; '
              'print(($p->x == *(uint64 *)ctx, ctx != 0)); exit(); }')
    assert main(["--kernel", "linux", "--no-cache", "-e", script]) == 0
    assert capsys.readouterr().out.startswith("(true, true)\n")

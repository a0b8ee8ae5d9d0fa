"""printf's %gr: GFP allocation masks as the kernel names them (current bpftrace's util/gfp_flags)."""

import pytest

from pybpf.cli.pybpftrace import main
from pybpf.trace.gfp_flags import gfp_text


@pytest.mark.parametrize("flags, text", [
    (0, "0"), (0x1, "GFP_DMA"), (0xcc0, "GFP_KERNEL"), (0x400cc0, "GFP_KERNEL_ACCOUNT"),
    (0xcc0 | 0x100, "GFP_KERNEL|__GFP_ZERO"), (0x820, "GFP_ATOMIC"), (0x200, "0x200"),
    (0x1 | 1 << 40, "GFP_DMA|0x10000000000")])
def test_gfp_text(flags, text):
    assert gfp_text(flags) == text


def test_printf_gr(capsys):
    """bpftrace's runtime suite, call.printf_gfp_flags."""
    assert main(["--no-cache", "-e", 'begin { printf("GFPFlags: %gr %gr\\n", 0x1, (uint32)0xcc0); exit(); }']) == 0
    assert capsys.readouterr().out.startswith("GFPFlags: GFP_DMA GFP_KERNEL\n")


def test_gr_wants_an_integer(capsys):
    assert main(["--no-cache", "-e", 'begin { printf("%gr\\n", "s"); }']) == 1
    assert "%gr specifier expects a value of type integer (string supplied)" in capsys.readouterr().err

"""String `==`/`!=`: equal up to the first NUL, compiled as an early-exit chain the verifier walks once a byte."""

import pytest

from pybpf.api import verify_object
from pybpf.cli.pybpftrace import main
from pybpf.trace.compiler import compile_script
from support.kernel import assert_linux_loads, needs_kernel

THREE_COMMS = 'begin { if (__builtin_comm == comm() && __builtin_comm == comm && comm == comm()) { print(1); } }'


@pytest.mark.parametrize("left, right, equal", [
    ('"abc"', '"abc"', 1), ('"abc"', '"abd"', 0), ('"ab"', '"abc"', 0), ('"abc"', '"ab"', 0),
    ('""', '""', 1), ('""', '"a"', 0), ('comm', 'comm', 1),
])
def test_strings_compare_to_their_nul(capsys, left, right, equal):
    assert main(["--no-cache", "-e", f'begin {{ printf("%d %d\\n", {left} == {right}, {left} != {right}); exit(); }}']) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"{equal} {1 - equal}"


def test_comparisons_of_comms_verify_in_a_walk_a_byte():
    """Three 16-byte comparisons: a few hundred instructions, where branch-free byte folding blew up 2^n."""
    (result,) = verify_object(compile_script(THREE_COMMS, cache=False).elf, name="comms.o").values()
    assert result.accepted, result.log[-300:]
    assert result.stats.processed < 2_000


@needs_kernel
@pytest.mark.kernel
def test_linux_accepts_comparisons_of_comms():
    assert_linux_loads(THREE_COMMS)

"""Property tests: random and mutated bytecode, and random assembly lines, give a result or a PybpfError.

Bytecode goes through decoding, the three disassembly syntaxes, the reference
interpreter (`api.run`), the verifier (`api.verify`) and the virtual kernel's
prog_load and test_run on each engine; assembly text goes through the
assembler in each syntax.  Mutated programs start from the committed objects'
programs, so most examples get past decoding.  Derandomized, so CI sees the
same cases.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf import api, elf
from pybpf.errors import PybpfError
from pybpf.isa import encode
from pybpf.isa.asm import SYNTAXES
from pybpf.kernel.virtual.kernel import VirtualKernel
from pybpf.uapi import ProgType
from pybpf.vm.engines import ENGINES
from support.objects import OBJECTS

PROGRAMS = [encode(p.insns) for path in OBJECTS for p in elf.load(path).programs]
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SOCKET_FILTER = ProgType.BPF_PROG_TYPE_SOCKET_FILTER


@st.composite
def mutated_program(draw) -> bytes:
    """A committed program with a few bytes changed, or cut short, or random bytes."""
    if draw(st.booleans()) and draw(st.booleans()):
        return draw(st.binary(max_size=64))
    data = bytearray(draw(st.sampled_from(PROGRAMS)))
    if draw(st.booleans()):
        return bytes(data[:draw(st.integers(0, len(data)))])
    for _ in range(draw(st.integers(1, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


def _either(call):
    """The call's result, or None when it raised a PybpfError (anything else fails the test)."""
    try:
        return call()
    except PybpfError:
        return None


@SETTINGS
@given(code=mutated_program())
def test_bytecode_disassembles_runs_and_verifies_or_raises_pybpf_error(code):
    decoded = _either(lambda: api.decode(code))
    for syntax in ("llvm", "kernel", "ubpf"):
        lines = _either(lambda: api.disassemble(code, syntax))
        assert (lines is None) == (decoded is None)
    _either(lambda: api.run(code, bytes(64), max_steps=5000))
    result = _either(lambda: api.verify(code, "socket_filter"))
    assert result is None or result.accepted in (True, False)


@SETTINGS
@given(code=mutated_program(), engine=st.sampled_from(list(ENGINES)))
def test_bytecode_on_each_engine_loads_and_runs_or_raises_pybpf_error(code, engine):
    kernel = VirtualKernel()
    loaded = _either(lambda: kernel.prog_load(SOCKET_FILTER, code, engine=engine))
    if loaded is None:
        assert kernel.get_next_id("prog") is None
        return
    run = _either(lambda: kernel.prog_test_run(loaded.fd, bytes(64)))
    assert run is None or isinstance(run.retval, int)


ASM_ALPHABET = "r0123456789 +-*/%()[]=<>&|^!~,.:;#xabcdeflhsuw_\t\"'"
LINES = sorted({line for code in PROGRAMS for syntax in ("llvm", "kernel", "ubpf")
                for line in api.disassemble(code, syntax, with_pc=False)})


@st.composite
def damaged_line(draw) -> str:
    """A disassembled line with a few characters deleted, inserted or replaced, or random text."""
    if not draw(st.integers(0, 9)):
        return draw(st.text(ASM_ALPHABET, max_size=30))
    chars = list(draw(st.sampled_from(LINES)))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(chars)))
        how = draw(st.sampled_from(("delete", "insert", "replace")))
        if how == "insert" or not chars:
            chars.insert(at, draw(st.sampled_from(ASM_ALPHABET)))
        elif how == "delete":
            del chars[min(at, len(chars) - 1)]
        else:
            chars[min(at, len(chars) - 1)] = draw(st.sampled_from(ASM_ALPHABET))
    return "".join(chars)


@pytest.mark.parametrize("syntax", SYNTAXES)
@settings(max_examples=150, deadline=None, derandomize=True)
@given(line=damaged_line())
def test_assembly_lines_assemble_or_raise_pybpf_error(syntax, line):
    program = _either(lambda: api.assemble(f"{line}\nexit", syntax))
    assert program is None or program[-1].spec.name == "exit"

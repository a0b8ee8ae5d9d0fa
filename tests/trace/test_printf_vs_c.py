"""printf's integer and character conversions against C's printf, compiled by clang on this machine.

Current bpftrace formats with C's printf after casting each value to the type
its conversion and length name; compile_format must give the same bytes for
every combination of flags (`-+ #0`), width, precision and length, including
where Python's % differs (signs on unsigned conversions, `%#o`, `%#x` of 0,
precision 0 of 0, 0-padding with a precision).
"""

import itertools
import shutil
import subprocess

import pytest

from pybpf.trace.format import compile_format

CC = shutil.which("clang-14") or shutil.which("clang") or shutil.which("cc")
pytestmark = pytest.mark.skipif(CC is None, reason="needs a C compiler for C's printf")

C_TYPES = {  # (signed conversion, length) -> the C type bpftrace casts to
    (True, ""): "int", (True, "hh"): "signed char", (True, "h"): "short", (True, "l"): "long",
    (False, ""): "unsigned int", (False, "hh"): "unsigned char", (False, "h"): "unsigned short",
    (False, "l"): "unsigned long",
}
VALUES = [0, 1, 7, 255, 256, -1, -129, 2**31, 2**63 - 1, 12345678901]


def cases():
    for conv, flags, width, precision, length in itertools.product(
            "diuxXo", ["", "-", "+", " ", "#", "0", "-#", "+0", " 0", "#0", "-+ #0"], ["", "6"], ["", ".0", ".3"],
            ["", "hh", "l"]):
        if "#" in flags and conv in "di":
            continue  # undefined in C
        spec = f"%{flags}{width}{precision}{length}{conv}"
        for value in VALUES[::3] if length else VALUES:
            yield spec, value & (2**64 - 1), C_TYPES[(conv in "di", length)]
    for flags, width in itertools.product(["", "-"], ["", "3"]):
        for value in (65, 0x141):
            yield f"%{flags}{width}c", value, "int"


def test_integer_conversions_print_as_cs_printf(tmp_path):
    table = list(cases())
    lines = [f'printf("[{spec}]\\n", ({ctype})(unsigned long long){value}ULL);' for spec, value, ctype in table]
    (tmp_path / "p.c").write_text("#include <stdio.h>\nint main(void) {\n" + "\n".join(lines) + "\nreturn 0;\n}\n")
    subprocess.run([CC, "-w", "-o", str(tmp_path / "p"), str(tmp_path / "p.c")], check=True)
    printed = subprocess.run([str(tmp_path / "p")], capture_output=True, check=True).stdout.decode().splitlines()
    ours = [compile_format(f"[{spec}]")([value]) for spec, value, _ in table]
    differ = [(spec, value, mine, theirs) for (spec, value, _), mine, theirs in zip(table, ours, printed)
              if mine != theirs]
    assert len(printed) == len(table) > 3000
    assert differ == []

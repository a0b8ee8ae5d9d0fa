"""btf_structs on BTF clang writes for known C: each struct converts to the Type a script's own
declaration of it lays out (trace/structs.py), and what a declaration cannot say (anonymous members,
typedefs, enums, pointers to structs named later) converts as C means it."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from pybpf import elf
from pybpf.kernel.core import KernelBtf
from pybpf.trace.btf_structs import BtfStructs
from pybpf.trace.parser import parse
from pybpf.trace.semantic import analyse
from pybpf.trace.source import Source
from pybpf.trace.types import BOOL, Type, array_of, integer, pointer_to, string

CLANG = shutil.which("clang-14") or shutil.which("clang")
pytestmark = pytest.mark.skipif(CLANG is None, reason="needs clang-14 to write the BTF")

DECLARED = """\
struct inner { short a; char tag[3]; };
struct flags { unsigned int a : 3; unsigned int b : 5; int c : 20; unsigned long d; };
struct outer { char c; struct inner in; long long arr[2]; struct outer *next; unsigned char u8; };
union u { int i; char bytes[8]; };
"""
EXTRA = """\
typedef unsigned int u32;
enum colour { RED = 1 };
struct later;
struct anon { u32 id; union { const int x; volatile long y; }; struct { _Bool on; enum colour c; }; struct later *p;
              void *v; int (*fn)(int); };
"""


@pytest.fixture(scope="module")
def structs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("btf")
    uses = "".join(f"{kind} {name} *use_{name};\n" for kind, name in
                   (("struct", "inner"), ("struct", "flags"), ("struct", "outer"), ("union", "u"), ("struct", "anon")))
    (tmp / "s.c").write_text(DECLARED + EXTRA + uses)
    subprocess.run([CLANG, "-g", "-target", "bpf", "-c", str(tmp / "s.c"), "-o", str(tmp / "s.o")], check=True)
    btf = elf.load(tmp / "s.o").btf
    return BtfStructs(lambda: KernelBtf(btf))


def declared(name: str) -> Type:
    """The type pybpftrace lays out for DECLARED's own text of `name`."""
    source = Source(DECLARED + "BEGIN { exit(); }")
    return analyse(source, parse(source)).structs[name]


@pytest.mark.parametrize("name", ["struct inner", "struct flags", "struct outer", "union u"])
def test_a_struct_converts_to_what_its_declaration_lays_out(structs, name):
    assert structs[name] == declared(name)


def test_anonymous_members_typedefs_enums_and_pointers(structs):
    t = structs["struct anon"]
    assert t.names == ("id", "x", "y", "on", "c", "p", "v", "fn")
    assert t.offsets == (0, 8, 8, 16, 20, 24, 32, 40)
    assert t.items[:5] == (integer(4, False), integer(4, True), integer(8, True), BOOL, integer(4, False))
    assert t.items[5] == pointer_to(Type("struct", 0, name="struct later"))  # completed when followed
    assert t.items[6] == t.items[7] == pointer_to(integer(1, False))
    assert (t.size, t.align) == (48, 8)


def test_names_the_btf_lacks_are_not_there(structs):
    assert "struct later" not in structs  # only declared, never defined
    assert "struct nosuch" not in structs and "enum colour" not in structs
    with pytest.raises(KeyError):
        structs["union inner"]
    assert structs.get("struct nosuch") is None


def test_arrays_are_strings_when_of_char(structs):
    assert structs["struct inner"].items[1] == string(3)
    assert structs["union u"].items[1] == string(8)
    assert structs["struct outer"].items[2] == array_of(integer(8, True), 2)


def btf_of(tmp_path, text: str) -> BtfStructs:
    (tmp_path / "k.c").write_text(text)
    subprocess.run([CLANG, "-g", "-target", "bpf", "-c", str(tmp_path / "k.c"), "-o", str(tmp_path / "k.o")],
                   check=True)
    btf = elf.load(tmp_path / "k.o").btf
    return BtfStructs(lambda: KernelBtf(btf))


def test_a_kernel_whose_layout_changed_compiles_afresh(tmp_path, monkeypatch):
    """The compile cache's key has the layouts of the kernel structs a script used: a kernel with another
    task_struct gets its own object, not the one compiled for the last."""
    from pybpf.trace import builtins_types
    from pybpf.trace.compiler import compile_script
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    script = "BEGIN { printf(\"%d\\n\", curtask->pid); exit(); }"
    for pid_at, layout in enumerate(("int pid;", "int other; int pid;")):
        kernel = btf_of(tmp_path, f"struct task_struct {{ {layout} }}; struct task_struct *t;")
        monkeypatch.setattr(builtins_types, "vmlinux_structs", lambda kernel=kernel: kernel)
        compile_script(script, kernel="linux")
        assert len(list((tmp_path / "cache" / "pybpftrace").iterdir())) == pid_at + 1

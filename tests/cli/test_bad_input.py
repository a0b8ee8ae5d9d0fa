"""Bad input on the command line: one `pybpf CMD: error: ...` line naming the place, exit 1, no traceback.

A table of mistakes (files, flags, numbers, scripts) with the words the
message must carry, then a property test feeding damaged objects and
bytecode to `objdump`, `verify` and `run`.  Option values argparse refuses
exit 2 with its own one-line `error:` (after the usage line).
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.cli.main import main
from support.objects import OBJECTS, object_path

MAPS_O = str(object_path("maps"))


@pytest.fixture
def files(tmp_path):
    (tmp_path / "ok.s").write_text("r0 = 1\nexit\n")
    (tmp_path / "ok.bin").write_bytes(bytes.fromhex("b700000001000000" "9500000000000000"))
    (tmp_path / "odd.bin").write_bytes(bytes(12))
    (tmp_path / "short.o").write_bytes(object_path("maps").read_bytes()[:200])
    return tmp_path


# (argv with {d} for the files' folder, exit status, words the error line carries)
MISTAKES = [
    (["objdump", "{d}/missing.o"], 1, "missing.o: No such file or directory"),
    (["objdump", "{d}"], 1, "Is a directory"),
    (["objdump", "-d", "{d}/ok.s"], 1, "ok.s: not an ELF file"),
    (["verify", "--type", "bogus", "{d}/ok.bin"], 1, "unknown program type 'bogus'"),
    (["verify", "{d}/missing"], 1, "missing: No such file or directory"),
    (["verify", "{d}/short.o"], 1, "short.o: malformed ELF object"),
    (["run", "{d}/ok.bin", "zz"], 1, "memory argument is not hex bytes: 'zz'"),
    (["run", "--program", "123"], 1, "--program: odd number of hex digits"),
    (["run", "{d}/odd.bin"], 1, "odd.bin: pc 1: bytecode length 12 is not a multiple of 8"),
    (["run", "--program", "zz"], 1, "--program: not hex text: 'zz'"),
    (["run", "--asm", "{d}/ok.bin"], 1, "ok.bin: not UTF-8 text"),
    (["run", "--elf", "{d}/ok.bin"], 1, "ok.bin: not an ELF file"),
    (["run", "--asm", "{d}/ok.s", "--max-steps", "0"], 2, "argument --max-steps: must be at least 1, not 0"),
    (["run", "--asm", "{d}/ok.s", "--max-steps", "-5"], 2, "argument --max-steps: must be at least 1, not -5"),
    (["run", "--asm", "{d}/ok.s", "--max-steps", "x"], 2, "argument --max-steps: invalid count value: 'x'"),
    (["run", MAPS_O, "--seconds", "nan"], 2, "argument --seconds: must be a number of seconds, 0 or more"),
    (["run", MAPS_O, "--seconds", "-1"], 2, "argument --seconds: must be a number of seconds, 0 or more"),
    (["run", MAPS_O, "--python"], 1, "--python needs a script"),
    (["asm", "{d}/ok.s", "-o", "{d}/no/such/dir/x.bin"], 1, "-o {d}/no/such/dir/x.bin: No such file or directory"),
    (["asm", "{d}/missing.s"], 1, "missing.s: No such file or directory"),
    (["disasm", "--hex", "{d}/ok.bin"], 1, "ok.bin: not hex text"),
    (["btf", "dump", "file", "{d}/ok.bin"], 1, "ok.bin: .BTF: 16 bytes is too short for a BTF header"),
    (["btf", "dump", "file", "{d}/missing"], 1, "missing: No such file or directory"),
    (["btf", "dump", "id", "abc"], 1, "btf id must be a number, got 'abc'"),
    (["btf", "dump", "id", "\u00b2"], 1, "btf id must be a number, got '\u00b2'"),  # isdigit(), not int()
    (["map", "dump", "id", "\u00b2"], 1, "expected `id MAP_ID` (a number), got '\u00b2'"),
    (["prog", "show", "id", "\u00b2"], 1, "expected `id PROG_ID` (a number), got '\u00b2'"),
]


@pytest.mark.parametrize("argv,status,words", MISTAKES, ids=[" ".join(m[0][:2]) + f" #{i}"
                                                              for i, m in enumerate(MISTAKES)])
def test_a_mistake_is_one_error_line(files, capsys, argv, status, words):
    argv = [a.format(d=files) for a in argv]
    if status == 2:
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
    else:
        assert main(argv) == 1
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"pybpf {argv[0]}: error: ") and words.format(d=files) in last
    assert "Traceback" not in err


GOODS = [p.read_bytes() for p in OBJECTS]


@st.composite
def damaged_file(draw) -> bytes:
    """A committed object or one of its first bytes, with a few bytes changed."""
    data = bytearray(draw(st.sampled_from(GOODS)))
    if draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data) - 1))]
    for _ in range(draw(st.integers(0, 4)) if data else 0):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(data=damaged_file(), command=st.sampled_from((["objdump"], ["objdump", "-d", "-r"], ["objdump", "--btf"],
                                                     ["verify"], ["run", "--seconds", "0"], ["disasm", "--raw"])))
def test_damaged_files_give_output_or_one_error_line(tmp_path_factory, capsys, data, command):
    path = tmp_path_factory.mktemp("cli") / "damaged.o"
    path.write_bytes(data)
    status = main([*command, str(path)])
    err = capsys.readouterr().err
    assert status in (0, 1) and "Traceback" not in err
    if status and command[0] != "verify":  # verify's 1 may be a rejection, with the verifier's log
        assert err.strip().splitlines()[-1].startswith(f"pybpf {command[0]}: error: ")


def test_api_names_a_missing_or_damaged_btf_file(tmp_path):
    from pybpf import api
    from pybpf.errors import PybpfError

    with pytest.raises(PybpfError, match=f"^{tmp_path}/missing: No such file or directory$"):
        api.btf_dump(str(tmp_path / "missing"))
    (tmp_path / "short.btf").write_bytes(bytes.fromhex("9feb0100"))
    with pytest.raises(PybpfError, match=f"^{tmp_path}/short.btf: .BTF: 4 bytes is too short"):
        api.btf_dump(str(tmp_path / "short.btf"))


@pytest.mark.parametrize("call", ["assemble", "disassemble"])
def test_an_unknown_syntax_is_a_pybpf_error(call):
    from pybpf import api
    from pybpf.errors import PybpfError

    with pytest.raises(PybpfError, match="unknown syntax 'intel'; choose one of"):
        api.assemble("exit", "intel") if call == "assemble" else api.disassemble(b"", "intel")


def test_an_unknown_program_type_is_a_pybpf_error():
    from pybpf import api
    from pybpf.errors import PybpfError

    with pytest.raises(PybpfError, match="unknown program type 'bogus'"):
        api.verify(bytes.fromhex("9500000000000000"), "bogus")
    with pytest.raises(PybpfError, match="unknown program type 9999"):  # Linux: EINVAL, not a verdict
        api.verify(bytes.fromhex("9500000000000000"), 9999)


def test_a_step_limit_below_one_is_a_pybpf_error():
    from pybpf import api
    from pybpf.errors import PybpfError

    with pytest.raises(PybpfError, match="max_steps must be at least 1, not 0"):
        api.run(bytes.fromhex("b700000001000000" "9500000000000000"), max_steps=0)


@pytest.mark.parametrize("target,form", [("usdt:foo", "usdt:PROVIDER:NAME"), ("pyfunc:json", "pyfunc:MODULE:FUNCTION"),
                                         ("pyfunc.return:json:", "pyfunc.return:MODULE:FUNCTION"),
                                         ("audit:", "audit:EVENT")])
def test_an_attach_target_missing_a_field_is_einval_naming_it(target, form):
    import errno

    from pybpf.isa.asm import assemble
    from pybpf.kernel.errors import BpfError
    from pybpf.kernel.virtual import VirtualKernel
    from pybpf.uapi import ProgType

    kernel = VirtualKernel()
    fd = kernel.prog_load(ProgType.BPF_PROG_TYPE_KPROBE, assemble("r0 = 0\nexit")).fd
    with pytest.raises(BpfError) as err:
        kernel.link_create(fd, target)
    assert err.value.errno == errno.EINVAL and f"attach target {target!r} is not {form}" in str(err.value)


@pytest.mark.parametrize("script,status,stderr_end", [
    ("def (:\n", 1, "SyntaxError: invalid syntax"),
    ("def f():\n    raise RuntimeError('mine')\nf()\n", 1, "RuntimeError: mine"),
    ("import sys\nsys.exit(3)\n", 3, "Attached 0 programs"),
    ("import sys\nsys.exit('bye')\n", 1, "bye"),
])
def test_a_python_script_ends_as_python_would(tmp_path, capsys, script, status, stderr_end):
    """run FILE.o --python SCRIPT: the script's own failure is printed as python prints it (its frames only,
    no thread machinery) and sets the exit status; the object's maps are still printed."""
    path = tmp_path / "script.py"
    path.write_text(script)
    assert main(["run", MAPS_O, "--python", str(path)]) == status
    out, err = capsys.readouterr()
    assert err.rstrip().endswith(stderr_end) and "threading.py" not in err and "runpy" not in err
    assert "map .bss" in out
    if "Traceback" in err:
        assert err.split("Traceback (most recent call last):\n")[1].startswith(f'  File "{path}", line 3')


def test_a_folder_without_main_is_refused(tmp_path, capsys):
    assert main(["run", MAPS_O, "--python", str(tmp_path)]) == 1
    assert f"error: can't find '__main__' module in '{tmp_path}'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["run", "-"], ["run"], ["disasm", "--raw", "-"]])
def test_standard_input_is_named_stdin(monkeypatch, capsys, argv):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\x95\x00\x00")))
    assert main(argv) == 1
    assert capsys.readouterr().err == (f"pybpf {argv[0]}: error: <stdin>: pc 0: bytecode length 3 "
                                       "is not a multiple of 8\n")


def test_a_program_that_cannot_attach_is_named(tmp_path, capsys):
    """pyprobe.o with its uprobe's module renamed to one that does not exist: the link is refused and the
    error names the object, program and section (it named none of them)."""
    data = object_path("pyprobe").read_bytes()
    assert b"uprobe/support.testapp" in data
    path = tmp_path / "pyprobe.o"
    path.write_bytes(data.replace(b"uprobe/support.testapp", b"uprobe/nosuchm.testapp"))
    assert main(["run", str(path), "--seconds", "0"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"pybpf run: error: BPF_LINK_CREATE: ENOENT (No such file or directory): {path}: "
                          "program 'on_add' (uprobe/nosuchm.testapp:add): cannot import module 'nosuchm.testapp'")

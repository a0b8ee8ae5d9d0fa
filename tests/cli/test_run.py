"""`pybpf run`: where the program comes from, and the bpf_conformance plugin protocol."""

import subprocess
import sys

import pytest

from pybpf.cli.main import main
from support.conformance_data import parse
from support.paths import CORPUS, DATA

PROGRAM = "r0 = *(u16 *)(r1 + 0)\nr0 += r2\nexit\n"
BYTECODE = bytes.fromhex("69 10 00 00 00 00 00 00 0f 20 00 00 00 00 00 00 95 00 00 00 00 00 00 00")


def _plugin(stdin: str, *argv: str):
    return subprocess.run([sys.executable, "-m", "pybpf", "run", *argv], input=stdin,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name,content", [("p.bin", BYTECODE), ("p.hex", BYTECODE.hex(" ").encode())])
def test_a_bytecode_file_then_memory(tmp_path, capsys, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    assert main(["run", str(path), "0102"]) == 0
    assert capsys.readouterr().out == "203\n"


def test_asm_file_with_syntax(tmp_path, capsys):
    src = tmp_path / "p.s"
    src.write_text("ldxh %r0, [%r1]\nadd %r0, %r2\nexit\n")
    assert main(["run", "--asm", "--syntax", "ubpf", "--steps", str(src), "0102"]) == 0
    assert capsys.readouterr().out == "203\nsteps 3\n"


def test_a_lone_hex_argument_is_the_memory(capsys, tmp_path):
    src = tmp_path / "p.s"
    src.write_text(PROGRAM)
    assert main(["run", "--asm", "-f", str(src), "0102"]) == 0
    assert capsys.readouterr().out == "203\n"


def test_program_option_as_the_plugin_takes_it(capsys):
    assert main(["run", "--program", BYTECODE.hex(), "0102"]) == 0
    assert capsys.readouterr().out == "203\n"


@pytest.mark.parametrize("argv,message", [
    (["run", "missing.bin", "00"], "missing.bin: No such file or directory"),
    (["run", "--program", "95", "zz"], "memory argument is not hex bytes: 'zz'"),
    (["run", "--program", "9500000000000000"], "pc 0: R0 !read_ok"),
    (["run", "--program", "b700000000000000", "--max-steps", "5"], "falls through past the end"),
])
def test_errors_are_one_line(argv, message, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_instruction_limit_option(capsys):
    loop = "b7 00 00 00 00 00 00 00 07 00 00 00 01 00 00 00 05 00 fe ff 00 00 00 00"
    assert main(["run", "--program", loop, "--max-steps", "50"]) == 1
    assert "instruction limit of 50 reached" in capsys.readouterr().err


def test_trace_printk_goes_to_stderr(tmp_path):
    src = tmp_path / "p.s"
    src.write_text("r1 = 0x000a216968 ll\n*(u64 *)(r10 - 8) = r1\nr1 = r10\nr1 += -8\nr2 = 5\ncall 6\nexit\n")
    done = subprocess.run([sys.executable, "-m", "pybpf", "run", "--asm", str(src)],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "5\n", "hi!\n")


def test_elf_object_in_hex_on_stdin():
    done = _plugin((DATA / "elf" / "map_attrs.o").read_bytes().hex(), "--elf")
    assert (done.returncode, done.stdout, done.stderr) == (0, "1\n", "")


@pytest.mark.skipif(not (CORPUS / "bpf_conformance").is_dir(), reason="bpf_conformance corpus not found")
@pytest.mark.parametrize("name", ["callx", "lock_cmpxchg", "mem-len", "ldxh-same-reg", "rfc9669_lock_cmpxchg32"])
def test_as_a_bpf_conformance_plugin(name):
    path = CORPUS / "bpf_conformance" / "tests" / f"{name}.data"
    if not path.exists():
        pytest.skip(f"{path.name} not in the corpus")
    test = parse(path)
    program = b"".join(i.encode() for i in test.program()).hex(" ")
    done = _plugin(program + "\n", *([test.memory.hex(" ")] if test.memory else []))
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("\n") and int(done.stdout, 16) == test.result


@pytest.mark.skipif(not (CORPUS / "bpf_conformance").is_dir(), reason="bpf_conformance corpus not found")
def test_a_negative_file_fails_the_plugin():
    test = parse(CORPUS / "bpf_conformance" / "negative" / "error.data")
    done = _plugin(b"".join(i.encode() for i in test.program()).hex(" "))
    assert done.returncode == 1 and done.stdout == "" and "R0 !read_ok" in done.stderr

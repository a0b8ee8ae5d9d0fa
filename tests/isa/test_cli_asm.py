"""`pybpf asm`: text in, bytecode out (raw or hex), errors with file:line:col and a caret."""

import io
import sys

import pytest

from pybpf.cli.main import main

HEX = "b7 00 00 00 07 00 00 00\n0f 20 00 00 00 00 00 00\n95 00 00 00 00 00 00 00\n"
RAW = bytes.fromhex(HEX.replace("\n", " "))


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "p.s"
    path.write_text("r0 = 7\nr0 += r2\nexit\n")
    return path


def test_hex_on_standard_output(source, capsys):
    assert main(["asm", str(source)]) == 0
    assert capsys.readouterr().out == HEX


def test_raw_bytecode_to_a_file(source, tmp_path):
    out = tmp_path / "p.bin"
    assert main(["asm", str(source), "-o", str(out)]) == 0
    assert out.read_bytes() == RAW


def test_hex_to_a_file(source, tmp_path):
    out = tmp_path / "p.hex"
    assert main(["asm", str(source), "-o", str(out), "--hex"]) == 0
    assert out.read_text() == HEX


def test_raw_bytecode_to_standard_output(source, capfdbinary):
    assert main(["asm", str(source), "-o", "-"]) == 0
    assert capfdbinary.readouterr().out == RAW


@pytest.mark.parametrize("syntax,text", [
    ("ubpf", "mov %r0, 7\nadd %r0, %r2\nexit\n"),
    ("kernel", "0: (b7) r0 = 7\n1: (0f) r0 += r2\n2: (95) exit\n"),
    ("llvm", "r0 = 7\nr0 += r2\nexit\n"),
    ("auto", "mov %r0, 7\nadd %r0, %r2\nexit\n"),
])
def test_each_syntax_from_standard_input(syntax, text, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    assert main(["asm", "-", "--syntax", syntax]) == 0
    assert capsys.readouterr().out == HEX


def test_helper_names_are_known(tmp_path, capsys):
    path = tmp_path / "p.s"
    path.write_text("call bpf_trace_printk\nexit\n")
    assert main(["asm", str(path)]) == 0
    assert capsys.readouterr().out.startswith("85 00 00 00 06 00 00 00\n")


def test_error_shows_file_line_column_and_caret(tmp_path, capsys):
    path = tmp_path / "bad.s"
    path.write_text("r0 = 1\nr0 += r12\nexit\n")
    assert main(["asm", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"{path}:2:7: invalid register 'r12'\nr0 += r12\n      ^\n"


def test_missing_file(capsys):
    assert main(["asm", "/nonexistent.s"]) == 1
    assert capsys.readouterr().err == "pybpf asm: error: /nonexistent.s: No such file or directory\n"

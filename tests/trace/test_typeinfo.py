"""typeinfo(): current bpftrace's record of a type, behind its unstable-feature switch."""

import pytest

from pybpf.cli.pybpftrace import main

ENABLE = "config = { unstable_typeinfo = enable } "

OUTPUT = {
    "an integer literal's": ("begin { print(typeinfo(1)); exit(); }",
                             "{ .btf_id = 0, .base_type = int, .full_type = int8 }"),
    "a variable's": ('begin { $s = "abc"; print(typeinfo($s)); exit(); }',
                     "{ .btf_id = 0, .base_type = string, .full_type = string[4] }"),
    "a map's value": ("begin { @m = (uint32)1; print(typeinfo(@m)); clear(@m); exit(); }",
                      "{ .btf_id = 0, .base_type = int, .full_type = uint32 }"),
    "a type's": ("struct Foo { int a; } begin { print((typeinfo(uint8*).full_type, typeinfo(struct Foo).base_type, "
                 "typeinfo((1, \"a\")).full_type)); exit(); }", "(uint8 *, c_type, (int8,string[2]))"),
    "compared as the stdlib's is_str does": (
        'begin { $x = "s"; if (typeinfo($x).base_type == "string") { print("a string"); } exit(); }', "a string"),
    "not evaluated": ("begin { $t = typeinfo({ print(1); 2 }); print($t.full_type); exit(); }", "int8"),
}


@pytest.mark.parametrize("name", OUTPUT)
def test_output(name, capsys):
    script, expected = OUTPUT[name]
    assert main(["--no-cache", "-e", ENABLE + script]) == 0
    assert capsys.readouterr().out.rstrip("\n") == expected


def test_unstable_by_default(capsys):
    script = "begin { print(typeinfo(1)); }"
    assert main(["--no-cache", "-e", script]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "stdin:1:15-26: ERROR: typeinfo feature is not enabled by default. To enable this unstable feature, set "
        "the config flag to enable. unstable_typeinfo=enable", script, " " * 14 + "~" * 11]


def test_warn_setting_warns_and_runs(capsys):
    assert main(["--no-cache", "-e", "config = { unstable_typeinfo = warn } begin { print(typeinfo(1).base_type); "
                 "exit(); }"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("int\n")
    assert "WARNING: Script is using an unstable feature: typeinfo." in captured.err

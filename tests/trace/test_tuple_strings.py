"""Strings in tuples: variables, map values and map keys keep the widest string assigned, element by element."""

from pybpf.cli.pybpftrace import main


def run(capsys, script: str) -> list[str]:
    assert main(["--no-cache", "-e", script]) == 0
    return capsys.readouterr().out.splitlines()


def test_a_variable_grows_with_a_longer_string_in_a_tuple(capsys):
    lines = run(capsys, 'BEGIN { $a = ("hi", (1, "x")); print($a); $a = ("hellolongstr", (2, "yyyyyyyyy")); '
                        'print($a); $a = ("by", (3, "z")); print($a); exit(); }')
    assert lines[:3] == ["(hi, (1, x))", "(hellolongstr, (2, yyyyyyyyy))", "(by, (3, z))"]


def test_map_values_and_keys_grow_too(capsys):
    lines = run(capsys, 'BEGIN { @v[1] = ("hi", ("hellolongstr", 2)); @v[1] = ("hellolongstr", ("hi", 5)); '
                        '@k["hi", ("hellolongstr", 2)] = 1; @k["hellolongstr", ("hi", 5)] = 2; exit(); }')
    assert "@v[1]: (hellolongstr, (hi, 5))" in lines
    assert "@k[hi, (hellolongstr, 2)]: 1" in lines and "@k[hellolongstr, (hi, 5)]: 2" in lines


def test_a_tuple_names_the_element_of_a_map_with_several_keys(capsys):
    lines = run(capsys, "BEGIN { @a[(int16)-1, ((int32)-2, 3)] = 10; $c = ((int8)-4, ((int16)-5, -6)); @a[$c] = 12; "
                        "@a[(int16)-1, ((int32)-2, 3)] += 1; exit(); }")
    assert "@a[-4, (-5, -6)]: 12" in lines and "@a[-1, (-2, 3)]: 11" in lines


def test_tuples_of_other_shapes_do_not_mix(capsys):
    assert main(["--no-cache", "-e", 'BEGIN { $a = (1, "x"); $a = (1, "x", 2); }']) == 1
    assert "Type mismatch for $a" in capsys.readouterr().err

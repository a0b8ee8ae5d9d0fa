"""Integer literals typed by their value, as current bpftrace types them (ast/integer_types.cpp).

`3` is an int8 that takes the sign of what it meets, `1000` an int16, `-1` an int8, past INT64_MAX a
uint64.  The types show in sizeof, tuple layouts, messages and typeof; arithmetic is still 64-bit.
"""

import pytest

from pybpf.cli.pybpftrace import main
from pybpf.trace.types import INT64, UINT64, arithmetic_result, integer, literal, promoted

OUTPUT = {
    "sizeof a literal is its value's size": (
        "begin { print((sizeof(1), sizeof(-1), sizeof(127), sizeof(128), sizeof(-129), sizeof(100000), "
        "sizeof(0x100000000))); exit(); }", "(1, 1, 1, 2, 2, 4, 8)"),
    "a variable has its literal's type": ("begin { $x = 1; print(sizeof($x)); exit(); }", "1"),
    "a variable widens to hold every value assigned": (
        "begin { $x = 1; $x = 1000; print(sizeof($x)); $y = 1; $y = (uint32)5; print(sizeof($y)); exit(); }",
        "2\n4"),
    "a range's variable has its bounds' type": (
        "begin { for ($i : 0..2) { print(sizeof($i)); } for ($j : 126..(int16)128) { print(($j, sizeof($j))); } "
        "exit(); }", "1\n1\n(126, 2)\n(127, 2)"),
    "++ makes a counter 64-bit": ("begin { $i = 0; while ($i < 300) { $i++; } print(($i, sizeof($i))); exit(); }",
                                  "(300, 8)"),
    "a tuple of literals lays out as C (runtime suite: complex tuple 4)": (
        'begin { $a = ((int8)-100, (int8) 100, "abcdef", 3, (int32) 1, (int64)-10, (int8)10, (int16)-555, "abc"); '
        'print(sizeof($a)); print($a); exit(); }', "32\n(-100, 100, abcdef, 3, 1, -10, 10, -555, abc)"),
    "arithmetic on literals is 64-bit": (
        "begin { $x = 100; print(($x * 100000000, 127 + 1, -128 - 1, 0x7fffffff * 4)); exit(); }",
        "(10000000000, 128, -129, 8589934588)"),
    "a narrow variable takes wider values it is assigned": (
        "begin { $x = 1; $x = $x + 1000; print($x); @m = 1; @m = 70000; exit(); }", "1001\n\n\n@m: 70000"),
    "printf %d and %u of literals": ('begin { printf("%d %u %d\\n", -1, 255, 18446744073709551615); exit(); }',
                                     "-1 255 -1"),
    "a pointer cast zero-extends a narrow operand (macro: nested casts)": (
        "macro cst(a) { (a*)-1 } begin { print(cst(typeof(uint8))); print((uint8 *)(int64)-1); exit(); }",
        "0xff\n0xffffffffffffffff"),
    "a negative literal compares with an unsigned value as signed": (
        "begin { print((-1 < (uint32)5, (uint64)7 > 1, (uint64)0 - 1)); exit(); }", "(true, true, -1)"),
    "map keys and values keep their literal types": (
        "begin { @[1] = 2; @[1000] = 300; print((typeof(@[1]))1000); exit(); }", "1000\n\n\n@[1]: 2\n@[1000]: 300"),
    "- and ~ of a variable are 64-bit with its sign": (
        "begin { $x = (uint8)5; $y = 5; print((-$x, -$y, ~$y, sizeof(-$y), sizeof(~(uint8)1))); exit(); }",
        "(18446744073709551611, -5, -6, 8, 8)"),
    "a cast to a literal's type truncates": ("begin { $x = 1; print((typeof($x))300); exit(); }", "44"),
    "a typed variable keeps what fits its type": (
        "begin { let $b: uint8 = 255; $c = 1000; $b = $c; let $s: int8 = -100; $s = (int16)-200; $b++; "
        "print(($b, $s, sizeof($b))); exit(); }", "(233, 56, 1)"),
}


@pytest.mark.parametrize("name", OUTPUT)
def test_output(name, capsys):
    script, expected = OUTPUT[name]
    assert main(["--no-cache", "-e", script]) == 0
    assert capsys.readouterr().out.rstrip("\n") == expected


ERRORS = {
    # runtime suite: has_key error type mismatch
    'begin { @g[1, "hi"] = 2; if (has_key(@g, (1, 2))) { printf("ok\\n"); } }': '''\
stdin:1:38-48: ERROR: Argument mismatch for @g: trying to access with arguments: '(int8,int8)' when map expects \
arguments: '(int8,string[3])'
begin { @g[1, "hi"] = 2; if (has_key(@g, (1, 2))) { printf("ok\\n"); } }
                                     ~~~~~~~~~~''',
    'begin { @x[1] = 0; @x["ab"] = 1; }': '''\
stdin:1:20-28: ERROR: Argument mismatch for @x: trying to access with arguments: 'string[3]' when map expects \
arguments: 'int8'
begin { @x[1] = 0; @x["ab"] = 1; }
                   ~~~~~~~~''',
    'begin { @x[1] = 0; @x = 1; }': '''\
stdin:1:20-22: ERROR: @x used as a map without an explicit key (scalar map), previously used with an explicit key \
(non-scalar map)
begin { @x[1] = 0; @x = 1; }
                   ~~''',
    # bpftrace's CastCreator: a literal that does not fit a typed variable is an error (any other value is cast)
    'begin { let $a: uint8 = 300; }': '''\
stdin:1:9-28: ERROR: Type mismatch for $a: trying to assign value of type 'int16' when variable already has a \
type 'uint8'
begin { let $a: uint8 = 300; }
        ~~~~~~~~~~~~~~~~~~~''',
    'begin { let $a: uint16; $a = -1; }': '''\
stdin:1:25-32: ERROR: Type mismatch for $a: trying to assign value of type 'int8' when variable already has a \
type 'uint16'
begin { let $a: uint16; $a = -1; }
                        ~~~~~~~''',
    'begin { $x = -1; $x = "s"; }': '''\
stdin:1:18-26: ERROR: Type mismatch for $x: trying to assign value of type 'string[2]' when variable already has \
a type 'int8'
begin { $x = -1; $x = "s"; }
                 ~~~~~~~~''',
}


@pytest.mark.parametrize("script", ERRORS)
def test_error(script, capsys):
    assert main(["--no-cache", "-e", script]) == 1
    assert capsys.readouterr().err.rstrip("\n") == ERRORS[script]


@pytest.mark.parametrize("value, expected", [
    (0, integer(1)), (127, integer(1)), (128, integer(2)), (-128, integer(1)), (-129, integer(2)),
    (32768, integer(4)), (1 << 31, INT64), ((1 << 63) - 1, INT64), (1 << 63, UINT64), (-(1 << 63), INT64)])
def test_literal_type(value, expected):
    t = literal(value)
    assert t == expected
    assert t.flexible == (0 <= value < 1 << 63)


def test_promotion_follows_bpftrace():
    flexible8 = literal(1)
    assert promoted(flexible8, integer(4, False)) == integer(4, False)  # takes the other's sign
    assert promoted(literal(-1), integer(4, False)) == INT64  # int8 vs uint32: a signed type holding both
    assert promoted(integer(4, True), integer(2, False)) == integer(4, True)
    assert promoted(integer(2, False), integer(2, True)) == integer(4, True)
    assert promoted(flexible8, literal(1000)).flexible


def test_arithmetic_is_64_bit():
    assert arithmetic_result("+", literal(1), integer(4, False)) == UINT64
    assert arithmetic_result("+", literal(1), literal(2)) == INT64
    assert arithmetic_result("-", integer(8, False), literal(1)) == INT64  # bpftrace: `-` is signed
    assert arithmetic_result("*", integer(8, False), integer(1, True)) == INT64


def test_a_value_that_may_not_fit_a_typed_variable_warns(capsys):
    assert main(["--no-cache", "-e", "begin { let $b: uint8 = 1; $c = 1000; $b = $c; exit(); }"]) == 0
    assert ("stdin:1:44-46: WARNING: Expression of type: int16 being cast to type: uint8. This may cause unexpected "
            "results. Use an explicit cast to suppress this warning.") in capsys.readouterr().err

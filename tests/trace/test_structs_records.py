"""Struct declarations, records, integer arrays, typeof, offsetof, C-layout sizeof, string indexing and
if expressions: output and diagnostics.

Struct values come from memory the script owns (a variable's bytes through
`*(struct Foo *)&$v`), so every case runs in BEGIN on the virtual kernel.
The expected text is bpftrace's (tests/runtime/{struct,record,array,tuples}).
"""

import pytest

from pybpf.cli.pybpftrace import main

OUTPUT = {
    # records
    "record fields": ('begin { $v = 99; $t = (a=0, b=1, c="str", d=(5, 6), e=$v); '
                      'printf("%d %d %s %d %d %d\\n", $t.a, $t.b, $t.c, $t.d.0, $t.d.1, $t.e); exit(); }',
                      "0 1 str 5 6 99\n"),
    "record printing": ('begin { $v = (x=1, y=2); $t = (a=0, b=1, c="str", d=(5, 6), e=$v); print($t); exit(); }',
                        "{ .a = 0, .b = 1, .c = str, .d = (5, 6), .e = { .x = 1, .y = 2 } }\n"),
    "record keeps its first field order": ('begin { $a = (foo={ printf("hello"); 1 }, bar={ printf("world"); 2 }); '
                                           '$a = (bar={ printf("hello"); 1 }, foo={ printf("world\\n"); 2 }); '
                                           'print($a); exit(); }',
                                           "helloworldhelloworld\n{ .foo = 2, .bar = 1 }\n"),
    "record as map key and value": ('begin { $r = (a=1, b="x"); @m[1] = $r; @n[$r] = 2; exit(); }',
                                    "\n\n@m[1]: { .a = 1, .b = x }\n@n[{ .a = 1, .b = x }]: 2\n"),
    "record string field widens": ('begin { $r = (a="hi", b=1); $r = (b=2, a="hello there"); print($r.a); exit(); }',
                                   "hello there\n"),
    # structs
    "struct value in maps, keys and tuples": (
        'struct Foo { int m; int n; } begin { $v = (uint64)0x300000002; @s = *(struct Foo *)&$v; '
        '@k[*(struct Foo *)&$v, 42] = 0; @t = (1, *(struct Foo *)&$v); exit(); }',
        "\n\n@k[{ .m = 2, .n = 3 }, 42]: 0\n@s: { .m = 2, .n = 3 }\n@t: (1, { .m = 2, .n = 3 })\n"),
    "field order is the declaration's": (
        'struct Foo { int n; int m; } begin { $v = (uint64)0x300000002; print(*(struct Foo *)&$v); exit(); }',
        "{ .n = 2, .m = 3 }\n"),
    "fields through a pointer": (
        'struct Foo { int m; int n; } begin { $v = (uint64)0x300000002; $p = (struct Foo *)&$v; '
        'print(($p->m, $p->n, $p.n, (*$p).m)); exit(); }', "(2, 3, 3, 2)\n"),
    "nested anonymous structs and arrays": (
        'struct Foo { struct { int m[1] } y; struct { int n } a; } begin { $v = (uint64)0x300000002; '
        '@s = *((struct Foo *)&$v); print(@s.y.m[0]); exit(); }',
        "2\n\n\n@s: { .y = { .m = [2] }, .a = { .n = 3 } }\n"),
    "char arrays are strings, pointers to structs followed": (
        'struct Bar { int x; } struct Foo { char name[8]; struct Bar *next; int32_t arr[2]; } '
        'begin { $b = (uint64)77; $v = ("hello", (uint64)&$b, (uint64)0x0000000500000004); $f = (struct Foo *)&$v; '
        'printf("%s %d %d %d\\n", $f->name, $f->next->x, $f->arr[1], $f->arr[0]); exit(); }', "hello 77 5 4\n"),
    "bitfields": ('struct foo { unsigned long long x_0:1; unsigned long long x_1:1; unsigned long long x_2:2; } '
                  'begin { $val = (uint64)0x1e; $f = *(struct foo *)(&$val); print($f); print($f.x_2); exit(); }',
                  "{ .x_0 = 0, .x_1 = 1, .x_2 = 3 }\n3\n"),
    "bitfield through a pointer": ('struct foo { unsigned int a:4; unsigned int b:8; } begin { $val = (uint64)0xabc; '
                                   'print(((struct foo *)&$val)->b); exit(); }', "171\n"),
    "sizeof with C layout and packing": (
        'struct foo { int x; char y; int z; } struct bar { int x; char y; int z; } __attribute__((packed)) '
        'union u { char c; long l; } struct s { char c; short h; long long q; char t[3]; } '
        'begin { print((sizeof(struct foo), sizeof(struct bar), sizeof(union u), sizeof(struct s))); exit(); }',
        "(12, 9, 8, 24)\n"),
    "struct pointer arithmetic steps by the struct": (
        'struct A {int32_t a; int32_t b; char c[28] }; begin { $a=(struct A*) 1024; '
        'printf("%lu - 5 x %lu = %lu\\n", $a, sizeof(struct A), $a-5); exit(); }', "1024 - 5 x 36 = 844\n"),
    # sizeof of tuples: C layout
    "sizeof of tuples": ('begin { print((sizeof(((int8)1, (int16)1, (int32)1)), sizeof(((int32)1, (int16)1, (int8)1)),'
                         ' sizeof(((int8)1, (int64)1, (int8)1, (int64)1)), sizeof(("ab", (int16)1)))); exit(); }',
                         "(8, 8, 32, 6)\n"),
    # arrays
    "string cast to an int array": ('begin { print((int8[])"hello"); exit(); }', "[104,101,108,108,111,0]\n"),
    "array indexing, map keys and comparison": (
        'begin { $a = (int32[2])(uint64)0x500000004; print($a); print($a[1]); $i = 1; print($a[$i]); '
        '@[$a] = $a; $b = (int32[2])(uint64)0x600000004; print(($a == $a, $a == $b, $a != $b)); exit(); }',
        "[4,5]\n5\n5\n(true, false, true)\n\n\n@[[4,5]]: [4,5]\n"),
    "pointer indexing": ('begin { $v = (uint64)0x0004000300020001; $p = (int16 *)&$v; print(($p[0], $p[3])); exit(); }',
                         "(1, 4)\n"),
    "string indexing": ('begin { $a = "foo"; $i = (uint64)1; $j = (uint64)10; printf("%c %c %c %d\\n", $a[0], '
                        '$a[2], $a[$i], $a[$j]); exit(); }', "f o o 0\n"),
    # if expressions (a block's last if/else is its value)
    "if expressions": ('begin { let $x = 1; let $y = 2; print(if ($x) { if ($y) { $x } else { $y } } else { 0 }); '
                       '$s = if ($x > 5) { "big" } else if ($x > 0) { "small" } else { "none" }; print($s); '
                       'print({ if ($x == 2) { 5 } else if ($y == 2) { 6 } else { 7 } }); exit(); }',
                       "1\nsmall\n6\n"),
    # typeof
    "typeof in declarations and casts": (
        'begin { $x = (uint8)1; let $y: typeof($x) = 2; $z = (typeof($x))300; '
        'print(($y, $z, sizeof(typeof($x)), sizeof(typeof(uint16)), sizeof($x))); @m = "abc"; '
        'let $s: typeof(@m); $s = "x"; print($s); exit(); }', "(2, 44, 1, 2, 1)\nx\n\n\n@m: abc\n"),
    "offsetof": ('struct Foo { char c; int x; struct Bar { char y; long z; } bar; } begin { print((offsetof(struct Foo, '
                 'x), offsetof(typeof(struct Foo), bar.z), offsetof((a=1, b=2), b))); exit(); }', "(4, 16, 8)\n"),
    "an enum mixed with integers in a map is an integer": (
        'enum { ONE = 1, TWO = 2 }; begin { @[ONE+1] = TWO+1; @[ONE] = ONE; exit(); }', "\n\n@[1]: 1\n@[2]: 3\n"),
    "curtask is a struct task_struct pointer": (
        'interval:ms:1 { print((curtask->tgid == pid, curtask->pid == tid)); exit(); }',
        "(true, true)\n"),
    "curtask fields of the script's task_struct": (
        'struct task_struct { int x; } begin { let $f: struct task_struct *; $f = curtask; print($f.x == tid); '
        'exit(); }', "true\n"),
    "print of an unset record map is its zero value": (
        'begin { print(@); } end { @ = (a=1, b=(2, "hi")) } interval:ms:1 { exit(); }',
        "@: { .a = 0, .b = (0, ) }\n\n\n\n@: { .a = 1, .b = (2, hi) }\n"),
    "typeof a keyed map is its value type": ('begin { @a["hi", 2] = 1; let $x: typeof(@a) = 5; print($x); '
                                            'clear(@a); exit(); }', "5\n"),
    "macro parameters as types": ('struct Foo { char m; } macro sof(a, b) { sizeof(a[2]) + sizeof(b*) + sizeof(b) } '
                                  'macro m(t) { sizeof(t) + 2 } macro n(z) { m(typeof(z)) } '
                                  'begin { print((sof(typeof(uint64*), typeof(struct Foo)), n(typeof(uint64*)))); '
                                  'exit(); }', "(25, 10)\n"),
    "typeof a struct": ('struct Foo { int a; char b; } begin { print(sizeof(typeof(struct Foo))); exit(); }', "8\n"),
}


@pytest.mark.parametrize("name", OUTPUT)
def test_output(name, capsys):
    script, expected = OUTPUT[name]
    assert main(["--no-cache", "-e", script]) == 0
    assert capsys.readouterr().out.rstrip("\n") == expected.rstrip("\n")


ERRORS = {
    'begin { $r = (a=1, b="x"); print($r.c); }': '''\
stdin:1:34-38: ERROR: Record does not contain a field named 'c'
begin { $r = (a=1, b="x"); print($r.c); }
                                 ~~~~''',
    'struct Foo { int m; } begin { $p = (struct Foo *)0; print($p->z); }': '''\
stdin:1:59-64: ERROR: Struct/union of type 'struct Foo' does not contain a field named 'z'
struct Foo { int m; } begin { $p = (struct Foo *)0; print($p->z); }
                                                          ~~~~~''',
    'begin { $p = (struct Nope *)0; print($p->z); }': '''\
stdin:1:38-43: ERROR: Unknown struct/union: 'struct Nope'
begin { $p = (struct Nope *)0; print($p->z); }
                                     ~~~~~''',
    'begin { $a = (int32[2])(uint64)1; print($a[2]); }': '''\
stdin:1:41-46: ERROR: the index 2 is out of bounds for array of size 2
begin { $a = (int32[2])(uint64)1; print($a[2]); }
                                        ~~~~~''',
    'begin { $a = (int32[2])"abc"; }': '''\
stdin:1:14-29: ERROR: Cannot cast from "string[4]" to "int32[2]"
begin { $a = (int32[2])"abc"; }
             ~~~~~~~~~~~~~~~''',
    'begin { $x = 1; print($x.foo); }': '''\
stdin:1:23-29: ERROR: Can not access field 'foo' on expression of type 'int8'
begin { $x = 1; print($x.foo); }
                      ~~~~~~''',
    'begin { print((struct Nope)1); }': '''\
stdin:1:15-29: ERROR: Unknown type: struct Nope
begin { print((struct Nope)1); }
              ~~~~~~~~~~~~~~''',
    'struct Foo { int m; } begin { $x = (struct Foo)1; }': '''\
stdin:1:36-49: ERROR: Cannot cast from "int8" to "struct Foo"
struct Foo { int m; } begin { $x = (struct Foo)1; }
                                   ~~~~~~~~~~~~~''',
    'begin { $r = (a=1, a=2); }': '''\
stdin:1:20-21: ERROR: Named argument list already contains name: a
begin { $r = (a=1, a=2); }
                   ~''',
    'begin { $r = (a=1, b=2); $r = (a=1, c=2); }': '''\
stdin:1:26-41: ERROR: Type mismatch for $r: trying to assign value of type 'record { .a = int8, .c = int8 }' \
when variable already has a type 'record { .a = int8, .b = int8 }'
begin { $r = (a=1, b=2); $r = (a=1, c=2); }
                         ~~~~~~~~~~~~~~~''',
    'struct Foo { badtype m; } begin { }': '''\
stdin:1:12-21: ERROR: syntax error, unexpected badtype
struct Foo { badtype m; } begin { }
           ~~~~~~~~~''',
    'struct Foo { int x; } begin { print(offsetof(struct Foo, y)); }': '''\
stdin:1:37-60: ERROR: 'struct Foo' has no field named 'y'
struct Foo { int x; } begin { print(offsetof(struct Foo, y)); }
                                    ~~~~~~~~~~~~~~~~~~~~~~~''',
    'begin { $a = "foo"; print($a[4]); }': '''\
stdin:1:27-32: ERROR: the index 4 is out of bounds for array of size 4
begin { $a = "foo"; print($a[4]); }
                          ~~~~~''',
    'begin { print(if (1) { 2 }); }': '''\
stdin:1:15-27: ERROR: an if expression needs an else branch
begin { print(if (1) { 2 }); }
              ~~~~~~~~~~~~''',
    'begin { $x = 1; print($x[0]); }': '''\
stdin:1:23-28: ERROR: The array index operator [] can only be used on arrays, pointers, and tuples, found int8.
begin { $x = 1; print($x[0]); }
                      ~~~~~''',
    'begin { $r = (a=1); print($r.0); }': '''\
stdin:1:27-31: ERROR: Can not access index '0' on expression of type 'record { .a = int8 }'
begin { $r = (a=1); print($r.0); }
                          ~~~~''',
    'begin { let $x: typeof(nosuch) = 1; }': '''\
stdin:1:24-30: ERROR: Unknown identifier: 'nosuch'
begin { let $x: typeof(nosuch) = 1; }
                       ~~~~~~''',
}


@pytest.mark.parametrize("script", ERRORS)
def test_error(script, capsys):
    assert main(["--no-cache", "-e", script]) != 0
    assert capsys.readouterr().err.rstrip("\n") == ERRORS[script]

"""Scripts that need only BEGIN/END, with what they must print (checked against bpftrace 0.17 too)."""

# name -> (script, expected stdout of pybpftrace); bpftrace 0.17 prints "Attaching N probes..." first
SCRIPTS = {
    "printf integers": (r'BEGIN { printf("%d %u %x %X|%5d|%-5d|%05d|%lld|%lu\n", -42, 7, 255, 255, 3, 3, 3, -1, 9); '
                        r'exit(); }',
                        "-42 7 ff FF|    3|3    |00003|-1|9\n\n\n"),
    "printf strings and chars": (r'BEGIN { printf("[%s] [%10s] [%-4s] %c%c\n", "abc", "right", "l", 72, 105); '
                                 r'exit(); }',
                                 "[abc] [     right] [l   ] Hi\n\n\n"),
    "arithmetic": (r'BEGIN { printf("%d %d %d %d %d %d\n", 7 / 2, -7 / 2, 7 % 3, 1 << 10, 0xff & 0x0f, '
                   r'10 - 20); exit(); }',
                   "3 -3 1 1024 15 -10\n\n\n"),
    "comparisons and logic": (r'BEGIN { printf("%d %d %d %d %d\n", 1 < 2, 2 <= 1, 1 == 1 && 0, 0 || 5, !0); '
                              r'exit(); }',
                              "1 0 0 1 1\n\n\n"),
    "ternary and if": (r'BEGIN { $x = 5; if ($x > 3) { printf("big %s\n", $x > 4 ? "yes" : "no"); } '
                       r'else { printf("small\n"); } exit(); }',
                       "big yes\n\n\n"),
    "while and unroll": (r'BEGIN { $i = 0; $s = 0; while ($i < 10) { $i++; if ($i == 3) { continue; } '
                         r'$s += $i; } unroll(3) { $s += 100; } printf("%d\n", $s); exit(); }',
                         "352\n\n\n"),
    "string compare": (r'BEGIN { $a = "abc"; printf("%d %d %d\n", $a == "abc", $a == "abd", $a != "ab"); '
                       r'exit(); }',
                       "1 0 1\n\n\n"),
    "count and sum maps": (r'BEGIN { @c = count(); @c = count(); @s[1] = sum(10); @s[2] = sum(5); @s[1] = sum(1); '
                           r'exit(); }',
                           "\n\n@c: 2\n@s[2]: 5\n@s[1]: 11\n"),
    "keys of several types": (r'BEGIN { @m["b", 2] = 1; @m["a", 1] = 3; @n[-1] = 7; exit(); }',
                              "\n\n@m[b, 2]: 1\n@m[a, 1]: 3\n@n[-1]: 7\n"),
    "min max avg stats": (r'BEGIN { @mn = min(5); @mn = min(-2); @mx = max(5); @mx = max(9); @a = avg(10); '
                          r'@a = avg(20); @st = stats(4); @st = stats(8); exit(); }',
                          "\n\n@a: 15\n\n@mn: -2\n@mx: 9\n@st: { .count = 2, .average = 6, .total = 12 }\n\n"),
    "hist": (r'BEGIN { @h = hist(0); @h = hist(1); @h = hist(5); @h = hist(5); @h = hist(1500); exit(); }',
             "\n\n@h: \n"
             "[0]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
             "[1]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
             "[2, 4)                 0 |                                                    |\n"
             "[4, 8)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
             "[8, 16)                0 |                                                    |\n"
             "[16, 32)               0 |                                                    |\n"
             "[32, 64)               0 |                                                    |\n"
             "[64, 128)              0 |                                                    |\n"
             "[128, 256)             0 |                                                    |\n"
             "[256, 512)             0 |                                                    |\n"
             "[512, 1K)              0 |                                                    |\n"
             "[1K, 2K)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n\n"),
    "lhist": (r'BEGIN { @l = lhist(3, 0, 10, 5); @l = lhist(7, 0, 10, 5); @l = lhist(7, 0, 10, 5); '
              r'@l = lhist(-1, 0, 10, 5); @l = lhist(12, 0, 10, 5); exit(); }',
              "\n\n@l: \n"
              "(..., 0)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
              "[0, 5)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
              "[5, 10)                2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
              "[10, ...)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n\n"),
    "scalar string and tuple maps": (r'BEGIN { @s = "text"; @t = (1, "two", -3); exit(); }',
                                     "\n\n@s: text\n@t: (1, two, -3)\n"),
    "map reads and delete": (r'BEGIN { @x[1] = 5; @x[2] = 6; @y = @x[1] + @x[3]; delete(@x[2]); exit(); }',
                             "\n\n@x[1]: 5\n@y: 5\n"),
    "compound assignment": (r'BEGIN { @a = 5; @a += 3; @a *= 2; $v = 10; $v -= 4; $v <<= 1; '
                            r'printf("%d\n", $v); exit(); }',
                            "12\n\n\n@a: 16\n"),
    "casts": (r'BEGIN { printf("%d %d %d\n", (uint8)257, (int8)255, (uint16)-1); exit(); }',
              "1 -1 65535\n\n\n"),
    "END runs after exit": (r'BEGIN { @n = 1; exit(); } END { printf("end %d\n", @n); }',
                            "end 1\n\n\n@n: 1\n"),
    "print and clear": (r'BEGIN { @a[1] = 1; @a[2] = 2; print(@a); clear(@a); @b = 3; exit(); }',
                        "@a[1]: 1\n@a[2]: 2\n\n\n\n@b: 3\n"),
    "predicate true": (r'BEGIN /1 < 2/ { @n = 2; exit(); } END /@n == 2/ { printf("yes\n"); }',
                       "yes\n\n\n@n: 2\n"),
    "predicate false": (r'BEGIN { @n = 2; exit(); } END /@n == 1/ { printf("no\n"); }', "\n\n@n: 2\n"),
    "print values": (r'BEGIN { print(1); print("str"); print((1, "a", -2)); exit(); }',
                     "1\nstr\n(1, a, -2)\n\n\n"),
    "strncmp sizeof": (r'BEGIN { printf("%d %d %d %d %d\n", strncmp("abc", "abd", 2), strncmp("abc", "abd", 3), '
                       r'sizeof(int32), sizeof(comm), sizeof(uint8)); exit(); }',
                       "0 1 4 16 1\n\n\n"),
    "cat": (r'BEGIN { cat("/proc/sys/kernel/ostype"); exit(); }', "Linux\n\n\n"),
    "has_key and zero": (r'BEGIN { @m[1] = 5; printf("%d %d\n", has_key(@m[1]), has_key(@m[2])); zero(@m); exit(); }',
                         "1 0\n\n\n@m[1]: 0\n"),
    "two-argument delete and has_key": (r'begin { @m[1, 2] = 3; @m[3, 4] = 5; printf("%d %d\n", has_key(@m, (1, 2)), '
                                        r'has_key(@m[3, 4])); delete(@m, (1, 2)); @k[5] = 1; delete(@k, 5); exit(); }',
                                        "1 1\n\n\n@m[3, 4]: 5\n"),
    "strcontains and bools": (r'begin { print(strcontains("hello-test-world", "test")); '
                              r'print(strcontains("hello", "lo")); print(strcontains("", "x")); @b[true] = false; exit(); }',
                              "true\ntrue\nfalse\n\n\n@b[true]: false\n"),
    "for over a range": (r'begin { for ($i : 0..5) { if ($i == 3) { continue; } if ($i == 4) { break; } print($i); } '
                         r'$s = 2; for ($j : $s..($s + 2)) { print($j); } for ($k : 1..0) { print("never"); } exit(); }',
                         "0\n1\n2\n2\n3\n\n\n"),
    "map declarations": (r'let @a = hash(1); let @b = lruhash(2); begin { @a[1] = 1; @a[2] = 2; @b[0] = 0; @b[1] = 1; '
                         r'@b[2] = 2; exit(); }', "\n\n@a[1]: 1\n@b[1]: 1\n@b[2]: 2\n"),
    "tuple access and division by zero": (r'begin { $t = (0, "str", (5, 6)); printf("%d %s %d\n", $t.0, $t.1, $t.2.1); '
                                          r'@m[1] = (2, "x"); print(@m[1].1); @z = 0; print(10 / @z); exit(); }',
                                          "0 str 6\nx\n1\n\n\n@m[1]: (2, x)\n@z: 0\n"),
    "buf, ntop and usym": (r'BEGIN { printf("[%r]\n", buf("Hi\x01", 3)); printf("%s\n", ntop(0x0100007f)); '
                           r'@[usym(1)] = count(); exit(); }',
                           "[Hi\\x01]\n127.0.0.1\n\n\n@[0x1]: 1\n"),
}

# Where Debian's bpftrace 0.17 prints something else, by design of current bpftrace (docs/pybpftrace.md):
# 0.17 divides signed operands as unsigned (-7 / 2 is 2^63 - 4, printed by %d as -4).
BPFTRACE_0_17 = {
    "arithmetic": "3 -4 1 1024 15 -10\n\n\n",
    "min max avg stats": "\n\n@a: 15\n\n@mn: -2\n@mx: 9\n@st: count 2, average 6, total 12\n\n",
}
# Functions bpftrace 0.17 does not have yet (current bpftrace does): compared with pybpftrace only.
NEWER_THAN_0_17 = {"has_key and zero", "two-argument delete and has_key", "strcontains and bools",
                   "for over a range", "map declarations",
                   "tuple access and division by zero"}

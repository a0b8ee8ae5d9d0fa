"""The kernel syntax: what the Linux verifier log prints (kernel/bpf/disasm.c, 6.18).

`print_bpf_insn()` formats, one template each: `r0 = *(u32 *)(r1 +4)`,
`*(u64 *)(r10 -8) = r1`, `w0 s/= w1`, `r0 = (s8)r1`, `r1 = be16 r1`,
`r1 = bswap16 r1`, `if r1 == 0x5 goto pc+3` (a jump's imm in u32 hex, an
ALU imm in decimal), `goto pc-1`, `gotol pc+3`, `may_goto pc+3`,
`call bpf_map_lookup_elem#1` (the name from a callback, else `unknown`),
`call pc+2`, `call kernel-function#ID`, `lock *(u32 *)(r10 -8) += r1`,
`r1 = atomic64_fetch_add((u64 *)(r10 -8), r1)`,
`r0 = atomic_cmpxchg((u32 *)(r10 -8), r0, r1)`, `r1 = atomic64_xchg(...)`,
`r0 = load_acquire((u8 *)(r1 +0))`, `store_release((u8 *)(r1 +0), r2)`,
`r0 = *(u8 *)skb[4]`, `r0 = *(u16 *)skb[r1 + 4]`.

A 64-bit immediate load prints as `r0 = 0x123` (a mov prints its imm in
decimal, which is how the assembler tells them apart).  Pseudo sources
print as bpftool's `prog dump xlated` prints them through the same
disasm.c (its `print_imm` callback): `map[id:N]`, `map[id:N][0]+M`,
`map[idx:N]+M`, `subprog[+N]`; the imm is shown as it is, so for a program
that has not been loaded the "id" is the map fd.

What the kernel's format cannot say (the round-trip tests skip exactly these):
- lddw with BPF_PSEUDO_BTF_ID or BPF_PSEUDO_MAP_IDX prints its raw 64-bit
  value, losing the pseudo source (the verifier's own log does this for
  every lddw, after it has replaced map fds with addresses);
- a kfunc call's module BTF fd index (off) is not printed.
`callx rN` has no kernel form (the kernel does not accept it); we print it so.
"""

from __future__ import annotations

from .template import Lossy, Syntax

_MEM_SRC = "(r{src} {off:+d})"
_MEM_DST = "(r{dst} {off:+d})"
_RAW_LDDW = Lossy("the kernel prints this pseudo source's lddw as its raw 64-bit value", "r{dst} = {imm64:x}")

ROWS = [
    # Before the ALU rows: `r0 = 0x5` is a 64-bit load, `r0 = 5` a mov.
    ("lddw imm64", ["r{dst} = {imm64:x}"]),
    ("lddw map_fd", ["r{dst} = map[id:{imm}]"]),
    ("lddw map_value", ["r{dst} = map[id:{imm}][0]+{imm2}"]),
    ("lddw map_idx_value", ["r{dst} = map[idx:{imm}]+{imm2}"]),
    ("lddw func", ["r{dst} = subprog[{imm:+d}]"]),
    ("lddw", [_RAW_LDDW]),
    ("alu", ["{R}{dst} {SYM} {R}{src}", "{R}{dst} {SYM} {imm}"]),
    ("neg", ["{R}{dst} = -{R}{dst}"]),
    ("movsx", ["{R}{dst} = (s{BITS}){R}{src}"]),
    ("end", ["r{dst} = {OP}{W} r{dst}"]),
    ("ldx", [f"r{{dst}} = *(u{{W}} *){_MEM_SRC}"]),
    ("ldxs", [f"r{{dst}} = *(s{{W}} *){_MEM_SRC}"]),
    ("st", [f"*(u{{W}} *){_MEM_DST} = {{imm}}"]),
    ("stx", [f"*(u{{W}} *){_MEM_DST} = r{{src}}"]),
    ("atomic fetch_*", [f"r{{src}} = atomic{{S64}}_{{OP}}((u{{W}} *){_MEM_DST}, r{{src}})"]),
    ("atomic xchg", [f"r{{src}} = atomic{{S64}}_xchg((u{{W}} *){_MEM_DST}, r{{src}})"]),
    ("atomic cmpxchg", [f"r0 = atomic{{S64}}_cmpxchg((u{{W}} *){_MEM_DST}, r0, r{{src}})"]),
    ("atomic", [f"lock *(u{{W}} *){_MEM_DST} {{SYM}} r{{src}}"]),
    ("load_acq", [f"r{{dst}} = load_acquire((u{{W}} *){_MEM_SRC})"]),
    ("store_rel", [f"store_release((u{{W}} *){_MEM_DST}, r{{src}})"]),
    ("ldabs", ["r0 = *(u{W} *)skb[{imm}]"]),
    ("ldind", ["r0 = *(u{W} *)skb[r{src} + {imm}]", "r0 = *(u{W} *)skb[r{src}]"]),
    ("ja ja", ["goto {off:pc}"]),
    ("ja gotol", ["gotol {imm:pc}"]),
    ("jcond", ["if {R}{dst} {SYM} {R}{src} goto {off:pc}", "if {R}{dst} {SYM} {imm:x} goto {off:pc}",
               "if {R}{dst} {SYM} {imm} goto {off:pc}"]),
    ("call helper", ["call {helper}#{imm}"]),
    ("call local", ["call {imm:pc}"]),
    ("call kfunc", ["call kernel-function#{imm}",
                    Lossy("the verifier log does not print a kfunc call's module BTF fd index (off)",
                          "call kernel-function#{imm}")]),
    ("callx", ["callx r{dst}"]),
    ("exit", ["exit"]),
    ("may_goto", ["may_goto {off:pc}"]),
]

SYNTAX = Syntax("kernel", ROWS)

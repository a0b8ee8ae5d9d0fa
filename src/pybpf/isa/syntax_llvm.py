"""The LLVM syntax: what `llvm-objdump -d` prints for BPF, as templates.

For every instruction LLVM 14 knows, the text is exactly llvm-objdump-14's
(`r0 = *(u32 *)(r1 + 4)`, `if r1 s> r2 goto -1`, `lock *(u64 *)(r10 - 8) += r1`,
`r1 = 4886718345 ll`); immediates are decimal.  For what LLVM 14 prints as
`<unknown>` (cpu v4, 32-bit atomics other than `lock +=`, BPF_MOD, BPF_ST,
JSET, load-acquire and store-release, may_goto) the text is modern LLVM's:
`r0 s/= r1`, `w0 s%= w1`, `r0 = (s8)r1`, `r0 = *(s8 *)(r1 + 0)`,
`r0 = bswap16 r0`, `gotol +3`, `*(u32 *)(r10 - 8) = 5`,
`w1 = atomic_fetch_and((u32 *)(r10 - 8), w1)`, `w1 = xchg32_32(r10 - 8, w1)`,
`w0 = cmpxchg32_32(r10 - 8, w0, w1)`, `callx r2`, `may_goto +3`,
`w0 = load_acquire((u8 *)(r1 + 0))`, `store_release((u8 *)(r1 + 0), w2)`.

Deviations, where LLVM 14's text loses information or misreads the encoding:

- a local call (src=1) prints as `call -1` in LLVM, exactly like a helper
  call; we print `call pc-1`, as the kernel does;
- a lddw with a pseudo source prints as `ld_pseudo r1, 2, 5`, without the
  second slot's imm; we print `r1 = map[fd:5] ll`, `r1 = map[fd:5][0]+8 ll`,
  `r1 = map[idx:3] ll`, `r1 = map[idx:3][0]+8 ll`, `r1 = btf_id(7) ll` (or
  `btf_id(7, 1)` with a module BTF fd), `r1 = func(pc+5) ll`;
- a kfunc call (src=2) prints like a helper call; we print `call kfunc#ID`
  (`call kfunc#ID, OFF` with a module BTF fd index);
- `callx` takes its register from dst (LLVM 14 reads imm);
- `r0 = *(u16 *)skb[r1]` drops a non-zero imm; we print `skb[r1 + 4]`;
- LLVM 14 reads sdiv/smod (off=1) as div/mod, movsx (off=8/16/32) as mov,
  32-bit `lock fetch add` as `lock +=` and load-acquire as `lock +=`; we
  print what the encoding means.

The assembler also reads `w` registers where LLVM's alu32 mode writes them
(`w0 = *(u32 *)(r1 + 0)`, `*(u32 *)(r10 - 8) = w1`), and labels as targets
(`goto out`, `call func_name`, `r1 = func(name) ll`).
"""

from __future__ import annotations

from .template import Syntax

_MEM_SRC = "(r{src} {off:mem})"
_MEM_DST = "(r{dst} {off:mem})"

ROWS = [
    ("alu", ["{R}{dst} {SYM} {R}{src}", "{R}{dst} {SYM} {imm}"]),
    ("neg", ["{R}{dst} = -{R}{dst}"]),
    ("movsx", ["{R}{dst} = (s{BITS}){R}{src}"]),
    ("end", ["r{dst} = {OP}{W} r{dst}"]),
    ("ldx", [f"r{{dst}} = *(u{{W}} *){_MEM_SRC}", f"{{R}}{{dst}} = *(u{{W}} *){_MEM_SRC}"]),
    ("ldxs", [f"r{{dst}} = *(s{{W}} *){_MEM_SRC}", f"{{R}}{{dst}} = *(s{{W}} *){_MEM_SRC}"]),
    ("st", [f"*(u{{W}} *){_MEM_DST} = {{imm}}"]),
    ("stx", [f"*(u{{W}} *){_MEM_DST} = r{{src}}", f"*(u{{W}} *){_MEM_DST} = {{R}}{{src}}"]),
    # LLVM 14 writes the 32-bit `lock +=` with an r register, modern LLVM with w.
    ("atomic add 32", [f"lock *(u32 *){_MEM_DST} += r{{src}}", f"lock *(u32 *){_MEM_DST} += w{{src}}"]),
    ("atomic fetch_*", [f"{{R}}{{src}} = atomic_{{OP}}((u{{W}} *){_MEM_DST}, {{R}}{{src}})"]),
    ("atomic xchg", ["{R}{src} = xchg{X32}_{W}(r{dst} {off:mem}, {R}{src})"]),
    ("atomic cmpxchg", ["{R}0 = cmpxchg{X32}_{W}(r{dst} {off:mem}, {R}0, {R}{src})"]),
    ("atomic", [f"lock *(u{{W}} *){_MEM_DST} {{SYM}} {{R}}{{src}}", f"lock *(u{{W}} *){_MEM_DST} {{SYM}} r{{src}}"]),
    ("load_acq", [f"{{R}}{{dst}} = load_acquire((u{{W}} *){_MEM_SRC})"]),
    ("store_rel", [f"store_release((u{{W}} *){_MEM_DST}, {{R}}{{src}})"]),
    ("lddw imm64", ["r{dst} = {imm64} ll"]),
    ("lddw map_fd", ["r{dst} = map[fd:{imm}] ll"]),
    ("lddw map_value", ["r{dst} = map[fd:{imm}][0]+{imm2} ll"]),
    ("lddw map_idx", ["r{dst} = map[idx:{imm}] ll"]),
    ("lddw map_idx_value", ["r{dst} = map[idx:{imm}][0]+{imm2} ll"]),
    ("lddw btf_id", ["r{dst} = btf_id({imm}) ll", "r{dst} = btf_id({imm}, {imm2}) ll"]),
    ("lddw func", ["r{dst} = func({imm:pc}) ll"]),
    ("ldabs", ["r0 = *(u{W} *)skb[{imm}]"]),
    ("ldind", ["r0 = *(u{W} *)skb[r{src}]", "r0 = *(u{W} *)skb[r{src} + {imm}]"]),
    ("ja ja", ["goto {off:+d}"]),
    ("ja gotol", ["gotol {imm:+d}"]),
    ("jcond", ["if {R}{dst} {SYM} {R}{src} goto {off:+d}", "if {R}{dst} {SYM} {imm} goto {off:+d}"]),
    ("call helper", ["call {imm}"]),
    ("call local", ["call {imm:pc}"]),
    ("call kfunc", ["call kfunc#{imm}", "call kfunc#{imm}, {off}"]),
    ("callx", ["callx r{dst}"]),
    ("exit", ["exit"]),
    ("may_goto", ["may_goto {off:+d}"]),
]

SYNTAX = Syntax("llvm", ROWS)

"""BPF instruction -> Python lines: the per-instruction half of the compiled-Python engine's code generator.

`compiled_flow` lays the blocks of each subprogram out as one Python
function `F<pc>(vm, r1..r5, depth)` with the registers as locals; the code
of each instruction comes from here, from the opcode table: `EMITTERS` is
keyed by the `kind` of `pybpf.isa.opcodes.SPECS`, and the value expressions
by `spec.op` (`ALU_EXPR`, `JMP_EXPR`); an op without an inline expression
calls its function of `pybpf.isa.semantics`.  Immediates are folded, a mov
fuses with the ALU op after it (`fusable`), loads and stores through a
register known to hold r10 + k (`track`) go straight to the frame's stack,
the others through the function's one-region read and write caches
(refilled by `vm._load` and `vm._store`, which check every access), and
calls are `call`'s (helpers that run no program code straight, array
lookups inline).
"""

from __future__ import annotations

from ..isa.insn import Insn
from ..isa.semantics import ALU, MASK

M64, M32 = MASK[64], MASK[32]
STACK_SIZE = 512

# op -> inline expression of (a, b) at width w with mask m; ops absent here call ALU[op] (sdiv, smod, arsh).
ALU_EXPR = {
    "add": "({a} + {b}) & {m}", "sub": "({a} - {b}) & {m}", "mul": "({a} * {b}) & {m}",
    "div": "({a} // {b} if {b} else 0)", "mod": "({a} % {b} if {b} else {a})",
    "or": "{a} | {b}", "and": "{a} & {b}", "xor": "{a} ^ {b}", "mov": "{b}",
    "lsh": "({a} << ({b} & {s})) & {m}", "rsh": "{a} >> ({b} & {s})",
}
# op -> condition over (a, b); the signed ones compare with the sign bit flipped (t = 1 << (w - 1)).
JMP_EXPR = {
    "jeq": "{a} == {b}", "jne": "{a} != {b}", "jgt": "{a} > {b}", "jge": "{a} >= {b}",
    "jlt": "{a} < {b}", "jle": "{a} <= {b}", "jset": "{a} & {b}",
    "jsgt": "({a} ^ {t}) > ({b} ^ {t})", "jsge": "({a} ^ {t}) >= ({b} ^ {t})",
    "jslt": "({a} ^ {t}) < ({b} ^ {t})", "jsle": "({a} ^ {t}) <= ({b} ^ {t})",
}
def _r(n: int) -> str:
    return f"r{n}"


def _operands(insn: Insn, spec, w: int) -> tuple[str, str]:
    a = _r(insn.dst) if w == 64 else f"({_r(insn.dst)} & {M32})"
    if "src" in spec.operands:
        b = _r(insn.src) if w == 64 else f"({_r(insn.src)} & {M32})"
    else:
        b = str(insn.imm & MASK[w])
    return a, b


def _sext(expr: str, bits: int, w: int = 64) -> str:
    t = 1 << (bits - 1)
    return f"(((({expr}) & {MASK[bits]}) ^ {t}) - {t}) & {MASK[w]}"


def _addr(reg: int, off: int) -> str:
    return f"({_r(reg)} + {off}) & {M64}" if off else _r(reg)


def _stack_offset(fp: dict[int, int], reg: int, off: int, size: int) -> int | None:
    """The offset in the frame's stack buffer of reg + off when reg is known to be r10 + k and the access lies
    wholly inside the frame: such an access needs no region lookup.  None otherwise."""
    k = fp.get(reg)
    if k is None or not (-STACK_SIZE <= k + off and k + off + size <= 0):
        return None
    return STACK_SIZE + k + off


def _imm(insn: Insn, w: int) -> int:
    """The immediate as the signed value it stands for at width w."""
    v = insn.imm & MASK[w]
    return v - (1 << w) if v >> (w - 1) else v


def alu_expr(insn: Insn, a: str | None = None) -> str:
    """The value of an ALU instruction, with its first operand `a` when given (a fused mov, see `fusable`).

    Immediates are folded: r -= 4 rather than r += 0xff..fc (the small constant is the cheaper int operation),
    shifts by a constant need no run-time mask.
    """
    spec = insn.spec
    w, op = spec.width, spec.op
    a_reg, b = _operands(insn, spec, w)
    a = a_reg if a is None else a
    imm = "src" not in spec.operands
    if op in ("add", "sub") and imm and _imm(insn, w) < 0:
        return f"({a} {'-' if op == 'add' else '+'} {-_imm(insn, w)}) & {MASK[w]}"
    if op in ("lsh", "rsh") and imm:
        shift = insn.imm & (w - 1)
        return f"({a} << {shift}) & {MASK[w]}" if op == "lsh" else f"{a} >> {shift}"
    if op in ALU_EXPR:
        return ALU_EXPR[op].format(a=a, b=b, m=MASK[w], s=w - 1)
    return f"ALU_{op}({a}, {b}, {w})"


def _alu(pc, insn, spec, fp):
    return [f"{_r(insn.dst)} = {alu_expr(insn)}"]


def fusable(mov: Insn, nxt: Insn | None) -> bool:
    """`rD = rS` then a 64-bit `rD op= X` (X not rD): one line `rD = rS op X`, one assignment fewer."""
    if nxt is None or mov.spec.kind != "alu" or mov.spec.op != "mov" or mov.spec.width != 64:
        return False
    spec = nxt.spec
    return ("src" in mov.spec.operands and spec.kind == "alu" and spec.width == 64 and spec.op != "mov"
            and nxt.dst == mov.dst and ("src" not in spec.operands or nxt.src != mov.dst))


def _neg(pc, insn, spec, fp):
    return [f"{_r(insn.dst)} = -{_r(insn.dst)} & {MASK[spec.width]}"]


def _movsx(pc, insn, spec, fp):
    return [f"{_r(insn.dst)} = {_sext(_r(insn.src), insn.off, spec.width)}"]


def _end(pc, insn, spec, fp):
    d, bits = _r(insn.dst), spec.width
    if spec.op == "le":
        return [f"{d} = {d} & {MASK[bits]}"]
    return [f"{d} = END_{spec.op}({d}, {bits})"]


def _get(view: str, offset: str, size: int) -> str:
    """The unsigned value of size bytes at offset of a byte memoryview (a byte is an index, the cheapest)."""
    return f"{view}[{offset}]" if size == 1 else f"UNPACK{size}({view}, {offset})[0]"


def _put(view: str, offset: str, size: int, value: str) -> str:
    return f"{view}[{offset}] = {value}" if size == 1 else f"PACK{size}({view}, {offset}, {value})"


def load(d: str, reg: int, off: int, size: int, fp: dict[int, int]) -> list[str]:
    """Lines that set d to the size-byte value at reg + off, checked: the stack at once, else a region."""
    at = _stack_offset(fp, reg, off, size)
    if at is not None:
        return [f"{d} = {_get('sv', str(at), size)}"]
    # through the function's one-region read cache (cs, ce, cv), refilled by vm._load
    a, lines = (_r(reg), []) if not off else ("a", [f"a = {_addr(reg, off)}"])
    return lines + [f"if cs <= {a} and {a} + {size} <= ce: {d} = {_get('cv', f'{a} - cs', size)}",
                    f"else: {d}, cs, ce, cv = vm._load({a}, {size})"]


def _ldx(pc, insn, spec, fp):
    size, d = spec.width // 8, _r(insn.dst)
    lines = load(d, insn.src, insn.off, size, fp)
    if spec.kind == "ldxs":
        lines.append(f"{d} = {_sext(d, spec.width)}")
    return lines


def _store(insn, size: int, value: str, fp: dict[int, int]) -> list[str]:
    at = _stack_offset(fp, insn.dst, insn.off, size)
    if at is not None:
        return [_put("sv", str(at), size, value)]
    # the write cache (ws, we, wv) holds writable regions only
    a, lines = (_r(insn.dst), []) if not insn.off else ("a", [f"a = {_addr(insn.dst, insn.off)}"])
    return lines + [f"if ws <= {a} and {a} + {size} <= we: {_put('wv', f'{a} - ws', size, value)}",
                    f"else: ws, we, wv = vm._store({a}, {size}, {value})"]


def _st(pc, insn, spec, fp):
    size = spec.width // 8
    return _store(insn, size, str(insn.imm & MASK[size * 8]), fp)


def _stx(pc, insn, spec, fp):
    size = spec.width // 8
    return _store(insn, size, f"{_r(insn.src)} & {MASK[size * 8]}", fp)


def _aligned(pc, insn, size):
    return [f"a = {_addr(insn.dst if insn.spec.kind != 'load_acq' else insn.src, insn.off)}",
            f"if a % {size}: MISALIGNED({pc}, a, {size})"]


def _atomic(pc, insn, spec, fp):
    w, op, s = spec.width, spec.op, _r(insn.src)
    size, m = w // 8, MASK[w]
    lines = _aligned(pc, insn, size) + [f"o = load(a, {size})"]
    if op == "cmpxchg":
        return lines + [f"if o == r0 & {m}: store(a, {size}, {s})", "r0 = o"]
    base = op.removeprefix("fetch_")
    new = s if base == "xchg" else ALU_EXPR[base].format(a="o", b=f"({s} & {m})", m=m, s=w - 1)
    lines.append(f"store(a, {size}, {new})")
    if op.startswith("fetch") or op == "xchg":
        lines.append(f"{s} = o")
    return lines


def _load_acq(pc, insn, spec, fp):
    size = spec.width // 8
    return _aligned(pc, insn, size) + [f"{_r(insn.dst)} = load(a, {size})"]


def _store_rel(pc, insn, spec, fp):
    size = spec.width // 8
    return _aligned(pc, insn, size) + [f"store(a, {size}, {_r(insn.src)})"]


def _lddw(pc, insn, spec, fp):
    return [f"{_r(insn.dst)} = LD{pc}"]  # bound per engine: pseudo lddw values differ per load


def _ld_packet(pc, insn, spec, fp):
    index = _r(insn.src) if spec.kind == "ldind" else "0"
    return [f"r0 = vm._ld_packet({pc}, {index}, {insn.imm}, {spec.width // 8})",
            "if r0 is None:", "    r0 = 0", "    vm._left = b", "    return 0"]


def condition(insn: Insn) -> str:
    """The Python condition of a conditional jump (the block layout emits the branch itself)."""
    spec = insn.spec
    w = spec.width
    a, b = _operands(insn, spec, w)
    return JMP_EXPR[spec.op].format(a=a, b=b, t=1 << (w - 1))


_ARGS = "r1, r2, r3, r4, r5"
FORGET = "cs = ce = ws = we = 0"  # a call may unmap regions: the access caches start over
MAP_LOOKUP_ELEM, MAP_UPDATE_ELEM = 1, 2
EEXIST = 17


def call(pc: int, insn: Insn, fp: dict[int, int], fast: frozenset[int]) -> list[str]:
    """The lines of a call (the layout continues at pc + 1).

    A helper in `fast` (one that never runs program code: no callback, no tail
    call) is its implementation called straight, without syncing the budget;
    bpf_map_lookup_elem on an array map of ARRAYS (bound per engine) is
    &values[key] or NULL inline, as the native engine does, and on a plain hash
    map of HASHES a read of its dict (`hash_lookup`); bpf_map_update_elem of
    an existing key of one is `hash_update`.  Others go through `vm._helper`,
    which shares the budget with the callbacks they run.
    """
    spec = insn.spec
    if spec.kind == "callx":
        return ["vm._left = b", f"r0 = vm._callx({pc}, {_r(insn.dst)}, depth, {_ARGS})", "b = vm._left", FORGET]
    if spec.op == "local":
        target = pc + 1 + insn.imm
        return [f"if depth >= {7}: TOO_DEEP({pc})", "vm._left = b",
                f"r0 = F{target}(vm, {_ARGS}, depth + 1)", "b = vm._left", FORGET]
    if spec.op == "kfunc":
        return [f"KFUNC({pc})"]
    if insn.imm not in fast:
        return ["vm._left = b", f"r0 = HELPER({pc}, {insn.imm}, depth, {_ARGS})", "b = vm._left", FORGET]
    direct = [f"r0 = H{insn.imm}(vm, {_ARGS}) & {M64}", FORGET]
    if insn.imm == MAP_UPDATE_ELEM:
        return hash_update(fp, direct)
    if insn.imm != MAP_LOOKUP_ELEM:
        return direct
    key = load("k", 2, 0, 4, fp)
    hashed = ["hm = HASHES.get(r1)", "if hm is None:", *("    " + line for line in direct), "else:",
              *("    " + line for line in hash_lookup(fp))]
    return ["ar = ARRAYS.get(r1)", "if ar is None:", *("    " + line for line in hashed), "else:",
            *("    " + line for line in key), "    r0 = ar[0] + k * ar[1] if k < ar[2] else 0"]


def _hash_key(fp: dict[int, int]) -> list[str]:
    """Lines that set k to the key at r2 as the map's `current` dict keys it (el, ks, unp, lim of its tuple):
    one int read by `unp` for 4- and 8-byte keys, else bytes; straight from the stack buffer when r2 is
    r10 + k (an int key when the offset is at most `lim`, STACK_SIZE - ks for int keys, else -1)."""
    at = _stack_offset(fp, 2, 0, 1)
    if at is None:
        return ["k = vm.mem.read_bytes(r2, ks)", "if unp is not None: k = int.from_bytes(k, 'little')"]
    return [f"if {at} <= lim: k = unp(sv, {at})[0]",
            f"elif unp is None and {at} + ks <= {STACK_SIZE}: k = bytes(sv[{at}:{at} + ks])",
            "else:", "    k = vm.mem.read_bytes(r2, ks)", "    if unp is not None: k = int.from_bytes(k, 'little')"]


def hash_update(fp: dict[int, int], direct: list[str]) -> list[str]:
    """bpf_map_update_elem on a plain hash map of HASH_UPDATES, hm = (HashMap.current, key size, unpack, lim,
    value size, HashMap.replace_current): an existing key with BPF_ANY or BPF_EXIST is replaced by the map itself
    (no handle lookup, no flag and size checks: the helper's ~3 us, about a third of it left), BPF_NOEXIST
    on one is -EEXIST (the value read first all the same, as the helper does: a bad pointer faults); a new
    key and other flags call the helper (`direct`).  Replacing swaps buffers that stay mapped, so the access
    caches stay valid."""
    at = _stack_offset(fp, 3, 0, 1)
    value = "vm.mem.read_bytes(r3, vs)"
    if at is not None:
        value = f"bytes(sv[{at}:{at} + vs]) if {at} + vs <= {STACK_SIZE} else {value}"
    return ["hm = HASH_UPDATES.get(r1)", "if hm is not None and r4 <= 2:",
            *("    " + line for line in ["el, ks, unp, lim, vs, replace = hm", *_hash_key(fp)]),
            "if hm is None or r4 > 2 or k not in el:", *("    " + line for line in direct),
            "else:", f"    v = {value}", f"    r0 = {-EEXIST & M64} if r4 == 1 else replace(k, v)"]


def hash_lookup(fp: dict[int, int]) -> list[str]:
    """bpf_map_lookup_elem on a plain hash map, hm = (HashMap.current, key size, unpack, lim, writable) of
    HASHES (`CompiledEngine._inline_arrays`): the key (one int read by `unpack` for the 4- and 8-byte keys
    `current` holds as ints, else bytes; straight from the stack buffer when r2 is known to be r10 + k),
    then the address of its value or NULL, as HashMap.value_address.  The value's buffer becomes the read
    cache (and the write cache unless the map is read-only to programs): the accesses through r0 that
    follow need no region lookup."""
    return ["el, ks, unp, lim, wr = hm", *_hash_key(fp), "e = el.get(k)", "if e is None: r0 = 0", "else:",
            "    r0 = cs = e.address; ce = cs + e.size; cv = e.view", "    if wr: ws, we, wv = cs, ce, cv"]


def _exit(pc, insn, spec, fp):
    return ["vm._left = b", "return r0"]


# kind of the opcode table -> emitter of one instruction's Python lines.  The control transfers (ja, jcond,
# may_goto) and calls (call, callx) are laid out by compiled_flow, which knows the successors.
EMITTERS = {
    "alu": _alu, "neg": _neg, "movsx": _movsx, "end": _end,
    "ldx": _ldx, "ldxs": _ldx, "st": _st, "stx": _stx, "atomic": _atomic,
    "load_acq": _load_acq, "store_rel": _store_rel, "lddw": _lddw,
    "ldabs": _ld_packet, "ldind": _ld_packet, "exit": _exit,
}
_NO_WRITE = {"st", "stx", "ja", "jcond", "exit", "may_goto", "store_rel"}


def track(fp: dict[int, int], insn: Insn) -> None:
    """Update fp (register -> k where the register holds r10 + k) past insn: the stack fast path's facts."""
    spec, kind = insn.spec, insn.spec.kind
    if kind == "alu" and spec.width == 64 and spec.op == "mov" and "src" in spec.operands and insn.src in fp:
        fp[insn.dst] = fp[insn.src]
    elif (kind == "alu" and spec.width == 64 and spec.op in ("add", "sub") and "src" not in spec.operands
          and insn.dst in fp):
        fp[insn.dst] += _imm(insn, 64) if spec.op == "add" else -_imm(insn, 64)
    elif kind in ("call", "callx", "ldabs", "ldind"):
        for r in range(6):
            fp.pop(r, None)
    elif kind == "atomic":
        fp.pop(insn.src, None)
        fp.pop(0, None)
    elif kind not in _NO_WRITE:
        fp.pop(insn.dst, None)


def semantic_names() -> dict[str, object]:
    """The functions of pybpf.isa.semantics the generated code may call, by their generated names."""
    from ..isa.semantics import END
    names = {f"ALU_{op}": fn for op, fn in ALU.items()}
    names.update({f"END_{op}": fn for op, fn in END.items()})
    return names

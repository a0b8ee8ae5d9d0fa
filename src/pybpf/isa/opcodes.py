"""The one opcode table of the BPF instruction set (RFC 9669, cpu v1-v4).

Every per-opcode fact lives here, once: the encoding of each instruction
variant (opcode byte plus the fields that select it), which fields carry
operands and which are reserved (must be zero), the cpu version that
introduced it, its mnemonic in the ubpf/bpf_conformance syntax and a one-line
statement of its semantics.  The encoder, decoder, assembler, disassembler,
interpreter and (later) the verifier and the JIT all derive from `SPECS`.

Kernel spellings are kept (`BPF_ALU64`, `BPF_PSEUDO_MAP_FD`) so that grep works
across this package and include/uapi/linux/bpf.h.
"""

from __future__ import annotations

from dataclasses import dataclass

# Instruction classes (RFC 9669 section 3.3).
BPF_LD = 0x00
BPF_LDX = 0x01
BPF_ST = 0x02
BPF_STX = 0x03
BPF_ALU = 0x04
BPF_JMP = 0x05
BPF_JMP32 = 0x06
BPF_ALU64 = 0x07

# Source operand (RFC 9669 section 4).
BPF_K = 0x00
BPF_X = 0x08
BPF_TO_LE = 0x00
BPF_TO_BE = 0x08

# Arithmetic operations (RFC 9669 section 4.1).
BPF_ADD = 0x00
BPF_SUB = 0x10
BPF_MUL = 0x20
BPF_DIV = 0x30
BPF_OR = 0x40
BPF_AND = 0x50
BPF_LSH = 0x60
BPF_RSH = 0x70
BPF_NEG = 0x80
BPF_MOD = 0x90
BPF_XOR = 0xA0
BPF_MOV = 0xB0
BPF_ARSH = 0xC0
BPF_END = 0xD0

# Jump operations (RFC 9669 section 4.3).
BPF_JA = 0x00
BPF_JEQ = 0x10
BPF_JGT = 0x20
BPF_JGE = 0x30
BPF_JSET = 0x40
BPF_JNE = 0x50
BPF_JSGT = 0x60
BPF_JSGE = 0x70
BPF_CALL = 0x80
BPF_EXIT = 0x90
BPF_JLT = 0xA0
BPF_JLE = 0xB0
BPF_JSLT = 0xC0
BPF_JSLE = 0xD0
BPF_JCOND = 0xE0  # may_goto, a Linux extension (6.9)

# Load and store sizes and modes (RFC 9669 section 5).
BPF_W = 0x00
BPF_H = 0x08
BPF_B = 0x10
BPF_DW = 0x18
BPF_IMM = 0x00
BPF_ABS = 0x20
BPF_IND = 0x40
BPF_MEM = 0x60
BPF_MEMSX = 0x80
BPF_ATOMIC = 0xC0

# Atomic operations, in the imm field (RFC 9669 section 5.3).
BPF_FETCH = 0x01
BPF_XCHG = 0xE0 | BPF_FETCH
BPF_CMPXCHG = 0xF0 | BPF_FETCH
BPF_LOAD_ACQ = 0x100  # Linux 6.15 extension
BPF_STORE_REL = 0x110  # Linux 6.15 extension

# src_reg of a 64-bit immediate load (RFC 9669 section 5.4).
BPF_PSEUDO_MAP_FD = 1
BPF_PSEUDO_MAP_VALUE = 2
BPF_PSEUDO_BTF_ID = 3
BPF_PSEUDO_FUNC = 4
BPF_PSEUDO_MAP_IDX = 5
BPF_PSEUDO_MAP_IDX_VALUE = 6

# src_reg of a call (RFC 9669 section 4.3.1).
BPF_HELPER_CALL = 0
BPF_PSEUDO_CALL = 1
BPF_PSEUDO_KFUNC_CALL = 2

# Size code -> access size in bytes, and the spelling used in C-like syntax.
SIZE_BYTES = {BPF_W: 4, BPF_H: 2, BPF_B: 1, BPF_DW: 8}
SIZE_SUFFIX = {BPF_W: "w", BPF_H: "h", BPF_B: "b", BPF_DW: "dw"}

MAX_REG = 10  # r0..r10; r10 is the read-only frame pointer
FIELDS = ("dst", "src", "off", "imm")


def BPF_CLASS(code: int) -> int:
    return code & 0x07


def BPF_OP(code: int) -> int:
    return code & 0xF0


def BPF_SRC(code: int) -> int:
    return code & 0x08


def BPF_SIZE(code: int) -> int:
    return code & 0x18


def BPF_MODE(code: int) -> int:
    return code & 0xE0


@dataclass(frozen=True)
class Spec:
    """One instruction variant: an opcode plus the field values that select it.

    kind groups variants with one shape of semantics (and one syntax):
      alu, neg, movsx, end        arithmetic (op names the operation)
      ldx, ldxs, st, stx          memory access (width is the size in bits)
      atomic                      read-modify-write on memory (op: add, fetch_or, xchg, ...)
      load_acq, store_rel         ordered loads and stores
      lddw                        64-bit immediate load, two slots (op: the pseudo source)
      ldabs, ldind                legacy packet loads
      ja, jcond, call, callx, exit, may_goto   control flow
    """

    name: str  # mnemonic in the ubpf/bpf_conformance syntax
    code: int
    kind: str
    op: str
    width: int  # 32 or 64 for ALU/JMP; access size in bits for memory
    operands: frozenset[str]  # fields that carry operands ("imm2": the lddw second-slot imm)
    fixed: tuple[tuple[str, int], ...] = ()  # fields that select this variant
    version: int = 1  # cpu version that introduced it (as bpf_conformance counts)
    group: str = "base64"  # RFC 9669 section 2.2 conformance group ("callx": an extension)
    doc: str = ""

    @property
    def slots(self) -> int:
        return 2 if self.kind == "lddw" else 1

    @property
    def reserved(self) -> tuple[str, ...]:
        """Fields that must be zero for this variant."""
        fixed = {f for f, _ in self.fixed}
        return tuple(f for f in FIELDS if f not in self.operands and f not in fixed)

    def fixed_value(self, field: str) -> int:
        for f, v in self.fixed:
            if f == field:
                return v
        return 0


@dataclass(frozen=True)
class AluOp:
    """An arithmetic operation: its op code, its names in every syntax, its semantics."""

    name: str  # ubpf mnemonic stem
    code: int
    symbol: str  # C-like compound assignment used by LLVM and the kernel
    doc: str
    off: int = 0  # sdiv/smod set off=1
    sources: tuple[int, ...] = (BPF_K, BPF_X)


ALU_OPS: tuple[AluOp, ...] = (
    AluOp("add", BPF_ADD, "+=", "dst += src"),
    AluOp("sub", BPF_SUB, "-=", "dst -= src"),
    AluOp("mul", BPF_MUL, "*=", "dst *= src"),
    AluOp("div", BPF_DIV, "/=", "dst = (src != 0) ? (dst / src) : 0, unsigned"),
    AluOp("sdiv", BPF_DIV, "s/=", "dst = (src != 0) ? (dst s/ src) : 0, signed, truncating (v4)", off=1),
    AluOp("or", BPF_OR, "|=", "dst |= src"),
    AluOp("and", BPF_AND, "&=", "dst &= src"),
    AluOp("lsh", BPF_LSH, "<<=", "dst <<= (src & (width-1))"),
    AluOp("rsh", BPF_RSH, ">>=", "dst >>= (src & (width-1)), logical"),
    AluOp("mod", BPF_MOD, "%=", "dst = (src != 0) ? (dst % src) : dst, unsigned"),
    AluOp("smod", BPF_MOD, "s%=", "dst = (src != 0) ? (dst s% src) : dst, sign of dividend (v4)", off=1),
    AluOp("xor", BPF_XOR, "^=", "dst ^= src"),
    AluOp("mov", BPF_MOV, "=", "dst = src"),
    AluOp("arsh", BPF_ARSH, "s>>=", "dst >>= (src & (width-1)), sign extending"),
)


@dataclass(frozen=True)
class JmpOp:
    """A conditional jump: op code, names, and the comparison it makes."""

    name: str
    code: int
    symbol: str
    signed: bool
    doc: str


JMP_OPS: tuple[JmpOp, ...] = (
    JmpOp("jeq", BPF_JEQ, "==", False, "PC += off if dst == src"),
    JmpOp("jgt", BPF_JGT, ">", False, "PC += off if dst > src, unsigned"),
    JmpOp("jge", BPF_JGE, ">=", False, "PC += off if dst >= src, unsigned"),
    JmpOp("jset", BPF_JSET, "&", False, "PC += off if dst & src"),
    JmpOp("jne", BPF_JNE, "!=", False, "PC += off if dst != src"),
    JmpOp("jsgt", BPF_JSGT, "s>", True, "PC += off if dst > src, signed"),
    JmpOp("jsge", BPF_JSGE, "s>=", True, "PC += off if dst >= src, signed"),
    JmpOp("jlt", BPF_JLT, "<", False, "PC += off if dst < src, unsigned"),
    JmpOp("jle", BPF_JLE, "<=", False, "PC += off if dst <= src, unsigned"),
    JmpOp("jslt", BPF_JSLT, "s<", True, "PC += off if dst < src, signed"),
    JmpOp("jsle", BPF_JSLE, "s<=", True, "PC += off if dst <= src, signed"),
)

ALU_BY_NAME = {op.name: op for op in ALU_OPS}
JMP_BY_NAME = {op.name: op for op in JMP_OPS}

# Atomic read-modify-write operations: imm value -> (op name, ubpf words, doc).
ATOMIC_OPS: tuple[tuple[int, str, str], ...] = (
    (BPF_ADD, "add", "*(dst + off) += src"),
    (BPF_OR, "or", "*(dst + off) |= src"),
    (BPF_AND, "and", "*(dst + off) &= src"),
    (BPF_XOR, "xor", "*(dst + off) ^= src"),
    (BPF_ADD | BPF_FETCH, "fetch_add", "src = *(dst + off); *(dst + off) += src (old value)"),
    (BPF_OR | BPF_FETCH, "fetch_or", "src = *(dst + off); *(dst + off) |= src (old value)"),
    (BPF_AND | BPF_FETCH, "fetch_and", "src = *(dst + off); *(dst + off) &= src (old value)"),
    (BPF_XOR | BPF_FETCH, "fetch_xor", "src = *(dst + off); *(dst + off) ^= src (old value)"),
    (BPF_XCHG, "xchg", "src, *(dst + off) = *(dst + off), src"),
    (BPF_CMPXCHG, "cmpxchg", "r0 = *(dst + off); if r0 (before) == old: *(dst + off) = src"),
)

# 64-bit immediate pseudo sources: src value -> (op name, operands, doc).
LDDW_KINDS: tuple[tuple[int, str, frozenset[str], str], ...] = (
    (0, "imm64", frozenset({"dst", "imm", "imm2"}), "dst = imm | imm2 << 32"),
    (BPF_PSEUDO_MAP_FD, "map_fd", frozenset({"dst", "imm"}), "dst = map_by_fd(imm)"),
    (BPF_PSEUDO_MAP_VALUE, "map_value", frozenset({"dst", "imm", "imm2"}),
     "dst = map_val(map_by_fd(imm)) + imm2"),
    (BPF_PSEUDO_BTF_ID, "btf_id", frozenset({"dst", "imm", "imm2"}),
     "dst = address of kernel variable with BTF id imm (imm2: module BTF fd)"),
    (BPF_PSEUDO_FUNC, "func", frozenset({"dst", "imm"}), "dst = address of subprogram at pc + imm + 1"),
    (BPF_PSEUDO_MAP_IDX, "map_idx", frozenset({"dst", "imm"}), "dst = map_by_idx(imm)"),
    (BPF_PSEUDO_MAP_IDX_VALUE, "map_idx_value", frozenset({"dst", "imm", "imm2"}),
     "dst = map_val(map_by_idx(imm)) + imm2"),
)
LDDW_KIND_BY_OP = {op: src for src, op, _, _ in LDDW_KINDS}

_SIZES = ((BPF_B, 8), (BPF_H, 16), (BPF_W, 32), (BPF_DW, 64))


def _group(kind_width: int, divmul: bool = False) -> str:
    """RFC 9669 section 2.2 conformance group of a base or divmul instruction."""
    return ("divmul" if divmul else "base") + ("64" if kind_width == 64 else "32")


def _build() -> tuple[Spec, ...]:
    specs: list[Spec] = []
    add = specs.append
    dst, src, off, imm = "dst", "src", "off", "imm"
    divmul = {"mul", "div", "sdiv", "mod", "smod"}

    # Arithmetic (RFC 9669 4.1): ALU is 32-bit with zero-extension, ALU64 64-bit.
    for cls, width, suffix in ((BPF_ALU64, 64, ""), (BPF_ALU, 32, "32")):
        for alu in ALU_OPS:
            version = 4 if alu.off else 1
            group = _group(width, alu.name in divmul)
            fixed = (("off", alu.off),) if alu.off else ()
            add(Spec(alu.name + suffix, cls | alu.code | BPF_K, "alu", alu.name, width,
                     frozenset({dst, imm}), fixed, version, group, alu.doc.replace("src", "imm")))
            add(Spec(alu.name + suffix, cls | alu.code | BPF_X, "alu", alu.name, width,
                     frozenset({dst, src}), fixed, version, group, alu.doc))
        add(Spec("neg" + suffix, cls | BPF_NEG | BPF_K, "neg", "neg", width,
                 frozenset({dst}), (), 1, _group(width), "dst = -dst"))
        for bits in (8, 16, 32):
            if bits == 32 and cls == BPF_ALU:
                continue
            add(Spec(f"movsx{bits}{width}", cls | BPF_MOV | BPF_X, "movsx", f"movsx{bits}", width,
                     frozenset({dst, src}), (("off", bits),), 4, _group(width),
                     f"dst = (s{bits}) src, sign-extended to {width} bits"))
    for bits in (16, 32, 64):
        group = _group(bits)
        add(Spec(f"le{bits}", BPF_ALU | BPF_END | BPF_TO_LE, "end", "le", bits, frozenset({dst}),
                 (("imm", bits),), 1, group, f"dst = htole{bits}(dst), zero-extending"))
        add(Spec(f"be{bits}", BPF_ALU | BPF_END | BPF_TO_BE, "end", "be", bits, frozenset({dst}),
                 (("imm", bits),), 1, group, f"dst = htobe{bits}(dst), zero-extending"))
        add(Spec(f"bswap{bits}", BPF_ALU64 | BPF_END | BPF_K, "end", "bswap", bits, frozenset({dst}),
                 (("imm", bits),), 4, group, f"dst = bswap{bits}(dst), unconditionally"))

    # Memory (RFC 9669 5.1, 5.2, 5.3).
    for size, bits in _SIZES:
        sfx = SIZE_SUFFIX[size]
        group = _group(bits)
        atomic_group = "atomic64" if bits == 64 else "atomic32"
        add(Spec(f"ldx{sfx}", BPF_LDX | BPF_MEM | size, "ldx", "ldx", bits, frozenset({dst, src, off}),
                 (), 1, group, f"dst = *(u{bits} *)(src + off)"))
        if bits != 64:
            add(Spec(f"ldxs{sfx}", BPF_LDX | BPF_MEMSX | size, "ldxs", "ldxs", bits,
                     frozenset({dst, src, off}), (), 4, group, f"dst = *(s{bits} *)(src + off), sign-extended"))
        add(Spec(f"st{sfx}", BPF_ST | BPF_MEM | size, "st", "st", bits, frozenset({dst, off, imm}),
                 (), 1, group, f"*(u{bits} *)(dst + off) = imm"))
        add(Spec(f"stx{sfx}", BPF_STX | BPF_MEM | size, "stx", "stx", bits, frozenset({dst, src, off}),
                 (), 1, group, f"*(u{bits} *)(dst + off) = src"))
        add(Spec(f"ldacq{sfx}", BPF_STX | BPF_ATOMIC | size, "load_acq", "load_acq", bits,
                 frozenset({dst, src, off}), (("imm", BPF_LOAD_ACQ),), 4, atomic_group,
                 f"dst = load_acquire((u{bits} *)(src + off)) (Linux 6.15)"))
        add(Spec(f"strel{sfx}", BPF_STX | BPF_ATOMIC | size, "store_rel", "store_rel", bits,
                 frozenset({dst, src, off}), (("imm", BPF_STORE_REL),), 4, atomic_group,
                 f"store_release((u{bits} *)(dst + off), src) (Linux 6.15)"))
    for size, bits, suffix in ((BPF_DW, 64, ""), (BPF_W, 32, "32")):
        for value, op, doc in ATOMIC_OPS:
            words = op.replace("_", " ")
            add(Spec(f"lock {words}{suffix}", BPF_STX | BPF_ATOMIC | size, "atomic", op, bits,
                     frozenset({dst, src, off}), (("imm", value),), 3, f"atomic{bits}", doc))

    # 64-bit immediates and legacy packet access (RFC 9669 5.4, 5.5).
    for pseudo, op, operands, doc in LDDW_KINDS:
        add(Spec("lddw", BPF_LD | BPF_IMM | BPF_DW, "lddw", op, 64, operands,
                 (("src", pseudo),) if pseudo else (), 1, "base64", doc))
    for size, bits in _SIZES[:3]:
        sfx = SIZE_SUFFIX[size]
        add(Spec(f"ldabs{sfx}", BPF_LD | BPF_ABS | size, "ldabs", "ldabs", bits, frozenset({imm}), (), 1,
                 "packet", f"r0 = ntoh(*(u{bits} *)(skb->data + imm))"))
        add(Spec(f"ldind{sfx}", BPF_LD | BPF_IND | size, "ldind", "ldind", bits, frozenset({src, imm}), (), 1,
                 "packet", f"r0 = ntoh(*(u{bits} *)(skb->data + src + imm))"))

    # Control flow (RFC 9669 4.3).  Versions: JLT/JLE/JSLT/JSLE came with v2,
    # the JMP32 class with v3, gotol with v4.
    add(Spec("ja", BPF_JMP | BPF_JA, "ja", "ja", 64, frozenset({off}), (), 1, "base32", "PC += off"))
    add(Spec("ja32", BPF_JMP32 | BPF_JA, "ja", "gotol", 32, frozenset({imm}), (), 4, "base32",
             "PC += imm (gotol)"))
    for cls, width, suffix in ((BPF_JMP, 64, ""), (BPF_JMP32, 32, "32")):
        for j in JMP_OPS:
            if cls == BPF_JMP32:
                version = 3
            else:
                version = 2 if j.code in (BPF_JLT, BPF_JLE, BPF_JSLT, BPF_JSLE) else 1
            group = "base64" if cls == BPF_JMP else "base32"
            add(Spec(j.name + suffix, cls | j.code | BPF_K, "jcond", j.name, width,
                     frozenset({dst, imm, off}), (), version, group, j.doc.replace("src", "imm")))
            add(Spec(j.name + suffix, cls | j.code | BPF_X, "jcond", j.name, width,
                     frozenset({dst, src, off}), (), version, group, j.doc))
    add(Spec("call", BPF_JMP | BPF_CALL, "call", "helper", 64, frozenset({imm}), (), 1, "base32",
             "call helper function number imm"))
    add(Spec("call local", BPF_JMP | BPF_CALL, "call", "local", 64, frozenset({imm}),
             (("src", BPF_PSEUDO_CALL),), 3, "base32", "call the subprogram at PC + imm + 1"))
    add(Spec("call runtime", BPF_JMP | BPF_CALL, "call", "kfunc", 64, frozenset({imm, off}),
             (("src", BPF_PSEUDO_KFUNC_CALL),), 3, "base32",
             "call the kernel function with BTF id imm (off: module BTF fd index)"))
    add(Spec("callx", BPF_JMP | BPF_CALL | BPF_X, "callx", "callx", 64, frozenset({dst}), (), 1, "callx",
             "call the function whose address (or helper id) is in dst"))
    add(Spec("exit", BPF_JMP | BPF_EXIT, "exit", "exit", 64, frozenset(), (), 1, "base32",
             "return r0 to the caller (or end the program)"))
    add(Spec("may_goto", BPF_JMP | BPF_JCOND, "may_goto", "may_goto", 64, frozenset({off}), (), 4, "base64",
             "PC += off once the loop budget is spent, else fall through (Linux 6.9)"))
    return tuple(specs)


SPECS: tuple[Spec, ...] = _build()

# Decode index: opcode -> the variants that share it, told apart by their fixed fields.
BY_CODE: dict[int, tuple[Spec, ...]] = {}
for _spec in SPECS:
    BY_CODE[_spec.code] = BY_CODE.get(_spec.code, ()) + (_spec,)
del _spec

# The fields that tell the variants of one opcode apart.
SELECTORS: dict[int, tuple[str, ...]] = {
    code: tuple(sorted({f for s in specs for f, _ in s.fixed}))
    for code, specs in BY_CODE.items()
}


def lookup(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> Spec | None:
    """The variant an encoded instruction belongs to, or None for an invalid encoding.

    A variant matches when each of its selecting fields has the selected value;
    variants of the same opcode that select nothing (e.g. `div`) match when the
    selecting fields of their siblings hold zero.
    """
    candidates = BY_CODE.get(code)
    if not candidates:
        return None
    fields = {"dst": dst, "src": src, "off": off, "imm": imm}
    selectors = SELECTORS[code]
    for spec in candidates:
        if all(fields[f] == spec.fixed_value(f) for f in selectors if f not in spec.operands):
            return spec
    return None

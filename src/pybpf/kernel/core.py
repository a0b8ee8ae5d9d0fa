"""CO-RE: rewriting a program's BTF.ext core_relo records against the running kernel's BTF.

What libbpf's relo_core.c does, for the record kinds clang emits
(include/uapi/linux/bpf.h, enum bpf_core_relo_kind): an access path of the
object's local type ("0:2:1": root index, then member or array indexes) is
matched by name in the kernel's type of the same kind and essential name
(the name up to "___", the flavour suffix), and the instruction carrying the
local answer gets the kernel's: a load's or store's `off`, an ALU's or a
lddw's immediate.  A relocation that cannot be satisfied poisons its
instruction with `call 0xbad2310` as libbpf does, so that the program fails
only if it reaches it (the verifier names the pc).
"""

from __future__ import annotations

import errno

from ..elf.btf import Btf, BtfType
from ..elf.btf_ext import CORE_RELO_KINDS, CoreRelo
from ..isa.insn import Insn, pcs
from .errors import BpfError

POISON = 0xBAD2310  # libbpf's "invalid CO-RE relocation" helper id
KIND = {name.removeprefix("BPF_CORE_"): value for value, name in enumerate(CORE_RELO_KINDS)}
FIELD_KINDS = {KIND[k] for k in ("FIELD_BYTE_OFFSET", "FIELD_BYTE_SIZE", "FIELD_EXISTS", "FIELD_SIGNED",
                                 "FIELD_LSHIFT_U64", "FIELD_RSHIFT_U64")}
TYPE_KINDS = {KIND[k] for k in ("TYPE_ID_LOCAL", "TYPE_ID_TARGET", "TYPE_EXISTS", "TYPE_SIZE", "TYPE_MATCHES")}
ENUM_KINDS = {KIND["ENUMVAL_EXISTS"], KIND["ENUMVAL_VALUE"]}
SIGNED = 1  # BTF_INT_SIGNED


class Unsatisfied(Exception):
    """The kernel has no match for the local type, member or enumerator."""


class Unmodeled(Exception):
    """The target cannot answer this relocation truthfully (the virtual kernel lacks the type's layout)."""


class KernelBtf:
    """A parsed BTF blob with a name index: `candidates(kind, name)` are the type ids CO-RE may match."""

    def __init__(self, btf: Btf):
        self.btf = btf
        self.by_name: dict[str, list[int]] = {}
        for t in btf.iter_types():
            if t.name:
                self.by_name.setdefault(t.name, []).append(t.id)

    def candidates(self, kind: str, name: str) -> list[int]:
        kinds = {"ENUM", "ENUM64"} if kind in ("ENUM", "ENUM64") else {kind}
        return [i for i in self.by_name.get(name, []) if self.btf[i].kind in kinds]


def essential_name(name: str) -> str:
    """`task_struct___old` and `task_struct` are the same type to CO-RE."""
    return name.split("___", 1)[0]


def _member(btf: Btf, t: BtfType, name: str) -> tuple[int, BtfType, object] | None:
    """(bit offset, owner, member) of `name` in struct/union t, looking inside anonymous members."""
    for m in t.members:
        if m.name == name:
            return m.offset, t, m
        if not m.name:
            inner = btf.resolve(m.type)
            if inner.kind in ("STRUCT", "UNION"):
                found = _member(btf, inner, name)
                if found:
                    return m.offset + found[0], found[1], found[2]
    return None


class Field:
    """Where a field access path lands in one BTF: bit offset, bitfield size, the field's type id."""

    def __init__(self, btf: Btf, root: int, access: list[int], local: Btf | None = None, local_root: int = 0):
        self.bit_offset, self.bitfield, self.type_id = 0, 0, root
        # the local BTF drives the walk (member names); the target follows by name
        lbtf, lt = (local, local.resolve(local_root)) if local is not None else (btf, btf.resolve(root))
        t = btf.resolve(root)
        self.bit_offset = access[0] * btf.size_of(root) * 8
        for index in access[1:]:
            if lt.kind in ("STRUCT", "UNION"):
                if t.kind not in ("STRUCT", "UNION") or index >= len(lt.members):
                    raise Unsatisfied(f"{t.kind.lower()} {t.name} is not a struct or union")
                lm = lt.members[index]
                if lm.name:
                    found = _member(btf, t, lm.name)
                    if found is None:
                        raise Unsatisfied(f"{t.kind.lower()} {t.name} has no member {lm.name}")
                    offset, _, m = found
                elif index < len(t.members):
                    offset, m = t.members[index].offset, t.members[index]
                else:
                    raise Unsatisfied(f"{t.kind.lower()} {t.name} has no member #{index}")
                self.bit_offset += offset
                self.bitfield, self.type_id = m.size, m.type
                lt, t = lbtf.resolve(lm.type), btf.resolve(m.type)
            elif lt.kind == "ARRAY":
                if t.kind != "ARRAY":
                    raise Unsatisfied(f"{t.name or t.kind} is not an array")
                self.bit_offset += index * btf.size_of(t.array[0]) * 8
                self.bitfield, self.type_id = 0, t.array[0]
                lt, t = lbtf.resolve(lt.array[0]), btf.resolve(t.array[0])
            else:
                raise Unsatisfied(f"access index {index} into {lt.kind}")
        self.btf = btf

    def byte_size_and_offset(self) -> tuple[int, int]:
        size = self.btf.size_of(self.type_id)
        if not self.bitfield:
            return size, self.bit_offset // 8
        offset = self.bit_offset // 8 // size * size
        while self.bit_offset + self.bitfield - offset * 8 > size * 8:  # a load wide enough for the bits
            size *= 2
            offset = self.bit_offset // 8 // size * size
        return size, offset

    def value(self, kind: int) -> int:
        size, offset = self.byte_size_and_offset()
        if kind == KIND["FIELD_BYTE_OFFSET"]:
            return offset
        if kind == KIND["FIELD_BYTE_SIZE"]:
            return size
        if kind == KIND["FIELD_EXISTS"]:
            return 1
        if kind == KIND["FIELD_SIGNED"]:
            t = self.btf.resolve(self.type_id)
            return int(t.kind in ("ENUM", "ENUM64") or bool(t.int_encoding & SIGNED))
        if kind == KIND["FIELD_LSHIFT_U64"]:
            return 64 - (self.bit_offset + (self.bitfield or size * 8) - offset * 8)
        return 64 - (self.bitfield or size * 8)  # FIELD_RSHIFT_U64


def relocation_value(local: Btf, target, relo: CoreRelo) -> int:
    """What the instruction of `relo` must carry on the kernel of `target` (a KernelBtf, or a target with
    `target_for(name, kind)` choosing the KernelBtf that answers for a type, or raising Unmodeled)."""
    access = [int(a) for a in relo.access.split(":") if a != ""]
    if relo.kind == KIND["TYPE_ID_LOCAL"]:
        return relo.type_id
    lt = local[relo.type_id] if relo.kind in TYPE_KINDS else local.resolve(relo.type_id)
    name = essential_name(lt.name)
    if hasattr(target, "target_for"):
        target = target.target_for(name, relo.kind)
    kind = {"ENUM64": "ENUM"}.get(lt.kind, lt.kind)
    candidates = target.candidates(kind, name) if name else []
    exists_kind = relo.kind in (KIND["FIELD_EXISTS"], KIND["TYPE_EXISTS"], KIND["TYPE_MATCHES"],
                                KIND["ENUMVAL_EXISTS"])
    reasons = []
    for cand in candidates:
        try:
            if relo.kind in FIELD_KINDS:
                return Field(target.btf, cand, access, local, relo.type_id).value(relo.kind)
            if relo.kind in TYPE_KINDS:
                return {KIND["TYPE_ID_TARGET"]: cand, KIND["TYPE_SIZE"]: target.btf.size_of(cand)}.get(relo.kind, 1)
            enumerator = lt.members[access[0]].name
            for m in target.btf[cand].members:
                if m.name == enumerator:
                    return 1 if relo.kind == KIND["ENUMVAL_EXISTS"] else m.offset
            raise Unsatisfied(f"enum {name} has no {enumerator}")
        except Unsatisfied as why:
            reasons.append(str(why))
    if exists_kind:
        return 0
    raise Unsatisfied("; ".join(reasons) or f"the kernel has no {kind.lower()} {name or '(anonymous)'}")


def _patch(insn: Insn, value: int) -> Insn:
    cls = insn.code & 7
    if insn.code == 0x18:  # lddw
        low, high = value & 0xFFFFFFFF, (value >> 32) & 0xFFFFFFFF
        return insn.replace(imm=low - (1 << 32) if low >> 31 else low, imm2=high - (1 << 32) if high >> 31 else high)
    if cls in (4, 7) and not insn.code & 8:  # ALU/ALU64 with an immediate
        value &= 0xFFFFFFFF
        return insn.replace(imm=value - (1 << 32) if value >> 31 else value)
    if cls in (1, 2, 3):  # LDX, ST, STX: the field's offset
        if not -32768 <= value < 32768:
            raise Unsatisfied(f"offset {value} does not fit an instruction's off")
        return insn.replace(off=value)
    raise Unsatisfied(f"instruction {insn.code:#04x} cannot carry a CO-RE value")


def relocate(program, local: Btf, target, poisoned: dict[int, str] | None = None) -> list[Insn]:
    """The program's instructions with every CO-RE relocation applied against `target` (see
    relocation_value); a relocation the target cannot answer (Unmodeled) is a load error naming it.
    `poisoned`, if given, gets pc -> what each poisoned relocation is and why (for the verifier's refusal)."""
    insns = list(program.insns)
    index = {pc: i for i, pc in enumerate(pcs(insns))}
    poison: dict[int, Insn] = {}
    for pc, relo in program.core_relos:
        i = index.get(pc)
        if i is None:
            raise BpfError("CO-RE", errno.EINVAL, f"{program.name}: relocation at pc {pc} is not an instruction")
        try:
            insns[i] = _patch(insns[i], relocation_value(local, target, relo))
        except Unmodeled as why:
            raise BpfError("CO-RE", errno.EINVAL, f"CO-RE relocation at pc {pc}, "
                           f"{relo.describe(local)}: {why}") from None
        except Unsatisfied as why:
            poison[i] = Insn(0x85, 0, 0, 0, POISON)  # fails at verification only if reached
            if poisoned is not None:
                poisoned[pc] = f"CO-RE relocation at pc {pc}, {relo.describe(local)}: {why}"
    out = []
    for i, insn in enumerate(insns):
        # a lddw's both slots are poisoned, as libbpf does, so the verifier never sees half of one
        out += [poison[i]] * insn.size if i in poison else [insn]
    return out

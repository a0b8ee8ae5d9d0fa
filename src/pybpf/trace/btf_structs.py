"""The running kernel's structs for --kernel linux: `struct NAME` / `union NAME` from vmlinux BTF.

bpftrace takes `curtask`'s type and the targets of casts like `(struct task_struct *)arg0` from the
kernel's BTF; here `BtfStructs` is a mapping that converts a struct or union, on first lookup, into the
same `Type` a script's own declaration lays out (trace/structs.py), so `->`, `.`, printing and
`sizeof` work on both alike:

- ints and enums by size and sign, `_Bool` as bool; a float as its bytes (an unsigned int);
- a pointer to a struct or union is a placeholder named after it, completed (converted) when the
  script follows it, so converting `task_struct` does not convert the whole kernel;
- `char[N]` is string(N), other arrays array_of;
- a struct or union held by value is converted in place; the fields of an anonymous one are the
  enclosing struct's own (C11: `p->a` reaches `struct { union { int a; }; }`);
- bitfields as (bit shift, width) at their byte, as layout() has them;
- typedefs, const, volatile, restrict and type tags are stripped.

Reading vmlinux BTF takes seconds; it is read once a process (kernel.linux.btf_vmlinux) and every
converted struct is cached by type id.
"""

from __future__ import annotations

from collections.abc import Mapping

from .types import BOOL, Type, array_of, c_layout, integer, pointer_to, string

_BYTE = integer(1, False)  # what `void *` and a function pointer point to (structs.resolve: `void *`)


class BtfStructs(Mapping):
    """"struct NAME" / "union NAME" -> its Type, converted lazily from a kernel's BTF (a KernelBtf)."""

    def __init__(self, load):
        self._load = load  # () -> KernelBtf, called on the first lookup (reading vmlinux takes seconds)
        self._kernel_btf = None
        self._by_id: dict[int, Type] = {}

    @property
    def btf(self):
        return self._index().btf

    def _index(self):
        if self._kernel_btf is None:
            self._kernel_btf = self._load()
        return self._kernel_btf

    def _ids(self, name: object) -> list[int]:
        kind, _, tag = name.partition(" ") if isinstance(name, str) else ("", "", "")
        if kind not in ("struct", "union") or not tag:
            return []
        return self._index().candidates(kind.upper(), tag)

    def __getitem__(self, name: str) -> Type:
        ids = self._ids(name)
        if not ids:
            raise KeyError(name)
        return self._composite(ids[0])

    def __contains__(self, name: object) -> bool:
        return bool(self._ids(name))

    def __iter__(self):
        return iter(())  # the kernel's structs are looked up by name, never listed

    def __len__(self) -> int:
        return 0

    # -- conversion ----------------------------------------------------------------------------
    def _composite(self, type_id: int) -> Type:
        t = self.btf.resolve(type_id)
        cached = self._by_id.get(t.id)
        if cached is not None:
            return cached
        names, items, offsets, bitfields = [], [], [], []
        self._members(t, 0, names, items, offsets, bitfields)
        align = max((c_layout(item)[1] for item in items), default=1)
        if t.size_or_type % align:  # a packed struct
            align = 1
        kind = t.kind.lower()
        result = Type("struct", t.size_or_type, items=tuple(items), names=tuple(names), offsets=tuple(offsets),
                      bitfields=tuple(bitfields), name=f"{kind} {t.name or '(anonymous)'}", align=align)
        self._by_id[t.id] = result
        return result

    def _members(self, t, base_bits: int, names, items, offsets, bitfields) -> None:
        for m in t.members:
            bit, width = base_bits + m.offset, m.size
            target = self.btf.resolve(m.type)
            if not m.name:
                if target.kind in ("STRUCT", "UNION"):
                    self._members(target, bit, names, items, offsets, bitfields)
                continue
            if target.kind == "INT" and not width and target.int_bits != target.size_or_type * 8:
                bit, width = bit + target.int_offset, target.int_bits  # a bitfield without kind_flag
            items.append(self._type(m.type))
            names.append(m.name)
            offsets.append(bit // 8)
            bitfields.append((bit % 8, width) if width else (0, 0))

    def _type(self, type_id: int) -> Type:
        t = self.btf.resolve(type_id)
        if t.kind == "INT":
            if t.int_encoding & 4:
                return BOOL
            return _integer(t.size_or_type, bool(t.int_encoding & 1))
        if t.kind in ("ENUM", "ENUM64"):
            return _integer(t.size_or_type, t.kind_flag)
        if t.kind == "FLOAT":
            return _integer(t.size_or_type, False)
        if t.kind in ("STRUCT", "UNION"):
            return self._composite(t.id)
        if t.kind == "PTR":
            return pointer_to(self._pointee(t.type))
        if t.kind == "ARRAY":
            element_id, _, count = t.array
            element = self.btf.resolve(element_id)
            if element.kind == "INT" and element.size_or_type == 1 and "char" in element.name:
                return string(count)
            return array_of(self._type(element_id), count)
        return _BYTE  # void, a function: nothing a script reads as a field

    def _pointee(self, type_id: int) -> Type:
        t = self.btf.resolve(type_id)
        if t.kind in ("STRUCT", "UNION", "FWD") and t.name:
            kind = ("union" if t.kind_flag else "struct") if t.kind == "FWD" else t.kind.lower()
            return Type("struct", 0, name=f"{kind} {t.name}")  # completed by name when followed
        if t.kind in ("VOID", "FUNC_PROTO", "FWD"):
            return _BYTE
        return self._type(t.id)


def _integer(size: int, signed: bool) -> Type:
    """An integer field; a size bpftrace has no integer for (__int128) as its bytes."""
    return integer(size, signed) if size in (1, 2, 4, 8) else array_of(_BYTE, size)


def vmlinux_structs() -> BtfStructs:
    """The running kernel's structs, read from /sys/kernel/btf/vmlinux on first lookup (the BTF and
    the converted structs are cached a process); a kernel without BTF has none."""
    global _VMLINUX
    if _VMLINUX is None:
        _VMLINUX = BtfStructs(_load_vmlinux)
    return _VMLINUX


def _load_vmlinux():
    from ..kernel.core import KernelBtf
    from ..kernel.errors import BpfError
    from ..kernel.linux.btf_vmlinux import vmlinux_btf
    from ..elf.btf import Btf
    try:
        return vmlinux_btf()
    except BpfError:  # no CONFIG_DEBUG_INFO_BTF: no kernel structs (curtask's fields are then unknown)
        return KernelBtf(Btf([], b""))


_VMLINUX: BtfStructs | None = None

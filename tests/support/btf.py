"""Raw BTF built by hand for tests: the few kinds a program's signature needs."""

from __future__ import annotations

import struct

KINDS = {"INT": 1, "PTR": 2, "STRUCT": 4, "FUNC": 12, "FUNC_PROTO": 13, "DECL_TAG": 17}


class BtfBuilder:
    """Raw BTF for a test: int, pointers, structs, functions with named parameters and decl tags."""

    def __init__(self) -> None:
        self.strings = bytearray(b"\0")
        self.types: list[bytes] = []

    def _name(self, name: str) -> int:
        if not name:
            return 0
        self.strings += name.encode() + b"\0"
        return len(self.strings) - len(name) - 1

    def add(self, kind: str, name: str, vlen: int, size_or_type: int, extra: bytes = b"") -> int:
        self.types.append(struct.pack("<III", self._name(name), KINDS[kind] << 24 | vlen, size_or_type) + extra)
        return len(self.types)

    def int(self, name: str = "int", size: int = 4) -> int:
        return self.add("INT", name, 0, size, struct.pack("<I", 1 << 24 | size * 8))

    def ptr(self, target: int) -> int:
        return self.add("PTR", "", 0, target)

    def struct(self, name: str, size: int) -> int:
        return self.add("STRUCT", name, 0, size)

    def func(self, name: str, ret: int, params: list[tuple[str, int]], linkage: int = 1) -> int:
        extra = b"".join(struct.pack("<II", self._name(pname), ptype) for pname, ptype in params)
        proto = self.add("FUNC_PROTO", "", len(params), ret, extra)
        return self.add("FUNC", name, linkage, proto)

    def tag(self, name: str, func: int, index: int) -> int:
        return self.add("DECL_TAG", name, 0, func, struct.pack("<i", index))

    def data(self) -> bytes:
        body = b"".join(self.types)
        header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(body), len(body), len(self.strings))
        return header + body + bytes(self.strings)

"""BTF.ext: per-section function info, line info and CO-RE relocation records.

Layout (Documentation/bpf/btf.rst, "BTF.ext section"): a header with the
offsets and lengths of the three sub-sections (relative to the end of the
header); each sub-section starts with its record size, then for each ELF
section: the section name's string offset, the record count, the records.
Instruction offsets are bytes from the start of the section.

CO-RE relocation records are parsed and described here; applying them
against a kernel's BTF is the kernel backend's business.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .btf import Btf
from .errors import ElfError


@dataclass(frozen=True)
class FuncInfo:
    insn_off: int  # bytes into the section
    type_id: int  # a BTF FUNC


@dataclass(frozen=True)
class LineInfo:
    insn_off: int
    file_name: str
    line: str  # the source text of the line
    line_num: int
    column: int
    file_name_off: int = 0  # the two strings' offsets in .BTF, as BPF_PROG_LOAD's line_info takes them
    line_off: int = 0


# enum bpf_core_relo_kind (include/uapi/linux/bpf.h), in the kernel's spelling.
CORE_RELO_KINDS = ("BPF_CORE_FIELD_BYTE_OFFSET", "BPF_CORE_FIELD_BYTE_SIZE", "BPF_CORE_FIELD_EXISTS",
                   "BPF_CORE_FIELD_SIGNED", "BPF_CORE_FIELD_LSHIFT_U64", "BPF_CORE_FIELD_RSHIFT_U64",
                   "BPF_CORE_TYPE_ID_LOCAL", "BPF_CORE_TYPE_ID_TARGET", "BPF_CORE_TYPE_EXISTS",
                   "BPF_CORE_TYPE_SIZE", "BPF_CORE_ENUMVAL_EXISTS", "BPF_CORE_ENUMVAL_VALUE",
                   "BPF_CORE_TYPE_MATCHES")


@dataclass(frozen=True)
class CoreRelo:
    insn_off: int
    type_id: int
    access: str  # "0:1:2": the access path
    kind: int  # enum bpf_core_relo_kind

    @property
    def kind_name(self) -> str:
        """`field_byte_offset`, `type_size` ... (the kind without its BPF_CORE_ prefix)."""
        if 0 <= self.kind < len(CORE_RELO_KINDS):
            return CORE_RELO_KINDS[self.kind].removeprefix("BPF_CORE_").lower()
        return f"kind {self.kind}"

    def check(self, btf: Btf) -> None:
        """What a loader checks before resolving the relocation (libbpf's bpf_core_parse_spec): a known kind,
        a type of the object's BTF, an access string of indices ("0:1:2"); an ElfError names what is wrong."""
        where = f".BTF.ext: CO-RE relocation at insn offset {self.insn_off}"
        if not 0 <= self.kind < len(CORE_RELO_KINDS):
            raise ElfError(f"{where}: unknown kind {self.kind}")
        if not 0 <= self.type_id < len(btf.types):
            raise ElfError(f"{where}: type id {self.type_id} is not in .BTF ({len(btf)} types)")
        if not all(part.isdigit() and part.isascii() for part in self.access.split(":")):
            raise ElfError(f"{where}: access string {self.access[:40]!r} is not indices separated by ':'")

    def describe(self, btf: Btf) -> str:
        """`field_byte_offset struct task_struct.mm (0:2)`, `enumval_value enum state::DEAD (1)`."""
        try:
            access = [int(part) for part in self.access.split(":")]
        except ValueError:
            return f"{self.kind_name} [{self.type_id}] {self.access!r}"
        t = btf.resolve(self.type_id)
        if self.kind_name.startswith("enumval") and t.kind in ("ENUM", "ENUM64") and access[0] < len(t.members):
            target = f"{btf.describe(self.type_id)}::{t.members[access[0]].name}"
        elif self.kind_name.startswith("field"):
            target = btf.member_path(self.type_id, access)
        else:
            target = btf.describe(self.type_id)
        return f"{self.kind_name} {target} ({self.access})"


@dataclass
class BtfExt:
    func_info: dict[str, list[FuncInfo]]
    line_info: dict[str, list[LineInfo]]
    core_relos: dict[str, list[CoreRelo]]


def _records(data: bytes, start: int, length: int, min_size: int, what: str):
    """Yield (section name offset, record bytes) of one sub-section."""
    if length == 0:
        return
    end = start + length
    if end > len(data) or length < 4:
        raise ElfError(f".BTF.ext: {what} runs past the end of the section")
    (rec_size,) = struct.unpack_from("<I", data, start)
    if rec_size < min_size:
        raise ElfError(f".BTF.ext: {what} record size {rec_size} is below {min_size}")
    pos = start + 4
    while pos < end:
        if pos + 8 > end:
            raise ElfError(f".BTF.ext: truncated {what} at offset {pos}")
        sec_off, count = struct.unpack_from("<II", data, pos)
        pos += 8
        if pos + count * rec_size > end:
            raise ElfError(f".BTF.ext: {what} for section at string {sec_off} runs past the end")
        for i in range(count):
            yield sec_off, data[pos + i * rec_size: pos + (i + 1) * rec_size]
        pos += count * rec_size


def parse_btf_ext(data: bytes, btf: Btf) -> BtfExt:
    if len(data) < 24:
        raise ElfError(f".BTF.ext: {len(data)} bytes is too short for its header")
    magic, version, _flags, hdr_len = struct.unpack_from("<HBBI", data, 0)
    if magic != 0xEB9F:
        raise ElfError(f".BTF.ext: bad magic {magic:#06x}")
    if version != 1:
        raise ElfError(f".BTF.ext: version {version} is not supported (expected 1)")
    if not 24 <= hdr_len <= len(data):
        raise ElfError(f".BTF.ext: header length {hdr_len} does not fit the section ({len(data)} bytes)")
    fi_off, fi_len, li_off, li_len = struct.unpack_from("<IIII", data, 8)
    cr_off = cr_len = 0
    if hdr_len >= 32 and len(data) >= 32:
        cr_off, cr_len = struct.unpack_from("<II", data, 24)
    out = BtfExt({}, {}, {})
    for sec, rec in _records(data, hdr_len + fi_off, fi_len, 8, "func_info"):
        insn_off, type_id = struct.unpack_from("<II", rec)
        out.func_info.setdefault(btf.string(sec), []).append(FuncInfo(insn_off, type_id))
    for sec, rec in _records(data, hdr_len + li_off, li_len, 16, "line_info"):
        insn_off, file_off, line_off, line_col = struct.unpack_from("<IIII", rec)
        out.line_info.setdefault(btf.string(sec), []).append(
            LineInfo(insn_off, btf.string(file_off), btf.string(line_off), line_col >> 10, line_col & 0x3FF,
                     file_off, line_off))
    for sec, rec in _records(data, hdr_len + cr_off, cr_len, 16, "core_relo"):
        insn_off, type_id, access_off, kind = struct.unpack_from("<IIII", rec)
        out.core_relos.setdefault(btf.string(sec), []).append(
            CoreRelo(insn_off, type_id, btf.string(access_off), kind))
    return out

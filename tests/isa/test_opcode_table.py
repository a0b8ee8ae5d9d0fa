"""The opcode table itself: complete, unambiguous, and true to RFC 9669."""

import itertools

import pytest

from pybpf.isa import opcodes as op
from pybpf.isa.opcodes import SPECS, lookup


def test_every_variant_is_selected_by_exactly_one_row():
    keys = [(s.code, s.fixed) for s in SPECS]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.name}-{s.code:#04x}-{s.op}")
def test_lookup_finds_each_row_from_its_encoding(spec):
    fields = dict(spec.fixed)
    assert lookup(spec.code, fields.get("dst", 0), fields.get("src", 0),
                  fields.get("off", 0), fields.get("imm", 0)) is spec


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.name}-{s.code:#04x}-{s.op}")
def test_operand_reserved_and_selector_fields_partition_the_instruction(spec):
    fixed = {f for f, _ in spec.fixed}
    operands = spec.operands - {"imm2"}
    reserved = set(spec.reserved)
    assert operands | fixed | reserved == set(op.FIELDS)
    assert not (operands & fixed) and not (operands & reserved) and not (fixed & reserved)


def test_every_opcode_byte_outside_the_table_is_invalid():
    valid = {s.code for s in SPECS}
    for code in range(256):
        if code not in valid:
            assert lookup(code) is None, hex(code)
    # RFC 9669 defines 0x20..0x50 packet loads only for W/H/B and no DW absolute load.
    assert 0x38 not in valid and 0x58 not in valid


def test_class_counts_match_rfc9669():
    by_kind = {}
    for s in SPECS:
        by_kind.setdefault(s.kind, []).append(s)
    assert len(by_kind["alu"]) == 2 * 2 * 14  # ALU and ALU64, K and X, 14 operations
    assert len(by_kind["jcond"]) == 2 * 2 * 11
    assert len(by_kind["atomic"]) == 2 * 10
    assert len(by_kind["lddw"]) == 7  # imm64 and six pseudo sources
    assert len(by_kind["end"]) == 9
    assert len(by_kind["movsx"]) == 5


@pytest.mark.parametrize("name,version", [
    ("add", 1), ("add32", 1), ("jlt", 2), ("jsle", 2), ("jeq32", 3), ("lock add", 3),
    ("lock cmpxchg32", 3), ("sdiv", 4), ("smod32", 4), ("movsx864", 4), ("ldxsb", 4),
    ("bswap16", 4), ("ja32", 4), ("be64", 1), ("callx", 1),
])
def test_cpu_versions(name, version):
    assert {s.version for s in SPECS if s.name == name} == {version}


@pytest.mark.parametrize("code,group", [
    (0x07, "base64"), (0x04, "base32"), (0x27, "divmul64"), (0x9c, "divmul32"),
    (0xc3, "atomic32"), (0xdb, "atomic64"), (0x20, "packet"), (0x61, "base32"), (0x79, "base64"),
    (0x8d, "callx"),
])
def test_conformance_groups(code, group):
    assert {s.group for s in SPECS if s.code == code} == {group}


def test_sdiv_and_div_differ_only_in_offset():
    div, sdiv = lookup(0x3f, off=0), lookup(0x3f, off=1)
    assert (div.op, sdiv.op) == ("div", "sdiv")
    assert lookup(0x3f, off=2) is None


def test_atomic_imm_selects_operation():
    ops = {s.fixed_value("imm"): s.op for s in SPECS if s.code == 0xdb and s.kind == "atomic"}
    assert ops == {0x00: "add", 0x01: "fetch_add", 0x40: "or", 0x41: "fetch_or", 0x50: "and",
                   0x51: "fetch_and", 0xa0: "xor", 0xa1: "fetch_xor", 0xe1: "xchg", 0xf1: "cmpxchg"}
    assert lookup(0xdb, imm=0x02) is None


def test_every_spec_has_documented_semantics():
    for s in SPECS:
        assert s.doc, s


def test_mnemonics_are_unique_per_shape():
    # Same ubpf mnemonic means same opcode family: K/X siblings, lddw pseudo forms.
    for name, group in itertools.groupby(sorted(SPECS, key=lambda s: s.name), key=lambda s: s.name):
        kinds = {s.kind for s in group}
        assert len(kinds) == 1, (name, kinds)

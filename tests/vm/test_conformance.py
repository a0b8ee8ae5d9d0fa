"""bpf_conformance: every instruction test on every engine, and the negative files rejected.

The corpus is ../shared/corpus/bpf_conformance from the repository root (MIT
licence beside it), parsed as bpf_conformance's own parser does
(support/conformance_data.py).  An engine passes a test when r0 equals the
`-- result`, under the plugin calling convention of `pybpf.vm.run` (r1 = the
`-- mem` bytes, r2 = their length), at cpu v4 with the callx group.  A
negative file with an `-- error` section passes when the program is refused
at any stage: reading the file, assembling, decoding, the static check
(e.g. error.data reads r0 before writing it) or running.
"""

from __future__ import annotations

import pytest

from pybpf.errors import PybpfError
from pybpf.isa import encode
from pybpf.isa.asm import assemble
from support.conformance_data import BadTestFile, parse
from support.engines import ENGINES
from support.paths import CORPUS

ROOT = CORPUS / "bpf_conformance"
TESTS = sorted((ROOT / "tests").glob("*.data"))
NEGATIVE = sorted(p for p in (ROOT / "negative").glob("*.data") if "-- error" in p.read_text())
MISSING = f"bpf_conformance corpus not found under {ROOT}"


@pytest.mark.skipif(not TESTS, reason=MISSING)
@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize("path", TESTS, ids=lambda p: p.stem)
def test_conformance(engine, path):
    test = parse(path)
    assert test.result is not None and not test.expects_error, f"{path.name} is not a positive test"
    result = ENGINES[engine](test.program(), test.memory)
    assert result.r0 == test.result, f"{path.name}: r0 = {result.r0:#x}, expected {test.result:#x}"


@pytest.mark.skipif(not NEGATIVE, reason=MISSING)
@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize("path", NEGATIVE, ids=lambda p: p.stem)
def test_negative_is_rejected(engine, path):
    with pytest.raises((PybpfError, BadTestFile)):
        test = parse(path)
        ENGINES[engine](test.program(), test.memory)


@pytest.mark.skipif(not TESTS, reason=MISSING)
def test_asm_and_raw_agree_where_a_file_has_both():
    both = [parse(p) for p in TESTS if "-- raw" in p.read_text() and "-- asm" in p.read_text()]
    assert both
    for test in both:
        assert encode(assemble(test.asm, "ubpf")) == test.raw_bytes(), test.path.name


@pytest.mark.skipif(not TESTS, reason=MISSING)
def test_corpus_is_complete():
    assert len(TESTS) >= 300 and len(NEGATIVE) >= 50

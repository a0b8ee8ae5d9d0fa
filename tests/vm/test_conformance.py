"""bpf_conformance: every instruction test on every engine, and the negative files rejected.

The corpus is ../shared/corpus/bpf_conformance (MIT licence beside it).  An
engine passes a test when r0 equals the `-- result`; a negative file that
names an `-- error` passes when the program is refused at any stage:
parsing the file, assembling, decoding, the structural check, or running.
"""

from __future__ import annotations

import pytest

from support.paths import CORPUS
from support.engines import ENGINES
from support.conformance_data import BadTestFile, parse
from pybpf.errors import PybpfError

TESTS = sorted((CORPUS / "bpf_conformance" / "tests").glob("*.data"))
NEGATIVE = sorted(p for p in (CORPUS / "bpf_conformance" / "negative").glob("*.data")
                  if "-- error" in p.read_text())


@pytest.mark.skipif(not TESTS, reason=f"bpf_conformance corpus not found under {CORPUS}")
@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize("path", TESTS, ids=lambda p: p.stem)
def test_conformance(engine, path):
    test = parse(path)
    result = ENGINES[engine](test.program(), test.memory)
    assert result.r0 == test.result, f"{path.name}: r0 = {result.r0:#x}, expected {test.result:#x}"


@pytest.mark.skipif(not NEGATIVE, reason=f"bpf_conformance negative corpus not found under {CORPUS}")
@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize("path", NEGATIVE, ids=lambda p: p.stem)
def test_negative_is_rejected(engine, path):
    with pytest.raises((PybpfError, BadTestFile)):
        test = parse(path)
        ENGINES[engine](test.program(), test.memory)


def test_corpus_is_complete():
    assert len(TESTS) >= 300 and len(NEGATIVE) >= 50

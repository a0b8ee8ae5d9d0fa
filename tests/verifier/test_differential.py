"""pybpf's verifier against the live Linux verifier on generated programs (tools/verifier_differential.py).

A few hundred programs from support/vgen.py are loaded into the running
kernel and verified by pybpf.  No program the kernel rejects may be
accepted by us unless its digest is listed in differential_known.txt with
the reason; a listed program that now agrees must leave the list.  The
generator must keep its mix useful: the kernel accepts between a third and
two thirds of the programs.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

from support.kernel import needs_kernel
from support.paths import REPO

SPEC = importlib.util.spec_from_file_location("verifier_differential", REPO / "tools" / "verifier_differential.py")
runner = sys.modules["verifier_differential"] = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(runner)

PROGRAMS = 300
pytestmark = [pytest.mark.kernel, needs_kernel]


@pytest.fixture(scope="module")
def results():
    return runner.run(PROGRAMS)


def test_no_unlisted_program_the_kernel_rejects_is_accepted(results):
    known = runner.known()
    unsafe = [r for r in results if r.unsafe_accept and r.gen.digest not in known]
    assert not unsafe, runner.report(unsafe)


def test_listed_unsafe_accepts_still_disagree(results):
    """A listed digest that the generator still makes and that now agrees is stale: remove its line."""
    known = runner.known()
    stale = {r.gen.digest for r in results if r.gen.digest in known and r.agrees and "fault" not in known[r.gen.digest]}
    assert not stale


def test_the_mix_is_useful(results):
    accepted = sum(r.kernel for r in results)
    assert PROGRAMS / 3 < accepted < 2 * PROGRAMS / 3
    assert len({r.gen.template for r in results}) == len(runner.vgen.TEMPLATES)


def test_the_report_lists_every_disagreement(results):
    text = runner.report(results)
    wrong = [r for r in results if not r.agrees]
    assert f"verdicts agree {PROGRAMS - len(wrong)}/{PROGRAMS}" in text
    for r in wrong:
        assert f"digest {r.gen.digest}" in text

"""The Linux verifier's own selftests, replayed through pybpf's verifier.

Verdicts are compared with what the 6.18 kernel did (kernel-6.18-*.json).
The figures are floors that only move up; a program the kernel rejects and
we accept is listed in known_unsafe_accepts.txt and the list may only shrink.
"""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from functools import lru_cache

import pytest

from support.paths import REPO, corpus_dir

SPEC = importlib.util.spec_from_file_location("verifier_corpus", REPO / "tools" / "verifier_corpus.py")
runner = sys.modules["verifier_corpus"] = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(runner)

KNOWN_UNSAFE = set((REPO / "tests" / "verifier" / "known_unsafe_accepts.txt").read_text().splitlines())
# (file, mode) -> lowest verdict agreement this landing holds, in percent.
FLOORS = {("corpus.json", "priv"): 98.6, ("corpus.json", "unpriv"): 99.0,
          ("progs_corpus.json", "priv"): 95.8, ("progs_corpus.json", "unpriv"): 99.5}
LIMIT = 20_000  # processed instructions per program; the few longer loop tests count as disagreements


@lru_cache(maxsize=None)
def outcomes(mode: str):
    return tuple(runner.replay(corpus_dir("kernel_verifier"), (mode,), limit=LIMIT))


@pytest.mark.parametrize("mode", ["priv", "unpriv"])
@pytest.mark.parametrize("file", ["corpus.json", "progs_corpus.json"])
def test_verdicts_agree_with_linux(file, mode):
    group = [o for o in outcomes(mode) if o.file == file]
    assert len(group) > 200
    agree = sum(o.agrees for o in group)
    assert 100 * agree / len(group) >= FLOORS[(file, mode)], runner.summary(group)


@pytest.mark.parametrize("mode", ["priv", "unpriv"])
def test_no_new_unsafe_accepts(mode):
    unsafe = {f"{o.mode} {o.name}" for o in outcomes(mode) if o.unsafe_accept}
    assert unsafe <= KNOWN_UNSAFE, sorted(unsafe - KNOWN_UNSAFE)


@pytest.mark.parametrize("mode", ["priv", "unpriv"])
def test_rejections_say_why_in_the_kernels_words(mode):
    refused = [o for o in outcomes(mode) if not o.kernel_loaded and not o.accepted]
    said = sum(o.errstr_ok for o in refused)
    assert 100 * said / len(refused) >= 85.0


# -- return values on the reference interpreter --------------------------------------------------
KNOWN_RETVAL_DIFFERENCES = {line for line in (REPO / "tests" / "verifier" / "known_retval_differences.txt")
                            .read_text().splitlines() if line and not line.startswith("#")}
# (file, mode) -> fewest accepted programs whose return values agree with Linux's (of those that can run).
RETVAL_FLOORS = {("corpus.json", "priv"): 210, ("corpus.json", "unpriv"): 108,
                 ("progs_corpus.json", "priv"): 410, ("progs_corpus.json", "unpriv"): 195}


@lru_cache(maxsize=None)
def runs(mode: str):
    return tuple(runner.run_retvals(corpus_dir("kernel_verifier"), (mode,), limit=LIMIT))


@pytest.mark.parametrize("mode", ["priv", "unpriv"])
@pytest.mark.parametrize("file", ["corpus.json", "progs_corpus.json"])
def test_accepted_programs_return_what_linux_returns(file, mode):
    """Every accepted test with a retval, run by BPF_PROG_TEST_RUN on a VirtualKernel with the selftest's maps,
    returns what the 6.18 kernel returned.  Tests the virtual kernel cannot set up or run (helpers it does
    not implement, prog arrays filled from the object, its load check refusing dead code) are counted apart."""
    group = [r for r in runs(mode) if r.file == file]
    differ = {f"{r.mode} {r.name}" for r in group if r.status == "differ"}
    assert differ <= KNOWN_RETVAL_DIFFERENCES, sorted((r.name, r.why) for r in group
                                                      if f"{r.mode} {r.name}" in differ - KNOWN_RETVAL_DIFFERENCES)
    agree = sum(r.status == "agree" for r in group)
    assert agree >= RETVAL_FLOORS[(file, mode)], Counter((r.status, r.why) for r in group).most_common()

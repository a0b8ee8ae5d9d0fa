"""pybpftrace's caches: a script run again is neither compiled, read by pyelftools, nor verified again.

The object cache keeps the ELF object and, beside it, the loader's reading
of it (elf.load's BpfObject, pickled); the virtual kernel's verdict cache
(kernel/virtual/verdicts.py) keeps the verifier's acceptance.  Output is the
same either way.
"""

import pytest

import pybpf.elf
import pybpf.verifier
from pybpf.cli.pybpftrace import main
from pybpf.trace.compiler import compile_script

LOOP = 'BEGIN { $i = 0; while ($i < 20) { printf("out %d\\n", $i); $i++; } exit(); }'


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "pybpftrace"


def test_a_cached_script_is_read_from_the_pickled_reading(monkeypatch):
    first = compile_script(LOOP).bpf_object()
    monkeypatch.setattr(pybpf.elf, "load", lambda *args: pytest.fail("the ELF object was read again"))
    assert compile_script(LOOP).bpf_object() == first


def test_a_damaged_reading_is_replaced_by_reading_the_object(cache):
    first = compile_script(LOOP).bpf_object()
    (reading,) = cache.glob("*.loaded")
    reading.write_bytes(b"\x80\x05not a pickle")
    assert compile_script(LOOP).bpf_object() == first
    assert compile_script(LOOP).bpf_object() == first  # the reading was written again, whole


def test_without_the_cache_nothing_is_written(cache):
    compiled = compile_script(LOOP, cache=False)
    assert compiled.bpf_object().programs
    assert not cache.exists()


def test_a_second_run_is_not_verified_again_and_prints_the_same(capsys, monkeypatch):
    assert main(["-q", "-e", LOOP]) == 0
    first = capsys.readouterr().out
    assert first.startswith("out 0\nout 1\n") and "out 19\n" in first
    monkeypatch.setattr(pybpf.verifier, "verify", lambda *args, **kwargs: pytest.fail("verified again"))
    assert main(["-q", "-e", LOOP]) == 0
    assert capsys.readouterr().out == first


def test_no_cache_verifies_afresh(capsys, monkeypatch):
    assert main(["-q", "-e", LOOP]) == 0
    capsys.readouterr()
    walks = []
    verify = pybpf.verifier.verify
    monkeypatch.setattr(pybpf.verifier, "verify", lambda *args, **kwargs: walks.append(1) or verify(*args, **kwargs))
    assert main(["-q", "--no-cache", "-e", LOOP]) == 0
    assert walks and capsys.readouterr().out.startswith("out 0\n")

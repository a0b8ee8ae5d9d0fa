"""The virtual kernel's cache folder: a program accepted once loads again without a walk of the verifier,
and without compile() of its translation.

Only what the verdict depends on may let a load skip the verifier: the same
instructions against maps of another shape, a refused program, and a load
that asks for the log are verified every time.
"""

import errno

import pytest

import pybpf.verifier
from pybpf.helpers import helper_id
from pybpf.isa.asm import assemble
from pybpf.kernel.errors import BpfError
from pybpf.kernel.virtual import VirtualKernel
from pybpf.kernel.virtual import verdicts as verdicts_module
from pybpf.kernel.virtual.verdicts import VerdictCache
from pybpf.uapi import MapType, ProgType

SOCKET = ProgType.BPF_PROG_TYPE_SOCKET_FILTER


def read_value_word(map_fd: int) -> bytes:
    """Look up key 0 and read the u64 at offset 0 of its value: safe only when the value has 8 bytes."""
    return assemble(f"""
        r1 = 0
        *(u32 *)(r10 - 4) = r1
        r1 = map[fd:{map_fd}] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r0 = *(u64 *)(r0 + 0)
    out:
        r0 = 0
        exit
    """, helper_id=helper_id)


@pytest.fixture
def cache(tmp_path):
    return VerdictCache(tmp_path / "verdicts")


def load(kernel, value_size: int = 8, **options):
    fd = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, value_size, 1)
    return kernel.prog_load(SOCKET, read_value_word(fd), **options)


@pytest.fixture
def no_verifier(monkeypatch):
    """Any walk of the verifier from here on fails the test."""
    def walked(*args, **kwargs):
        raise AssertionError("the verifier ran")
    monkeypatch.setattr(pybpf.verifier, "verify", walked)


def test_an_accepted_program_loads_again_without_the_verifier(cache, request):
    first = VirtualKernel(ncpus=1, cache=cache.folder.parent)
    processed = first.info(load(first).fd)["verified_insns"]
    assert processed > 0
    request.getfixturevalue("no_verifier")
    second = VirtualKernel(ncpus=1, cache=cache.folder.parent)
    fd = load(second).fd
    assert second.info(fd)["verified_insns"] == processed
    assert second.prog_test_run(fd, bytes(64)).retval == 0


def test_the_same_instructions_on_a_smaller_map_value_are_verified_and_refused(cache):
    load(VirtualKernel(ncpus=1, cache=cache.folder.parent))
    with pytest.raises(BpfError) as err:
        load(VirtualKernel(ncpus=1, cache=cache.folder.parent), value_size=4)
    assert err.value.errno == errno.EACCES
    assert "invalid access to map value" in err.value.log


def test_a_refused_program_is_not_remembered(cache):
    for _ in range(2):
        with pytest.raises(BpfError) as err:
            load(VirtualKernel(ncpus=1, cache=cache.folder.parent), value_size=4)
        assert err.value.errno == errno.EACCES
    assert not cache.folder.exists() or not any(cache.folder.iterdir())


def test_a_load_that_asks_for_the_log_gets_the_verifiers_log(cache):
    load(VirtualKernel(ncpus=1, cache=cache.folder.parent))
    loaded = load(VirtualKernel(ncpus=1, cache=cache.folder.parent), log_level=2, log_size=1 << 20)
    assert "processed" in loaded.log and "call bpf_map_lookup_elem" in loaded.log


def test_another_verifier_source_is_another_key(cache, monkeypatch):
    key = cache.key(b"code", SOCKET, 0, True, True, {}, {})
    assert cache.key(b"code", SOCKET, 0, True, True, {}, {}) == key
    monkeypatch.setattr(verdicts_module, "source_digest", lambda *packages: "another verifier")
    assert cache.key(b"code", SOCKET, 0, True, True, {}, {}) != key


def test_map_identities_count_by_first_use_not_by_id(cache):
    facts = dict(map_type=2, key_size=4, value_size=8, max_entries=1, flags=0, name="", frozen=False, inner=None,
                 values=None)
    one = cache.key(b"code", SOCKET, 0, True, True, {0: dict(facts, fd=7), 4: dict(facts, fd=9)}, {})
    same = cache.key(b"code", SOCKET, 0, True, True, {0: dict(facts, fd=1), 4: dict(facts, fd=2)}, {})
    shared = cache.key(b"code", SOCKET, 0, True, True, {0: dict(facts, fd=1), 4: dict(facts, fd=1)}, {})
    assert one == same != shared


def test_a_kernel_without_a_cache_verifies_every_load(request):
    kernel = VirtualKernel(ncpus=1)
    load(kernel)
    request.getfixturevalue("no_verifier")
    with pytest.raises(AssertionError, match="the verifier ran"):
        load(kernel)


def test_a_translation_is_kept_for_the_next_process(tmp_path, monkeypatch):
    """The compiled engine's translation comes back from the cache folder: no compile() the second time."""
    from pybpf.vm import compiled
    compiled.clear_cache()  # earlier tests of this process translated the program in memory
    load(VirtualKernel(ncpus=1, cache=tmp_path))
    assert any((tmp_path / "translations").iterdir())
    compiled.clear_cache()  # as a new process starts
    monkeypatch.setattr(compiled, "compile", lambda *args: pytest.fail("translated again"), raising=False)
    kernel = VirtualKernel(ncpus=1, cache=tmp_path)
    assert kernel.prog_test_run(load(kernel).fd, bytes(64)).retval == 0


def test_a_damaged_translation_is_made_again(tmp_path):
    from pybpf.vm import compiled
    compiled.clear_cache()
    load(VirtualKernel(ncpus=1, cache=tmp_path))
    for kept in (tmp_path / "translations").iterdir():
        kept.write_bytes(b"\x00damaged")
    compiled.clear_cache()
    kernel = VirtualKernel(ncpus=1, cache=tmp_path)
    assert kernel.prog_test_run(load(kernel).fd, bytes(64)).retval == 0


def test_a_kernel_without_a_cache_folder_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    load(VirtualKernel(ncpus=1))
    assert not any(tmp_path.iterdir())

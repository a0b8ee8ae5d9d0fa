"""Map-in-map inner templates: what BPF_MAP_CREATE and updates accept, on the virtual kernel and on Linux.

An outer map is created with `inner_map_fd` (the template); every map later
stored in it must have the template's type, key size, value size and flags,
and for arrays its max_entries unless the template has BPF_F_INNER_MAP.
"""

import errno

import pytest

from pybpf.kernel.errors import BpfError
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import MapType
from support.kernel import needs_kernel

T = MapType
INNER_MAP = 1 << 12
ENOTSUPP = 524
# (template, candidate inner map): each (type, key size, value size, max entries, flags)
HASH = (T.BPF_MAP_TYPE_HASH, 4, 8, 4, 0)
ARRAY = (T.BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0)
UPDATES = {
    "same hash": (HASH, HASH),
    "hash, other max_entries": (HASH, (T.BPF_MAP_TYPE_HASH, 4, 8, 8, 0)),
    "hash, other value size": (HASH, (T.BPF_MAP_TYPE_HASH, 4, 16, 4, 0)),
    "hash, other flags": (HASH, (T.BPF_MAP_TYPE_HASH, 4, 8, 4, 1)),
    "other type": (HASH, ARRAY),
    "same array": (ARRAY, ARRAY),
    "array, other max_entries": (ARRAY, (T.BPF_MAP_TYPE_ARRAY, 4, 8, 8, 0)),
    "inner-map array, other max_entries": ((T.BPF_MAP_TYPE_ARRAY, 4, 8, 4, INNER_MAP),
                                          (T.BPF_MAP_TYPE_ARRAY, 4, 8, 8, INNER_MAP)),
    "inner-map template, plain array": ((T.BPF_MAP_TYPE_ARRAY, 4, 8, 4, INNER_MAP), (T.BPF_MAP_TYPE_ARRAY, 4, 8, 8, 0)),
    "ringbuf, other size": ((T.BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0), (T.BPF_MAP_TYPE_RINGBUF, 0, 0, 8192, 0)),
}
TEMPLATES = {
    "no template": None,
    "hash": HASH,
    "perf event array": (T.BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 4, 0),
    "queue": (T.BPF_MAP_TYPE_QUEUE, 0, 4, 4, 0),
    "program array": (T.BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0),
    "map-in-map": "outer",
}


def scenario_update(create, update, close, case):
    template, candidate = UPDATES[case]
    made = [create(*template), create(*candidate)]
    try:
        made.append(create(T.BPF_MAP_TYPE_HASH_OF_MAPS, 4, 4, 2, 0, inner_map_fd=made[0]))
        update(made[2], bytes(4), made[1].to_bytes(4, "little"))
        return "ok"
    except (BpfError, OSError) as err:
        return err.errno
    finally:
        for fd in made:
            close(fd)


def scenario_template(create, close, case):
    template = TEMPLATES[case]
    made = []
    try:
        if template == "outer":
            made.append(create(*HASH))
            made.append(create(T.BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 2, 0, inner_map_fd=made[0]))
        elif template is not None:
            made.append(create(*template))
        made.append(create(T.BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 2, 0, inner_map_fd=made[-1] if made else 0))
        return "ok"
    except (BpfError, OSError) as err:
        return err.errno
    finally:
        for fd in made:
            close(fd)


def virtual_kernel():
    kernel = VirtualKernel()
    return (lambda *a, inner_map_fd=0: kernel.map_create(*a, inner_map_fd=inner_map_fd)), kernel.map_update, kernel.close


def linux_kernel():
    from pybpf.kernel.linux import syscall
    return (lambda *a, inner_map_fd=0: syscall.map_create(*a, inner_map_fd=inner_map_fd)), syscall.map_update, \
        syscall.close


@needs_kernel
@pytest.mark.kernel
@pytest.mark.parametrize("case", UPDATES)
def test_update_matches_linux(case):
    create, update, close = linux_kernel()
    expected = scenario_update(create, update, close, case)
    create, update, close = virtual_kernel()
    assert scenario_update(create, update, close, case) == expected


@needs_kernel
@pytest.mark.kernel
@pytest.mark.parametrize("case", TEMPLATES)
def test_template_matches_linux(case):
    create, _, close = linux_kernel()
    expected = scenario_template(create, close, case)
    create, _, close = virtual_kernel()
    assert scenario_template(create, close, case) == expected


def test_template_rules_on_the_virtual_kernel():
    create, update, close = virtual_kernel()
    results = {case: scenario_update(create, update, close, case) for case in UPDATES}
    assert results == {"same hash": "ok", "hash, other max_entries": "ok", "hash, other value size": errno.EINVAL,
                       "hash, other flags": errno.EINVAL, "other type": errno.EINVAL, "same array": "ok",
                       "array, other max_entries": errno.EINVAL, "inner-map array, other max_entries": "ok",
                       "inner-map template, plain array": errno.EINVAL, "ringbuf, other size": "ok"}
    made = {case: scenario_template(create, close, case) for case in TEMPLATES}
    assert made == {"no template": errno.EINVAL, "hash": "ok", "perf event array": "ok", "queue": "ok",
                    "program array": ENOTSUPP, "map-in-map": errno.EINVAL}


def test_loader_builds_the_template_from_the_object():
    from pybpf import elf
    from pybpf.kernel.loader import load_object
    from support.objects import object_path

    kernel = VirtualKernel()
    loaded = load_object(kernel, elf.load(object_path("maps")))
    outer, inner = loaded.map_fds["outer"], loaded.map_fds["inner_map"]
    kernel.map_update(outer, bytes(4), inner.to_bytes(4, "little"))  # inner_map matches the BTF-built template
    other = kernel.map_create(T.BPF_MAP_TYPE_ARRAY, 4, 4, 2)
    with pytest.raises(BpfError) as refused:
        kernel.map_update(outer, bytes(4), other.to_bytes(4, "little"))
    assert refused.value.errno == errno.EINVAL
    ids, next_id = [], kernel.get_next_id("map")
    while next_id is not None:
        ids.append(next_id)
        next_id = kernel.get_next_id("map", next_id)
    assert len(ids) == len(loaded.map_fds) + 1  # the template was closed: only the object's maps and `other`

"""Maps and programs live while something holds them (an fd, a pin, a link, a program, a slot), then go."""

from pybpf.isa.asm import assemble
from pybpf.kernel.virtual import VirtualKernel
from pybpf.uapi import MapType, ProgType

SOCKET = ProgType.BPF_PROG_TYPE_SOCKET_FILTER


def ids(kernel, kind):
    found, next_id = [], kernel.get_next_id(kind)
    while next_id is not None:
        found.append(next_id)
        next_id = kernel.get_next_id(kind, next_id)
    return found


def test_a_program_holds_its_maps_and_frees_everything_when_closed():
    kernel = VirtualKernel()
    baseline = len(list(kernel.mem))
    fd = kernel.map_create(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 4)
    prog = kernel.prog_load(SOCKET, assemble(f"r1 = map[fd:{fd}] ll\nr0 = 0\nexit")).fd
    kernel.close(fd)
    assert len(ids(kernel, "map")) == 1  # the program still uses it
    kernel.close(prog)
    assert ids(kernel, "map") == [] and ids(kernel, "prog") == []
    assert len(list(kernel.mem)) == baseline  # code, stacks, map handle and values all unmapped


def test_pins_and_slots_keep_objects_alive():
    kernel = VirtualKernel()
    table = kernel.map_create(MapType.BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 2)
    prog = kernel.prog_load(SOCKET, assemble("r0 = 7\nexit")).fd
    kernel.map_update(table, bytes(4), prog.to_bytes(4, "little"))
    kernel.close(prog)
    assert len(ids(kernel, "prog")) == 1  # held by the program array's slot
    kernel.obj_pin(table, "/sys/fs/bpf/table")
    kernel.close(table)
    assert len(ids(kernel, "map")) == 1 and len(ids(kernel, "prog")) == 1  # the pin holds the array
    kernel.unpin("/sys/fs/bpf/table")
    assert ids(kernel, "map") == [] and ids(kernel, "prog") == []


def test_an_attached_link_holds_its_program_until_detached():
    kernel = VirtualKernel()
    prog = kernel.prog_load(ProgType.BPF_PROG_TYPE_TRACEPOINT, assemble("r0 = 0\nexit")).fd
    link = kernel.link_create(prog, "oneshot:BEGIN")
    kernel.close(prog)
    assert kernel.trigger("BEGIN") == 1 and len(ids(kernel, "prog")) == 1
    kernel.close(link)
    assert kernel.trigger("BEGIN") == 0 and ids(kernel, "prog") == []

"""The parts of `union bpf_attr` and the info structures pybpf uses, as ctypes structures.

Field for field from include/uapi/linux/bpf.h (Linux 6.18), in the kernel's
spelling.  A structure may stop before the kernel's end: bpf(2) takes the
size it is given and treats the missing tail as zero, and the info commands
fill only `info_len` bytes.  Pointers travel as u64 addresses.
"""

from __future__ import annotations

import ctypes

u32, u64 = ctypes.c_uint32, ctypes.c_uint64
BPF_OBJ_NAME_LEN = 16
BPF_TAG_SIZE = 8


class MapCreateAttr(ctypes.Structure):
    """BPF_MAP_CREATE."""

    _fields_ = [("map_type", u32), ("key_size", u32), ("value_size", u32), ("max_entries", u32),
                ("map_flags", u32), ("inner_map_fd", u32), ("numa_node", u32),
                ("map_name", ctypes.c_char * BPF_OBJ_NAME_LEN), ("map_ifindex", u32), ("btf_fd", u32),
                ("btf_key_type_id", u32), ("btf_value_type_id", u32), ("btf_vmlinux_value_type_id", u32),
                ("map_extra", u64)]


class MapElemAttr(ctypes.Structure):
    """BPF_MAP_LOOKUP_ELEM, _UPDATE_ELEM, _DELETE_ELEM, _GET_NEXT_KEY (`value` is `next_key`)."""

    _fields_ = [("map_fd", u32), ("_pad", u32), ("key", u64), ("value", u64), ("flags", u64)]


class ProgLoadAttr(ctypes.Structure):
    """BPF_PROG_LOAD."""

    _fields_ = [("prog_type", u32), ("insn_cnt", u32), ("insns", u64), ("license", u64),
                ("log_level", u32), ("log_size", u32), ("log_buf", u64), ("kern_version", u32),
                ("prog_flags", u32), ("prog_name", ctypes.c_char * BPF_OBJ_NAME_LEN), ("prog_ifindex", u32),
                ("expected_attach_type", u32), ("prog_btf_fd", u32), ("func_info_rec_size", u32),
                ("func_info", u64), ("func_info_cnt", u32), ("line_info_rec_size", u32), ("line_info", u64),
                ("line_info_cnt", u32), ("attach_btf_id", u32), ("attach_prog_fd", u32),
                ("core_relo_cnt", u32), ("fd_array", u64), ("core_relos", u64), ("core_relo_rec_size", u32),
                ("log_true_size", u32)]


class TestRunAttr(ctypes.Structure):
    """BPF_PROG_TEST_RUN (`duration` comes back as the mean ns per run)."""

    __test__ = False  # not a pytest class
    _fields_ = [("prog_fd", u32), ("retval", u32), ("data_size_in", u32), ("data_size_out", u32),
                ("data_in", u64), ("data_out", u64), ("repeat", u32), ("duration", u32),
                ("ctx_size_in", u32), ("ctx_size_out", u32), ("ctx_in", u64), ("ctx_out", u64),
                ("flags", u32), ("cpu", u32), ("batch_size", u32)]


class InfoByFdAttr(ctypes.Structure):
    """BPF_OBJ_GET_INFO_BY_FD: `info_len` goes in as the buffer size, comes back as the bytes filled."""

    _fields_ = [("bpf_fd", u32), ("info_len", u32), ("info", u64)]


class BpfProgInfo(ctypes.Structure):
    """struct bpf_prog_info (the kernel's is 232 bytes in 6.18; all of it)."""

    _fields_ = [("type", u32), ("id", u32), ("tag", ctypes.c_uint8 * BPF_TAG_SIZE), ("jited_prog_len", u32),
                ("xlated_prog_len", u32), ("jited_prog_insns", u64), ("xlated_prog_insns", u64),
                ("load_time", u64), ("created_by_uid", u32), ("nr_map_ids", u32), ("map_ids", u64),
                ("name", ctypes.c_char * BPF_OBJ_NAME_LEN), ("ifindex", u32), ("gpl_compatible", u32),
                ("netns_dev", u64), ("netns_ino", u64), ("nr_jited_ksyms", u32), ("nr_jited_func_lens", u32),
                ("jited_ksyms", u64), ("jited_func_lens", u64), ("btf_id", u32), ("func_info_rec_size", u32),
                ("func_info", u64), ("nr_func_info", u32), ("nr_line_info", u32), ("line_info", u64),
                ("jited_line_info", u64), ("nr_jited_line_info", u32), ("line_info_rec_size", u32),
                ("jited_line_info_rec_size", u32), ("nr_prog_tags", u32), ("prog_tags", u64),
                ("run_time_ns", u64), ("run_cnt", u64), ("recursion_misses", u64), ("verified_insns", u32),
                ("attach_btf_obj_id", u32), ("attach_btf_id", u32), ("_pad", u32)]


class BpfMapInfo(ctypes.Structure):
    """struct bpf_map_info, up to map_extra."""

    _fields_ = [("type", u32), ("id", u32), ("key_size", u32), ("value_size", u32), ("max_entries", u32),
                ("map_flags", u32), ("name", ctypes.c_char * BPF_OBJ_NAME_LEN), ("ifindex", u32),
                ("btf_vmlinux_value_type_id", u32), ("netns_dev", u64), ("netns_ino", u64), ("btf_id", u32),
                ("btf_key_type_id", u32), ("btf_value_type_id", u32), ("btf_vmlinux_id", u32),
                ("map_extra", u64)]


class BatchAttr(ctypes.Structure):
    """BPF_MAP_*_BATCH."""

    _fields_ = [("in_batch", u64), ("out_batch", u64), ("keys", u64), ("values", u64), ("count", u32),
                ("map_fd", u32), ("elem_flags", u64), ("flags", u64)]


class ObjPinAttr(ctypes.Structure):
    """BPF_OBJ_PIN, BPF_OBJ_GET."""

    _fields_ = [("pathname", u64), ("bpf_fd", u32), ("file_flags", u32), ("path_fd", ctypes.c_int32)]


class GetIdAttr(ctypes.Structure):
    """BPF_*_GET_NEXT_ID (`start_id`, `next_id`) and BPF_*_GET_FD_BY_ID (`start_id` is the id)."""

    _fields_ = [("start_id", u32), ("next_id", u32), ("open_flags", u32)]


class FdAttr(ctypes.Structure):
    """BPF_MAP_FREEZE (`fd` is map_fd), BPF_LINK_DETACH (`fd` is link_fd)."""

    _fields_ = [("fd", u32)]


class BtfLoadAttr(ctypes.Structure):
    """BPF_BTF_LOAD."""

    _fields_ = [("btf", u64), ("btf_log_buf", u64), ("btf_size", u32), ("btf_log_size", u32),
                ("btf_log_level", u32), ("btf_log_true_size", u32)]


class BpfLinkInfo(ctypes.Structure):
    """struct bpf_link_info, its common head (the per-type union left as bytes)."""

    _fields_ = [("type", u32), ("id", u32), ("prog_id", u32), ("_pad", u32), ("_union", ctypes.c_uint8 * 64)]


class BpfBtfInfo(ctypes.Structure):
    """struct bpf_btf_info."""

    _fields_ = [("btf", u64), ("btf_size", u32), ("id", u32), ("name", u64), ("name_len", u32),
                ("kernel_btf", u32)]


assert ctypes.sizeof(BpfProgInfo) == 232 and ctypes.sizeof(TestRunAttr) == 80

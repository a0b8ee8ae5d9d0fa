"""A packet as Linux lays it out for XDP and sk_buff programs.

    hard_start | headroom ... | data_meta | data ... data_end | tailroom ... hard_end

The buffer sits below 4 GiB (`lowmem`) so that the __u32 `data`, `data_end`
and `data_meta` fields of `xdp_md` and `__sk_buff` hold real pointers.  The
region a program may touch is [data_meta, data_end): the address space is
re-pointed after every head, tail or meta adjustment, so an access past
data_end faults however the program computed its address.  Offsets and
limits follow net/core/filter.c (bpf_xdp_adjust_head/tail/meta).
"""

from __future__ import annotations

import ctypes
import errno
from typing import Callable

from . import lowmem
from .memory import AddressSpace, Region

ETH_HLEN = 14
XDP_FRAME_SIZE = 40  # sizeof(struct xdp_frame), kept free at the start of the headroom
METALEN_MAX = 255
SKB_SHARED_INFO = 320  # sizeof(struct skb_shared_info): reserved at the end of every frame


class Packet:
    """Packet memory with Linux's head/tail/meta adjustment rules; `on_change` re-publishes the pointers."""

    def __init__(self, mem: AddressSpace, data: bytes, *, headroom: int, frame_size: int, meta_len: int = 0,
                 offset: int = 0, frags: bytes = b""):
        self.mem = mem
        self.buffer = lowmem.allocate(frame_size)
        self.hard_start = ctypes.addressof(self.buffer)
        self.hard_end = self.hard_start + frame_size
        ctypes.memmove(self.hard_start + headroom, data, len(data))
        self.data_meta = self.hard_start + headroom
        self.data = self.data_meta + meta_len + offset  # offset: bytes pulled before the program (the L2 header)
        self.data_end = self.data_meta + len(data)
        self.frags = bytearray(frags)  # past the linear part, in pages: in data_out, not reachable by the program
        self.region: Region | None = None
        self.on_change: Callable[[Packet], None] | None = None
        self._publish()

    # -- what programs and helpers see -------------------------------------------------
    @property
    def size(self) -> int:
        """Bytes from data to data_end (LD_ABS offsets count from data)."""
        return self.data_end - self.data

    def read(self, offset: int, size: int) -> bytes:
        """Bytes at data + offset."""
        return ctypes.string_at(self.data + offset, size)

    def output(self, start: int | None = None) -> bytes:
        """The bytes BPF_PROG_TEST_RUN hands back: from `start` (data_meta by default) to data_end, then frags."""
        start = self.data_meta if start is None else start
        return ctypes.string_at(start, self.data_end - start) + bytes(self.frags)

    def adjust_head(self, delta: int) -> int:
        """bpf_xdp_adjust_head: move data by delta (the metadata moves with it); 0 or -EINVAL."""
        metalen = self.data - self.data_meta
        data = self.data + delta
        if data < self.hard_start + XDP_FRAME_SIZE + metalen or data > self.data_end - ETH_HLEN:
            return -errno.EINVAL
        if metalen:
            ctypes.memmove(self.data_meta + delta, self.data_meta, metalen)
        if delta < 0:
            ctypes.memset(data, 0, -delta)
        self.data_meta += delta
        self.data = data
        return self._publish()

    def adjust_tail(self, delta: int) -> int:
        """bpf_xdp_adjust_tail: move data_end (or the last fragment's end) by delta, zeroing what grows."""
        if self.frags:
            return self._adjust_frags(delta)
        end = self.data_end + delta
        if end > self.hard_end - SKB_SHARED_INFO or end < self.data + ETH_HLEN:
            return -errno.EINVAL
        if delta > 0:
            ctypes.memset(self.data_end, 0, delta)
        self.data_end = end
        return self._publish()

    def _adjust_frags(self, delta: int) -> int:
        # The fragments are pages: the last one grows into what is left of its page.
        if delta > 0:
            if delta > -len(self.frags) % lowmem.PAGE:
                return -errno.EINVAL
            self.frags += bytes(delta)
            return 0
        if -delta > self.data_end - self.data + len(self.frags) - ETH_HLEN:
            return -errno.EINVAL
        cut = min(-delta, len(self.frags))
        del self.frags[len(self.frags) - cut:]
        return 0

    def adjust_meta(self, delta: int) -> int:
        """bpf_xdp_adjust_meta: move data_meta by delta; 0, -EINVAL, or -EACCES for a bad length."""
        meta = self.data_meta + delta
        if meta < self.hard_start + XDP_FRAME_SIZE or meta > self.data:
            return -errno.EINVAL
        metalen = self.data - meta
        if metalen % 4 or metalen > METALEN_MAX:
            return -errno.EACCES
        self.data_meta = meta
        return self._publish()

    # -- bookkeeping ---------------------------------------------------------------
    def _publish(self) -> int:
        if self.region is not None:
            self.mem.unmap(self.region)
        length = self.data_end - self.data_meta
        window = (ctypes.c_ubyte * length).from_address(self.data_meta)
        self.region = self.mem.add(Region("packet", length, True, window))
        if self.on_change is not None:
            self.on_change(self)
        return 0

    def close(self) -> None:
        """Unmap the packet from the address space and free its memory."""
        if self.region is not None:
            self.mem.unmap(self.region)
            self.region = None
        lowmem.release(self.buffer)

"""Prototypes of Linux helpers the virtual kernel does not run.

The verifier checks calls to them exactly as it checks implemented helpers
(argument kinds, return kinds, references, packet invalidation), so a
program for a socket or tc hook can be verified here; loading it into the
virtual kernel fails with "helper ... is not implemented".  Prototypes are
the kernel's (net/core/filter.c, kernel/bpf/helpers.c, Linux 6.18).
"""

from __future__ import annotations

from .registry import declare

CTX, ANY = "ARG_PTR_TO_CTX", "ARG_ANYTHING"
INT = "RET_INTEGER"
PKT = ("changes_pkt_data",)

# name, argument kinds, return kind, effects
DECLARED: tuple[tuple[str, tuple[str, ...], str, tuple[str, ...]], ...] = (
    ("skb_store_bytes", (CTX, ANY, "ARG_PTR_TO_MEM_RDONLY", "ARG_CONST_SIZE", ANY), INT, PKT),
    ("l3_csum_replace", (CTX, ANY, ANY, ANY, ANY), INT, PKT),
    ("l4_csum_replace", (CTX, ANY, ANY, ANY, ANY), INT, PKT),
    ("clone_redirect", (CTX, ANY, ANY), INT, PKT),
    ("skb_vlan_push", (CTX, ANY, ANY), INT, PKT),
    ("skb_vlan_pop", (CTX,), INT, PKT),
    ("skb_change_proto", (CTX, ANY, ANY), INT, PKT),
    ("skb_change_type", (CTX, ANY), INT, ()),
    ("skb_change_tail", (CTX, ANY, ANY), INT, PKT),
    ("skb_change_head", (CTX, ANY, ANY), INT, PKT),
    ("skb_pull_data", (CTX, ANY), INT, PKT),
    ("skb_adjust_room", (CTX, ANY, ANY, ANY), INT, PKT),
    ("csum_diff", ("ARG_PTR_TO_MEM_OR_NULL_RDONLY", "ARG_CONST_SIZE_OR_ZERO", "ARG_PTR_TO_MEM_OR_NULL_RDONLY",
                   "ARG_CONST_SIZE_OR_ZERO", ANY), INT, ("pkt_access",)),
    ("csum_update", (CTX, ANY), INT, ()),
    ("csum_level", (CTX, ANY), INT, ()),
    ("get_cgroup_classid", (CTX,), INT, ()),
    ("get_route_realm", (CTX,), INT, ()),
    ("get_hash_recalc", (CTX,), INT, ()),
    ("set_hash_invalid", (CTX,), INT, ()),
    ("set_hash", (CTX, ANY), INT, ()),
    ("get_socket_cookie", (CTX,), INT, ()),
    ("get_socket_uid", (CTX,), INT, ()),
    ("get_netns_cookie", ("ARG_PTR_TO_CTX_OR_NULL",), INT, ()),
    ("redirect", (ANY, ANY), INT, ()),
    ("redirect_map", ("ARG_CONST_MAP_PTR", ANY, ANY), INT, ()),
    ("skb_under_cgroup", (CTX, "ARG_CONST_MAP_PTR", ANY), INT, ()),
    ("skb_get_tunnel_key", (CTX, "ARG_PTR_TO_UNINIT_MEM", "ARG_CONST_SIZE", ANY), INT, ()),
    ("skb_set_tunnel_key", (CTX, "ARG_PTR_TO_MEM_RDONLY", "ARG_CONST_SIZE", ANY), INT, ()),
    ("skb_load_bytes_relative", (CTX, ANY, "ARG_PTR_TO_UNINIT_MEM", "ARG_CONST_SIZE", ANY), INT, ()),
    ("check_mtu", (CTX, ANY, "ARG_PTR_TO_FIXED_SIZE_MEM_4", ANY, ANY), INT, ()),
    ("sk_lookup_tcp", (CTX, "ARG_PTR_TO_MEM_RDONLY", "ARG_CONST_SIZE", ANY, ANY), "RET_PTR_TO_SOCKET_OR_NULL",
     ("acquire", "pkt_access")),
    ("sk_lookup_udp", (CTX, "ARG_PTR_TO_MEM_RDONLY", "ARG_CONST_SIZE", ANY, ANY), "RET_PTR_TO_SOCKET_OR_NULL",
     ("acquire", "pkt_access")),
    ("skc_lookup_tcp", (CTX, "ARG_PTR_TO_MEM_RDONLY", "ARG_CONST_SIZE", ANY, ANY),
     "RET_PTR_TO_SOCK_COMMON_OR_NULL", ("acquire", "pkt_access")),
    ("sk_release", ("ARG_PTR_TO_BTF_ID_SOCK_COMMON",), INT, ("release",)),
    ("sk_fullsock", ("ARG_PTR_TO_SOCK_COMMON",), "RET_PTR_TO_SOCKET_OR_NULL", ("cast",)),
    ("tcp_sock", ("ARG_PTR_TO_SOCK_COMMON",), "RET_PTR_TO_TCP_SOCK_OR_NULL", ("cast",)),
    ("get_listener_sock", ("ARG_PTR_TO_SOCK_COMMON",), "RET_PTR_TO_SOCKET_OR_NULL", ()),
    ("skb_ecn_set_ce", ("ARG_PTR_TO_SOCK_COMMON",), INT, ()),
    ("sk_assign", (CTX, "ARG_PTR_TO_SOCKET_OR_NULL", ANY), INT, ()),
    ("get_local_storage", ("ARG_CONST_MAP_PTR", ANY), "RET_PTR_TO_MAP_VALUE", ()),
    ("sk_select_reuseport", (CTX, "ARG_CONST_MAP_PTR", "ARG_PTR_TO_MAP_KEY", ANY), INT, ()),
    ("strtol", ("ARG_PTR_TO_MEM_RDONLY", "ARG_CONST_SIZE", ANY, "ARG_PTR_TO_FIXED_SIZE_MEM_8"), INT, ()),
    ("strtoul", ("ARG_PTR_TO_MEM_RDONLY", "ARG_CONST_SIZE", ANY, "ARG_PTR_TO_FIXED_SIZE_MEM_8"), INT, ()),
    ("perf_event_read", ("ARG_CONST_MAP_PTR", ANY), INT, ()),
    ("perf_event_read_value", ("ARG_CONST_MAP_PTR", ANY, "ARG_PTR_TO_UNINIT_MEM", "ARG_CONST_SIZE"), INT, ()),
    ("perf_prog_read_value", (CTX, "ARG_PTR_TO_UNINIT_MEM", "ARG_CONST_SIZE"), INT, ()),
    ("get_current_task_btf", (), "RET_PTR_TO_BTF_ID_TASK", ()),
    ("override_return", (CTX, ANY), INT, ()),
    ("xdp_load_bytes", (CTX, ANY, "ARG_PTR_TO_UNINIT_MEM", "ARG_CONST_SIZE"), INT, ()),
    ("xdp_store_bytes", (CTX, ANY, "ARG_PTR_TO_MEM_RDONLY", "ARG_CONST_SIZE"), INT, ()),
    ("fib_lookup", (CTX, "ARG_PTR_TO_MEM", "ARG_CONST_SIZE", ANY), INT, ()),
    ("sock_map_update", (CTX, "ARG_CONST_MAP_PTR", "ARG_PTR_TO_MAP_KEY", ANY), INT, ()),
    ("sock_hash_update", (CTX, "ARG_CONST_MAP_PTR", "ARG_PTR_TO_MAP_KEY", ANY), INT, ()),
    ("msg_redirect_map", (CTX, "ARG_CONST_MAP_PTR", ANY, ANY), INT, ()),
    ("sk_redirect_map", (CTX, "ARG_CONST_MAP_PTR", ANY, ANY), INT, ()),
)

for _name, _args, _ret, _effects in DECLARED:
    declare(_name, _args, _ret, effects=_effects)

"""ntop([af,] addr) and pton(text): IP addresses between their bytes and their text.

bpftrace reference guide, "ntop" and "pton".  pton("127.0.0.1") is a
compile-time buffer of the 4 (IPv4) or 16 (IPv6) address bytes; ntop's value
is `{u64 family; u8 addr[16]}`, printed by user space with inet_ntop
(output/text.py Inet).  An integer address is IPv4 (its bytes as in memory).
"""

from __future__ import annotations

import socket

from llvmlite import ir

from . import ast
from .builtins import Function, function
from .builtins_buffers import buffer
from .types import Type, kind_name

AF_INET, AF_INET6 = 2, 10  # Linux's values, as scripts write them
INET = Type("inet", 24)


@function
class Pton(Function):
    name = "pton"
    args = (1, 1)

    def result(self, analyser, call):
        text = call.args[0] if call.args else None
        if not isinstance(text, ast.String):
            analyser.diagnostics.error(call.span, "pton() expects a string literal")
            return buffer(4)
        for family in (socket.AF_INET, socket.AF_INET6):
            try:
                call.constant = socket.inet_pton(family, text.value)
                return buffer(len(call.constant))
            except OSError:
                continue
        analyser.diagnostics.error(call.span, f"pton() expects a valid IPv4 or IPv6 address (\"{text.value}\" "
                                              "provided)")
        return buffer(4)

    def emit(self, gen, call):
        data = len(call.constant).to_bytes(8, "little") + call.constant
        data = data.ljust(-(-len(data) // 8) * 8, b"\0")
        result = gen.alloca_bytes(len(data))
        for offset in range(0, len(data), 8):
            gen.b.store(gen.i64(int.from_bytes(data[offset:offset + 8], "little")),
                        gen.at(result, offset, ir.IntType(64)))
        return result


@function
class Ntop(Function):
    name = "ntop"
    args = (1, 2)

    def result(self, analyser, call):
        if len(call.args) == 2 and not call.args[0].type.is_int:
            analyser.diagnostics.error(call.args[0].span, f"ntop() expects an integer address family "
                                                          f"({kind_name(call.args[0].type)} provided)")
        address = call.args[-1] if call.args else None
        if address is not None and not (address.type.is_int or
                                        address.type.kind == "buffer" and address.type.size - 8 in (4, 16)):
            analyser.diagnostics.error(address.span, "ntop() expects an integer or a 4 or 16 byte buffer "
                                                     f"({address.type} provided)")
        return INET

    def emit(self, gen, call):
        address = call.args[-1]
        i64 = ir.IntType(64)
        result = gen.alloca_bytes(INET.size)
        gen.zero(result, INET.size)
        if len(call.args) == 2:
            family = gen.expr(call.args[0])
        else:
            family = gen.i64(AF_INET6 if address.type.kind == "buffer" and address.type.size == 24 else AF_INET)
        gen.b.store(family, gen.at(result, 0, i64))
        value = gen.expr(address)
        if address.type.is_int:
            gen.b.store(gen.b.trunc(value, ir.IntType(32)), gen.at(result, 8, ir.IntType(32)))
        else:
            gen.copy(gen.at(result, 8), gen.at(value, 8), address.type.size - 8)
        return result


def inet_text(data: bytes) -> str:
    """ntop()'s value as text: inet_ntop of the family's address bytes."""
    family = int.from_bytes(data[:8], "little")
    if family == AF_INET:
        return socket.inet_ntop(socket.AF_INET, data[8:12])
    if family == AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, data[8:24])
    return f"<unknown address family {family}>"

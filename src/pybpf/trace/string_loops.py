"""String equality and strlen as bounded loops, for strings longer than UNROLLED bytes.

Up to 64 bytes (bpftrace 0.17's strings) codegen unrolls these byte by
byte; a string of max_strlen = 1024 bytes unrolled is thousands of
instructions whose live values spill past the 512-byte BPF stack.  A loop
that leaves at the first difference or NUL is what bpftrace emits for its
strcmp/strlen; the verifier walks it once per byte.
"""

from __future__ import annotations

from llvmlite import ir

UNROLLED = 64  # bytes: longer strings are compared and measured in a loop

i1, i8, i64 = ir.IntType(1), ir.IntType(8), ir.IntType(64)


def _loop(gen, name: str, size: int):
    """A counter from 0 to size: returns (its slot, the loop's test block, the block after the loop), with
    the builder left in the body, where the caller steps the counter and branches back to the test."""
    index = ir.IRBuilder(gen.entry).alloca(i64)
    gen.b.store(gen.i64(0), index)
    test, body, done = (gen.new_block(f"{name}_{part}") for part in ("test", "body", "done"))
    gen.b.branch(test)
    gen.b.position_at_end(test)
    gen.b.cbranch(gen.b.icmp_unsigned("<", gen.b.load(index), gen.i64(size)), body, done)
    gen.b.position_at_end(body)
    return index, test, done


def equal(gen, left: ir.Value, left_size: int, right: ir.Value, right_size: int, limit: int | None) -> ir.Value:
    """1 when two strings are equal up to the first NUL (and within `limit` bytes), else 0."""
    shorter = min(left_size, right_size)
    size = min(shorter, limit if limit is not None else shorter)
    result = ir.IRBuilder(gen.entry).alloca(i64)
    gen.b.store(gen.i64(1), result)
    index, test, done = _loop(gen, "streq", size)
    i = gen.b.load(index)
    a, c = gen.b.load(gen.b.gep(left, [i])), gen.b.load(gen.b.gep(right, [i]))
    differ, next_byte = gen.new_block("streq_differ"), gen.new_block("streq_next")
    gen.b.cbranch(gen.b.icmp_unsigned("!=", a, c), differ, next_byte)
    gen.b.position_at_end(differ)
    gen.b.store(gen.i64(0), result)
    gen.b.branch(done)
    gen.b.position_at_end(next_byte)
    gen.b.store(gen.b.add(i, gen.i64(1)), index)
    ended = gen.new_block("streq_ended")
    gen.b.cbranch(gen.b.icmp_unsigned("==", a, ir.Constant(i8, 0)), ended, test)
    gen.b.position_at_end(ended)  # both ended at the same NUL: equal
    gen.b.store(gen.i64(2), result)
    gen.b.branch(done)
    gen.b.position_at_end(done)
    outcome = gen.b.load(result)  # 0 differ, 2 ended together, 1 ran out of bytes
    if (limit is None or limit > shorter) and left_size != right_size:  # the longer must end there too
        longer = left if left_size > right_size else right
        tail = gen.b.icmp_unsigned("==", gen.b.load(gen.at(longer, shorter)), ir.Constant(i8, 0))
        ran_out = gen.b.icmp_unsigned("==", outcome, gen.i64(1))
        outcome = gen.b.select(gen.b.and_(ran_out, gen.b.not_(tail)), gen.i64(0), outcome)
    return gen.b.zext(gen.b.icmp_unsigned("!=", outcome, gen.i64(0)), i64)


def length(gen, text: ir.Value, size: int) -> ir.Value:
    """The bytes before the first NUL (size when there is none)."""
    index, test, done = _loop(gen, "strlen", size)
    i = gen.b.load(index)
    step = gen.new_block("strlen_step")
    gen.b.cbranch(gen.b.icmp_unsigned("==", gen.b.load(gen.b.gep(text, [i])), ir.Constant(i8, 0)), done, step)
    gen.b.position_at_end(step)
    gen.b.store(gen.b.add(i, gen.i64(1)), index)
    gen.b.branch(test)
    gen.b.position_at_end(done)
    return gen.b.load(index)

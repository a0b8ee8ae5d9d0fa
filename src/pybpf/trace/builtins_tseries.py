"""tseries(value, interval, count[, "avg"|"sum"|"max"|"min"]): a map value that keeps a time series.

bpftrace reference guide, "tseries".  Time is cut into intervals (epochs);
each update lands in bucket `epoch % count` of the map (a u64 bucket after
the keys, as hist() has), whose value is `{value, meta, epoch}`: with no
aggregation the last value assigned in the epoch (meta its timestamp),
else the epoch's running sum, min, max or average (meta the count, or
whether a min/max is set).  A bucket reused by a later epoch starts over.
User space (output/tseries.py) prints the last `count` epochs.

As bpftrace's runtime tests do, BPFTRACE_DUMMY_TS_MAP=@name makes the
programs read "now" from that scalar map instead of the clock.
"""

from __future__ import annotations

import os

from llvmlite import ir

from . import ast
from .builtins import Aggregation, function
from .types import Type

AGGREGATORS = ("none", "avg", "sum", "max", "min")  # the index is the type's third param
DUMMY_TS_MAP = "BPFTRACE_DUMMY_TS_MAP"


@function
class Tseries(Aggregation):
    name = "tseries"
    args = (3, 4)

    def result(self, analyser, call):
        interval, count, aggregator = 1, 1, 0
        if len(call.args) >= 3:
            interval_arg, count_arg = call.args[1], call.args[2]
            if not isinstance(interval_arg, ast.Integer):
                analyser.diagnostics.error(call.span, "tseries: invalid interval_ns value (must be non-negative "
                                                      "literal)")
            elif not isinstance(count_arg, ast.Integer):
                analyser.diagnostics.error(call.span, "tseries: invalid num_intervals value (must be "
                                                      "non-negative literal)")
            elif interval_arg.value <= 0:
                analyser.diagnostics.error(call.span, f"tseries() interval_ns must be >= 1 "
                                                      f"({interval_arg.value} provided)")
            elif count_arg.value <= 0:
                analyser.diagnostics.error(call.span, f"tseries() num_intervals must be >= 1 "
                                                      f"({count_arg.value} provided)")
            elif count_arg.value > 1000000:
                analyser.diagnostics.error(call.span, f"tseries() num_intervals must be < 1000000 "
                                                      f"({count_arg.value} provided)")
            else:
                interval, count = interval_arg.value, count_arg.value
        if len(call.args) == 4:
            agg = call.args[3]
            allowed = sorted(AGGREGATORS[1:])
            if not isinstance(agg, ast.String) or agg.value not in allowed:
                provided = agg.value if isinstance(agg, ast.String) else "an expression"
                analyser.diagnostics.error(call.span, "tseries() expects one of the following aggregation "
                                                      f"functions: {', '.join(allowed)} (\"{provided}\" provided)")
            else:
                aggregator = AGGREGATORS.index(agg.value)
        signed = bool(call.args and call.args[0].type is not None and call.args[0].type.signed)
        dummy = os.environ.get(DUMMY_TS_MAP)
        if dummy:
            info = analyser.resources.maps.get(dummy)
            if info is None or info.keys:
                analyser.diagnostics.error(call.span, f"{DUMMY_TS_MAP}: {dummy} must be a scalar map "
                                                      "assigned before tseries()")
        return Type("tseries", 24, signed=signed, params=(interval, count, aggregator))

    def aggregate(self, gen, target: ast.Map, call: ast.Call) -> None:
        """codegen.Gen.aggregate's tseries: pick the bucket from the time, update {value, meta, epoch}."""
        interval, count, aggregator = call.type.params
        now = self._now(gen)
        epoch = gen.b.udiv(now, gen.i64(interval))
        bucket = gen.b.urem(epoch, gen.i64(count))
        value = gen.expr(call.args[0])
        key = gen.map_key(target, bucket)
        i64 = ir.IntType(64)
        kind = AGGREGATORS[aggregator]
        signed = call.type.signed

        def update(state: ir.Value) -> None:
            value_slot, meta_slot, epoch_slot = (gen.at(state, offset, i64) for offset in (0, 8, 16))
            if kind != "none":  # a bucket last used by an older epoch starts over
                with gen.b.if_then(gen.b.icmp_unsigned("!=", gen.b.load(epoch_slot), epoch)):
                    gen.b.store(gen.i64(0), value_slot)
                    gen.b.store(gen.i64(0), meta_slot)
            if kind == "none":
                gen.b.store(value, value_slot)
                gen.b.store(now, meta_slot)
            elif kind in ("avg", "sum"):
                gen.b.store(gen.b.add(gen.b.load(value_slot), value), value_slot)
                if kind == "avg":
                    gen.b.store(gen.b.add(gen.b.load(meta_slot), gen.i64(1)), meta_slot)
            else:
                compare = gen.b.icmp_signed if signed else gen.b.icmp_unsigned
                unset = gen.b.icmp_unsigned("==", gen.b.load(meta_slot), gen.i64(0))
                better = compare("<" if kind == "min" else ">", value, gen.b.load(value_slot))
                with gen.b.if_then(gen.b.or_(unset, better)):
                    gen.b.store(value, value_slot)
                gen.b.store(gen.i64(1), meta_slot)
            gen.b.store(epoch, epoch_slot)

        gen.lookup_or_init(target, key, update)

    @staticmethod
    def _now(gen) -> ir.Value:
        dummy = os.environ.get(DUMMY_TS_MAP)
        if dummy and dummy in gen.layouts:
            key = gen.alloca_bytes(8)
            gen.b.store(gen.i64(0), gen.at(key, 0, ir.IntType(64)))
            return gen.load_or_zero(gen.helper("map_lookup_elem", [gen.map_ptr(dummy), key]))
        return gen.helper("ktime_get_ns", [])

"""The helper call from native code into Python, made with the C API instead of a ctypes callback.

A ctypes callback costs about 1 us per call here (the closure, a tuple of
argument objects built through each type's converter, the GIL state
dance).  The native code runs with the GIL held (it is entered through
PYFUNCTYPE), so it may call the C API itself: `pybpf_jit_helper(state, pc,
id, r1..r5)` is defined in each module as a few calls - seven
PyLong_FromUnsignedLongLong, one PyObject_Vectorcall of the engine's target
(a PyObject* the engine keeps alive and puts in `state[HELPER_FN]`),
PyLong_AsUnsignedLongLong of the result and the decrefs - which is a few
times cheaper.  The target never raises: it holds a helper's exception for
the engine to raise (`NativeEngine.hold`).  Should the C API itself fail
(an int that cannot be made), the Python error stays set, the status word
says FAULT_PYTHON and the native code returns at once; ctypes raises the
error when the PYFUNCTYPE call returns.
"""

from __future__ import annotations

import ctypes
from functools import lru_cache

from llvmlite import ir

from . import layout as L

i1, i8, i32, i64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
OBJ = i8.as_pointer()  # PyObject*
ARGS = 7  # pc, helper id, r1-r5
# name -> (return type, argument types) of the C API functions the trampoline calls
C_API = {
    "PyLong_FromUnsignedLongLong": (OBJ, [i64]),
    "PyLong_AsUnsignedLongLong": (i64, [OBJ]),
    "PyObject_Vectorcall": (OBJ, [OBJ, OBJ.as_pointer(), i64, OBJ]),
    "Py_DecRef": (ir.VoidType(), [OBJ]),
}


def define(module: ir.Module, name: str) -> ir.Function:
    """Define `i64 name(i64* state, i64 pc, i64 id, i64 r1, ..., i64 r5)` in module: the call into Python."""
    api = {n: module.globals.get(n) or ir.Function(module, ir.FunctionType(ret, args), name=n)
           for n, (ret, args) in C_API.items()}
    fn = ir.Function(module, ir.FunctionType(i64, [i64.as_pointer()] + [i64] * ARGS), name=name)
    fn.linkage = "internal"
    state, values = fn.args[0], fn.args[1:]
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    call, no_args, failed, done = (fn.append_basic_block(n) for n in ("call", "no_args", "failed", "done"))
    argv = b.alloca(ir.ArrayType(OBJ, ARGS))
    objects, missing = [], ir.Constant(i1, 0)
    for i, value in enumerate(values):
        obj = b.call(api["PyLong_FromUnsignedLongLong"], [value])
        b.store(obj, b.gep(argv, [ir.Constant(i32, 0), ir.Constant(i32, i)]))
        objects.append(obj)
        missing = b.or_(missing, b.icmp_unsigned("==", obj, ir.Constant(OBJ, None)))
    b.cbranch(missing, no_args, call)

    b.position_at_end(call)
    target = b.inttoptr(b.load(b.gep(state, [ir.Constant(i32, L.HELPER_FN)])), OBJ)
    first = b.gep(argv, [ir.Constant(i32, 0), ir.Constant(i32, 0)])
    result = b.call(api["PyObject_Vectorcall"], [target, first, ir.Constant(i64, ARGS), ir.Constant(OBJ, None)])
    for obj in objects:
        b.call(api["Py_DecRef"], [obj])
    b.cbranch(b.icmp_unsigned("==", result, ir.Constant(OBJ, None)), failed, done)

    b.position_at_end(done)
    r0 = b.call(api["PyLong_AsUnsignedLongLong"], [result])
    b.call(api["Py_DecRef"], [result])
    b.ret(r0)

    b.position_at_end(no_args)
    for obj in objects:
        b.call(api["Py_DecRef"], [obj])  # Py_DecRef(NULL) is a no-op
    b.branch(failed)

    b.position_at_end(failed)  # the Python error stays set: ctypes raises it when the native code returns
    b.store(ir.Constant(i64, L.FAULT_PYTHON), b.gep(state, [ir.Constant(i32, L.STATUS)]))
    b.ret(ir.Constant(i64, 0))
    return fn


@lru_cache(maxsize=1)
def symbols() -> dict[str, int]:
    """The addresses of the C API functions the trampoline calls (the running interpreter's)."""
    return {name: ctypes.cast(getattr(ctypes.pythonapi, name), ctypes.c_void_p).value for name in C_API}

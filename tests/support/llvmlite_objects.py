"""BPF objects made by llvmlite's BPF target (the tracer's path), built from small IR modules."""

import llvmlite.binding as llvm

# Two programs in "socket": a pure one that calls a static (.text) sub-program, and one that uses
# a legacy map, .data, .bss and .rodata globals and a helper.  No debug info, so no BTF.
IR = r"""
%struct.bpf_map_def = type { i32, i32, i32, i32, i32 }

@counts = global %struct.bpf_map_def { i32 1, i32 4, i32 8, i32 16, i32 0 }, section "maps", align 4
@seed = global i64 7, align 8
@hits = global i64 0, align 8
@limit = constant i64 100, align 8
@_license = global [4 x i8] c"GPL\00", section "license"

define internal i64 @twice_plus_one(i64 %x) noinline {
  %y = mul i64 %x, 2
  %z = add i64 %y, 1
  ret i64 %z
}

define i64 @prog(ptr %ctx) section "socket" {
  %a = call i64 @twice_plus_one(i64 20)
  ret i64 %a
}

define i64 @with_maps(ptr %ctx) section "socket" {
  %key = alloca i32, align 4
  store i32 0, ptr %key
  %lookup = inttoptr i64 1 to ptr
  %v = call ptr %lookup(ptr @counts, ptr %key)
  %h = load i64, ptr @hits
  %h1 = add i64 %h, 1
  store i64 %h1, ptr @hits
  %s = load i64, ptr @seed
  %l = load i64, ptr @limit
  %t = call i64 @twice_plus_one(i64 %s)
  %r = add i64 %t, %l
  ret i64 %r
}
"""


def build(ir: str = IR) -> bytes:
    """The object llvmlite emits for `ir` with the bpfel triple at -O2."""
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    module = llvm.parse_assembly(ir)
    module.verify()
    machine = llvm.Target.from_triple("bpfel-unknown-none").create_target_machine(opt=2)
    return machine.emit_object(module)

"""The words of the `state` array the native code and Python share, and the codes they exchange."""

STATUS = 0  # 0 running; else a FAULT_* code (the code returned at once)
FAULT_PC = 1  # the pc of a fault raised by the native code itself
STEPS = 2  # instructions counted so far (checked mode)
LIMIT = 3  # the step limit (checked mode)
MAY_GOTO = 4  # may_goto budget left
DEPTH = 5  # the frame depth at the latest helper call (callbacks run one deeper)
ARGS = 6  # r1..r5 at entry: words 6-10
ENTRY = 11  # the pc to start at (0, or a subprogram entry for callbacks)
BASE = 12  # the frame depth of the entry frame
R0 = 13  # r0 on return
PACKET_MISS = 14  # set by the packet-load callback: LD_ABS/LD_IND out of range (r0 = 0; exit)
STACKS = 16  # the end (r10) of each stack frame: words 16-23
RUN_ARGS = 24  # r1..r5 of every run of the `loop` entry (words 24-28); ARGS is rewritten by callbacks
REGIONS = 29  # the address of the AddressSpace's native region table (checked mode)
WORDS = 32

FAULT_PYTHON = 1  # a callback raised; the engine holds the exception
FAULT_DEPTH = 2
FAULT_STEPS = 3
FAULT_CALLX = 4
FAULT_ENTRY = 5

HELPER_PACKET = (1 << 64) - 1  # helper id of the packet-load callback (no real helper has it)
WRITE, ATOMIC = 0x100, 0x200  # flags beside the size in the checked-mode memory callback
STACK_SIZE = 512

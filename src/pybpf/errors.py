"""The root of the errors a user can cause.

Every error raised for bad input (bytecode, assembly text, an object file, a
script, a map key) derives from `PybpfError` and carries a message that names
the place.  The command line prints such errors as one line and exits 1;
anything else reaching it is a bug and keeps its traceback.
"""


class PybpfError(Exception):
    """A user-facing error: the message says what is wrong and where."""

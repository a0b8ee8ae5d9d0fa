"""What pybpftrace prints, in bpftrace's text layout: printf lines, maps at exit, histograms.

Values arrive decoded (ints, str, tuples); `text` lays them out.  See
docs/pybpftrace.md for where the layout follows bpftrace 0.17 and where it
follows current bpftrace.
"""

from .text import format_map, hist_lines, lhist_lines

__all__ = ["format_map", "hist_lines", "lhist_lines"]

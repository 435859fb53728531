"""Keeping a long import's memory flat: big buffers go back to the system when freed.

glibc raises its mmap threshold each time a large block is freed, so after a few big mails
every raw message and attachment is carved from the heap arenas of whichever thread touched
it, and those arenas only grow: peak RSS of `heard sync` grew with the size of the mailbox.
A fixed threshold keeps big blocks in their own mappings, returned to the system on free.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h); setting it also stops the dynamic raise
BIG_BLOCK = 128 * 1024  # glibc's own starting threshold


def keep_big_blocks_out_of_the_heap() -> bool:
    """Fix glibc's mmap threshold; False where there is no glibc (other libcs, other OSes)."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, BIG_BLOCK))

"""Keeping a long import's memory flat: big buffers go back to the system when freed.

glibc raises its mmap threshold each time a large block is freed, so after a few big mails
every raw message and attachment is carved from the heap arenas of whichever thread touched
it, and those arenas only grow: peak RSS of `heard sync` grew with the size of the mailbox.
A fixed threshold keeps big blocks in their own mappings, returned to the system on free.

glibc also gives threads their own heap arenas (up to eight per core), and each keeps what was
freed in it. An import spreads its work over many threads (the store, the queue's workers,
the pool that talks to the mail worker), so those arenas crept up by a quarter over 10,000
mails; two arenas keep it flat and cost nothing measurable in speed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h); setting it also stops the dynamic raise
M_ARENA_MAX = -8
BIG_BLOCK = 128 * 1024  # glibc's own starting threshold
ARENAS = 2


def keep_big_blocks_out_of_the_heap() -> bool:
    """Fix glibc's mmap threshold and arena count; False where there is no glibc (other libcs,
    other OSes). Call it before starting threads: arenas already made stay."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, BIG_BLOCK)) and bool(mallopt(M_ARENA_MAX, ARENAS))

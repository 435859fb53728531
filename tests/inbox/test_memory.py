"""The allocator setting that keeps a long import's memory flat is really applied here."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import pytest

from inbox.memory import keep_big_blocks_out_of_the_heap


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc setting")
def test_big_blocks_are_mapped_and_returned_on_free() -> None:
    if ctypes.util.find_library("c") is None or not hasattr(
        ctypes.CDLL(ctypes.util.find_library("c")), "mallopt"
    ):
        pytest.skip("no glibc here")
    assert keep_big_blocks_out_of_the_heap() is True
    assert keep_big_blocks_out_of_the_heap() is True  # idempotent: every CLI command calls it


ARENA_PROBE = """
import ctypes, ctypes.util, sys, threading
from inbox.memory import keep_big_blocks_out_of_the_heap
if sys.argv[1] == "set":
    assert keep_big_blocks_out_of_the_heap()
barrier = threading.Barrier(9)
def work():
    kept = [bytes(1000 + i % 7) for i in range(3000)]  # small blocks: from a heap arena
    barrier.wait()
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads:
    t.start()
barrier.wait()  # every thread holds its blocks now
ctypes.CDLL(ctypes.util.find_library("c")).malloc_stats()  # one "Arena N:" block each, to stderr
barrier.wait()
for t in threads:
    t.join()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc setting")
def test_threads_share_two_heap_arenas() -> None:
    import subprocess

    def arenas(mode: str) -> int:
        done = subprocess.run(
            [sys.executable, "-c", ARENA_PROBE, mode], capture_output=True, text=True, check=True
        )
        return done.stderr.count("Arena ")

    assert 1 <= arenas("set") <= 2
    assert arenas("default") > 2  # the setting, not the probe, is what keeps them few

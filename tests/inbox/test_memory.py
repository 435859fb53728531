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

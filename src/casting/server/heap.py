"""Decoded images go back to the system as soon as they are freed; the rest of the heap is
kept for the next request.

glibc serves allocations from per-thread arenas and keeps what is freed there for reuse, and its
mmap threshold rises (up to 32 MiB) each time a large mapped block is freed. So a decoded image
(Pillow's 16 MiB blocks, in each decoding thread's arena) stayed with the process after its
upload: 8 uploads of 30 megapixels left +1 GB, and 8 bombs of 40 +230 MiB (bench/README.md).
A fixed threshold gives every block of LARGE_BYTES or more a mapping of its own, unmapped when
freed. It stays well above ReadImage's chunks: at a threshold of 256 KiB, mapping and faulting
each of the 1 MiB chunks it streamed then cut ReadImage's throughput by half or more.

Fixing the mmap threshold also stops glibc from moving its trim threshold along with it (to
twice the mmap threshold), which then stays at 128 KiB: whatever a generation had freed at the
top of the heap (its ~2 MB answer, read and decoded) was given back to the system, and faulted
in again by the next one, ~1,500 page faults a call. On the bench's VM that was 4-6 ms of CPU
of each GenerateSheet of `casting serve` (bench/README.md). So the trim threshold is fixed at
twice the mmap threshold, where glibc's own rule would have put it.
"""

from __future__ import annotations

import ctypes

# glibc's mallopt parameters.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
LARGE_BYTES = 4 * 1024 * 1024
KEPT_FREE_BYTES = 2 * LARGE_BYTES


def return_large_blocks() -> bool:
    """Fixes glibc's mmap threshold at LARGE_BYTES and its trim threshold at KEPT_FREE_BYTES,
    for the whole process (`casting serve` calls it once); False where the C library has no
    mallopt (musl, macOS)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, LARGE_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, KEPT_FREE_BYTES))

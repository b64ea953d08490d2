"""Decoded images go back to the system as soon as they are freed.

glibc serves allocations from per-thread arenas and keeps what is freed there for reuse, and its
mmap threshold rises (up to 32 MiB) each time a large mapped block is freed. So a decoded image
(Pillow's 16 MiB blocks, in each decoding thread's arena) stayed with the process after its
upload: 8 uploads of 30 megapixels left +1 GB, and 8 bombs of 40 +230 MiB (bench/README.md).
A fixed threshold gives every block of LARGE_BYTES or more a mapping of its own, unmapped when
freed. It stays well above ReadImage's chunks: at a threshold of 256 KiB, mapping and faulting
each of the 1 MiB chunks it streamed then cut ReadImage's throughput by half or more.
"""

from __future__ import annotations

import ctypes

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
LARGE_BYTES = 4 * 1024 * 1024


def return_large_blocks() -> bool:
    """Fixes glibc's mmap threshold at LARGE_BYTES, for the whole process (`casting serve`
    calls it once); False where the C library has no mallopt (musl, macOS)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, LARGE_BYTES))

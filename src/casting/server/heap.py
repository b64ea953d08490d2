"""Decoded images go back to the system as soon as they are freed; the heap a burst of model
answers needs is faulted in once, at start-up, and kept.

glibc serves allocations from per-thread arenas and keeps what is freed there for reuse, and its
mmap threshold rises (up to 32 MiB) each time a large mapped block is freed. So a decoded image
(Pillow's 16 MiB blocks, in each decoding thread's arena) stayed with the process after its
upload: 8 uploads of 30 megapixels left +1 GB, and 8 bombs of 40 +230 MiB (bench/README.md).
A fixed threshold gives every block of LARGE_BYTES or more a mapping of its own, unmapped when
freed. It stays well above ReadImage's chunks: at a threshold of 256 KiB, mapping and faulting
each of the 1 MiB chunks it streamed then cut ReadImage's throughput by half or more.

Fixing the mmap threshold also stops glibc from moving its trim threshold along with it, which
then stays at 128 KiB: whatever a generation had freed at the top of the heap (its ~2 MB answer,
read and decoded) was given back to the system, and faulted in again by the next one, ~1,500
page faults a call, 4-6 ms of CPU of each GenerateSheet on the bench's VM. A trim threshold of
twice the mmap threshold mended one call at a time; a burst still gave back, at its end, all it
had grown the heap by, and faulted it in again in the next: ~250 faults a call on the serving
loop, ~0.7 ms of it at this VM's ~2.8 us a fault (bench/README.md). So the room that many
answers at once take on the heap is faulted in at start-up and the trim threshold kept above it.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

# glibc's mallopt parameters.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
LARGE_BYTES = 4 * 1024 * 1024
KEPT_FREE_BYTES = 2 * LARGE_BYTES
# The heap one model call in flight takes on the serving loop: its answer (~2 MB of JSON, read,
# decoded to text, its image field parsed out) and the drawing decoded from it (~1.5 MB), most
# of it freed before the next answer is read. 1.3 MiB a call in flight removed a burst's faults.
ANSWER_HEAP_BYTES = 2 * 1024 * 1024
# Below LARGE_BYTES, so that the blocks faulting the room in come from the heap, not mappings.
_ROOM_BLOCK_BYTES = 1024 * 1024


def prepare_heap(model_calls: int) -> bool:
    """The heap as `casting serve` runs it (once, on the thread that serves): every block of
    LARGE_BYTES or more unmapped when freed, and room for `model_calls` answers at once faulted
    in now and never given back; False where the C library has no mallopt (musl, macOS)."""
    mallopt = _mallopt()
    if mallopt is None:
        return False
    room = model_calls * ANSWER_HEAP_BYTES
    if not (mallopt(_M_MMAP_THRESHOLD, LARGE_BYTES) and mallopt(_M_TRIM_THRESHOLD, room + KEPT_FREE_BYTES)):
        return False
    # bytearray writes its zeros (bytes(n) would take untouched pages from calloc): the pages are
    # faulted in here, and freed blocks join the top of the heap, which is kept below the threshold.
    blocks = [bytearray(_ROOM_BLOCK_BYTES) for _ in range(room // _ROOM_BLOCK_BYTES)]
    del blocks
    return True


def _mallopt() -> Callable[[int, int], int] | None:
    try:
        mallopt: Callable[[int, int], int] = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    return mallopt

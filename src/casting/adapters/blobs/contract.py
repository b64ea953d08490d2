"""What every BlobStore adapter checks the same way, before a key names a file or an object."""

from __future__ import annotations

import hashlib
import re

_KEY = re.compile(r"[0-9a-f]{64}")


def key_of(data: bytes) -> str:
    """The content address of `data`: its sha256, lowercase hex."""
    return hashlib.sha256(data).hexdigest()


def is_key(name: str) -> bool:
    return _KEY.fullmatch(name) is not None


def checked_key(key: str) -> str:
    """`key` itself, or ValueError: only 64 lowercase hex digits may reach a path, so no key
    can climb out of the store (`../`), hide in a subdirectory or pick up a temporary file."""
    if not is_key(key):
        raise ValueError(f"not a blob key: {key[:80]!r}")
    return key


def checked_chunk_size(chunk_size: int) -> int:
    # A zero or negative size would read nothing, or everything at once.
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    return chunk_size

"""BlobStore adapters, chosen by the operator's CASTING_BLOB_URL."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from casting.adapters.blobs.local import LocalBlobStore
from casting.adapters.blobs.s3 import ObjectBlobStore, s3_blob_store
from casting.domain.ports import BlobStore

__all__ = ["LocalBlobStore", "ObjectBlobStore", "blob_store_from_url"]


def blob_store_from_url(url: str, environ: Mapping[str, str] = os.environ) -> BlobStore:
    """The store a URL names:

    - `file:///abs/dir`, `file://./relative/dir` or a plain path: a local directory;
    - `s3://bucket[/prefix]`: an S3-compatible bucket, reached through the `environ`
      variables AWS_ENDPOINT_URL, AWS_REGION (or AWS_DEFAULT_REGION), AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.

    Anything else is a ValueError.
    """
    parts = urlsplit(url)
    if parts.scheme == "":
        return LocalBlobStore(Path(url))
    if parts.scheme == "file":
        return LocalBlobStore(Path(unquote(_file_path(url, parts.netloc, parts.path))))
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"blob URL {url!r} names no bucket (s3://bucket/prefix)")
        return s3_blob_store(parts.netloc, parts.path.strip("/"), environ)
    raise ValueError(
        f"blob URL {url!r} has an unsupported scheme {parts.scheme!r}: "
        "use file:///dir, a plain directory path, or s3://bucket/prefix"
    )


def _file_path(url: str, host: str, path: str) -> str:
    if host in ("", "localhost"):
        return path
    # file://./dir parses with "." as the host: it is the start of a relative path.
    if host in (".", ".."):
        return host + path
    raise ValueError(f"blob URL {url!r} names a remote host; use file:///dir or file://./dir")

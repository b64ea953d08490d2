"""Images and thumbnails for the pages, from the blob store through the use-cases.

Blobs are content-addressed and an image id always names the same bytes, so the sha256 is a
strong ETag and a browser may keep what it fetched for good (Cache-Control: immutable).
"""

from __future__ import annotations

from aiohttp import web

from casting.domain.usecases.images import ReadImage
from casting.domain.usecases.thumbnails import ReadThumbnail
from casting.server.console.handling import project_of, whole_number

CACHE_FOREVER = "private, max-age=31536000, immutable"


class ImageRoutes:
    def __init__(self, read_image: ReadImage, read_thumbnail: ReadThumbnail) -> None:
        self._read_image = read_image
        self._read_thumbnail = read_thumbnail

    def routes(self) -> list[web.RouteDef]:
        image = "/projects/{project}/images/{image}"
        return [web.get(image, self.image), web.get(f"{image}/thumbnails/{{width}}", self.thumbnail)]

    async def image(self, request: web.Request) -> web.StreamResponse:
        stream = await self._read_image(project_of(request), request.match_info["image"])
        image = stream.image
        if _unchanged(request, image.sha256):
            return _not_modified(image.sha256)
        # The first chunk before the headers: a blob gone missing is still a clean 404 page.
        first = await anext(stream.chunks, b"")
        response = web.StreamResponse(headers=_cached(image.sha256, image.mime_type))
        response.content_length = image.size_bytes
        await response.prepare(request)
        await response.write(first)
        async for chunk in stream.chunks:
            await response.write(chunk)
        await response.write_eof()
        return response

    async def thumbnail(self, request: web.Request) -> web.Response:
        width = whole_number(request.match_info, "width", 0)
        made = await self._read_thumbnail(project_of(request), request.match_info["image"], width)
        key = made.thumbnail.blob_key
        if _unchanged(request, key):
            return _not_modified(key)
        return web.Response(body=made.data, headers=_cached(key, made.thumbnail.mime_type))


def _etag(sha256: str) -> str:
    return f'"{sha256}"'


def _unchanged(request: web.Request, sha256: str) -> bool:
    """Whether the browser's copy (If-None-Match, maybe a list, maybe weak) is this one."""
    sent = request.headers.get("If-None-Match", "")
    tags = {tag.strip().removeprefix("W/") for tag in sent.split(",")}
    return _etag(sha256) in tags or "*" in tags


def _cached(sha256: str, mime_type: str) -> dict[str, str]:
    return {"ETag": _etag(sha256), "Cache-Control": CACHE_FOREVER, "Content-Type": mime_type}


def _not_modified(sha256: str) -> web.Response:
    return web.Response(status=304, headers={"ETag": _etag(sha256), "Cache-Control": CACHE_FOREVER})

"""Static files under content-hashed URLs: `static("js/watch.js")` -> "/static/js/watch.<hash>.js".

The files of `static/` are hashed once when the app is built. A hashed URL names one
version of a file forever, so it is served with a year-long immutable cache; a URL
with a stale or made-up hash is a 404 (not the current file: a cached page must not
run a script it was not written against).
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from streamsvc.errors import NotFound

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PREFIX = "/static/"
IMMUTABLE = "public, max-age=31536000, immutable"
_HASH_CHARS = 12


def _hashed_name(relative: PurePosixPath, digest: str) -> PurePosixPath:
    """js/watch.js -> js/watch.<digest>.js; vendor/hls.js/hls.min.js -> …/hls.min.<digest>.js."""
    return relative.with_name(f"{relative.stem}.{digest}{relative.suffix}")


@dataclass(frozen=True)
class StaticAssets:
    urls: dict[str, str]  # logical path -> hashed URL
    files: dict[str, Path]  # hashed path (after /static/) -> file

    @classmethod
    def scan(cls, directory: Path = STATIC_DIR) -> StaticAssets:
        urls: dict[str, str] = {}
        files: dict[str, Path] = {}
        for path in sorted(directory.rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            relative = PurePosixPath(path.relative_to(directory).as_posix())
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:_HASH_CHARS]
            hashed = str(_hashed_name(relative, digest))
            urls[str(relative)] = STATIC_PREFIX + hashed
            files[hashed] = path
        return cls(urls, files)

    def url(self, logical: str) -> str:
        """The hashed URL of a file of static/; a KeyError names a missing file at render."""
        try:
            return self.urls[logical]
        except KeyError:
            raise KeyError(f"no static file {logical!r} in {STATIC_DIR}") from None

    def response(self, hashed: str) -> Response:
        path = self.files.get(hashed)
        if path is None:
            raise NotFound("No such file.")
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if media_type.startswith("text/") or media_type.endswith("javascript"):
            media_type += "; charset=utf-8"
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": IMMUTABLE})


async def serve_static(request: Request) -> Response:
    assets: StaticAssets = request.app.state.pages.assets
    return assets.response(request.path_params["path"])

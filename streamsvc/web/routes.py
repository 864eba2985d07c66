"""The foundation's own routes: hashed static files and the language switch."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from streamsvc.errors import NotFound
from streamsvc.web.assets import serve_static
from streamsvc.web.i18n import LANGUAGE_COOKIE, LANGUAGES

_YEAR = 365 * 24 * 3600


def _local_path(target: str | None) -> str:
    """Only a path of this site (no scheme, host or `//`): no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    # Browsers drop tabs and newlines and read `\` as `/`: "/\t/evil" would be "//evil".
    if "\\" in target or any(ord(char) < 0x21 for char in target):
        return "/"
    return target


async def choose_language(request: Request) -> Response:
    """Remember a language (no secret involved: a plain GET link) and go back."""
    code = request.path_params["code"]
    if code not in LANGUAGES:
        raise NotFound("No such language.")
    response = RedirectResponse(_local_path(request.query_params.get("next")), status_code=303)
    response.set_cookie(LANGUAGE_COOKIE, code, max_age=_YEAR, path="/", samesite="lax",
                        secure=request.app.state.pages.secure_cookies)  # fmt: skip
    return response


routes = [
    Route("/static/{path:path}", serve_static, methods=["GET", "HEAD"], include_in_schema=False),
    Route("/language/{code}", choose_language, methods=["GET"], include_in_schema=False),
]

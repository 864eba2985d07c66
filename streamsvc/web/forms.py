"""Reading a page's HTML form: `application/x-www-form-urlencoded` only, bounded.

The pages post plain forms (no file uploads), so no multipart parser is needed; the
body is already limited by BodySizeLimitMiddleware. A field named twice keeps its
first value in `form.get` (`form.getlist` has all).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.datastructures import FormData
from starlette.requests import Request

from streamsvc.errors import BadRequest, UnsupportedMediaType

MAX_FIELDS = 200


async def read_form(request: Request, max_fields: int = MAX_FIELDS) -> FormData:
    """The posted form; 415 for another content type, 400 when it is malformed or huge."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("Send the form as application/x-www-form-urlencoded.")
    body = await request.body()
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                          strict_parsing=False, max_num_fields=max_fields)  # fmt: skip
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("The form could not be read.", code="malformed_form") from exc
    # PostgreSQL text holds no NUL: such a value is nobody's e-mail or amount.
    return FormData([(key, value.replace("\x00", "")) for key, value in pairs])

"""The cookies that carry an audience member's secrets after the first hand-over.

The order token is a bearer secret: it never travels in a path or query. After a buy
the service sets it in cookie `order_<order_id>`, HttpOnly, scoped by Path to the two
pages of that order (a browser keeps one cookie per name and path, so it is set
twice), and the checkout and order pages read it from there.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

ORDER_COOKIE_MAX_AGE = 30 * 24 * 3600
ORDER_PAGES = ("/orders/{order_id}", "/checkout/{order_id}")


def order_token_cookie(order_id: str) -> str:
    """The name of the cookie holding an order's token."""
    return f"order_{order_id}"


def set_order_token(request: Request, response: Response, order_id: str, token: str) -> None:
    for path in ORDER_PAGES:
        response.set_cookie(
            order_token_cookie(order_id), token, max_age=ORDER_COOKIE_MAX_AGE,
            path=path.format(order_id=order_id), httponly=True, samesite="lax",
            secure=request.app.state.pages.secure_cookies,
        )  # fmt: skip


def order_token(request: Request, order_id: str) -> str | None:
    """The order's token from its cookie, if this browser holds it."""
    return request.cookies.get(order_token_cookie(order_id)) or None

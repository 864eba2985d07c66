"""`/me`: a performer's sign-in by mailed link, and their own statements, payout advices
and payout details (PAGES.md "Performers and other parties").

Thin: read the form, check origin and CSRF, call signin.py / reading.py / details.py,
render. The sign-in link's secret is only ever in the URL fragment; the page's script
(static/js/me-sign-in.js) puts it in the form, which POSTs it once. Every page of a
signed-in person takes ids from the path only to find them among the person's own
performer rows (access.py): anything else is 404.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from streamsvc.db import UnitOfWork
from streamsvc.errors import RateLimited, ServiceError, ValidationFailed
from streamsvc.finance import party_statement
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.kit.ratelimit import over_limit
from streamsvc.me import details, reading, signin
from streamsvc.me.access import (
    Person,
    act_as,
    check_write,
    me_caller,
    me_form,
    me_page,
    now_of,
    secure_cookies,
    settings_of,
)
from streamsvc.me.words import errors_of
from streamsvc.payouts import advice
from streamsvc.payouts.models import PayoutBatch
from streamsvc.web.csrf import CSRF_COOKIE
from streamsvc.web.document_pages import html_document, pdf_document
from streamsvc.web.rendering import language, render

_RATE_WINDOW = 3600


def _text(form: Any, name: str, limit: int = 256) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _client(request: Request) -> str:
    return request.client.host[:64] if request.client else "unknown"


# -- /me/sign-in ------------------------------------------------------------------------


def _sign_in_page(
    request: Request, *, sent: bool = False, email: str = "", error: ServiceError | None = None
) -> Response:
    status, headers = (error.status, error.headers) if error else (200, {})
    notice = request.query_params.get("done")
    context = {
        "sent": sent,
        "email": email,
        "errors": errors_of(request, error),
        "signed_out": notice == "signed_out" and not sent and error is None,
    }
    return render(request, "me_sign_in.html", context, status=status, headers=headers)


async def sign_in_page(request: Request) -> Response:
    return _sign_in_page(request)


async def _limit(request: Request, email: str) -> None:
    """429 with Retry-After past the hourly allowance of this client or this address
    (the address hashed: no e-mail address is kept in Redis)."""
    resources = request.app.state.resources
    settings, now = resources.settings, now_of(request)
    account = hashlib.sha256(email.encode()).hexdigest()[:32]
    for name, limit in (
        (f"performer-link:ip:{_client(request)}", settings.performer_link_rate_per_ip),
        (f"performer-link:email:{account}", settings.performer_link_rate_per_email),
    ):
        wait = await over_limit(resources.redis, name, limit, _RATE_WINDOW, now.timestamp())
        if wait is not None:
            raise RateLimited("Too many requests; try again later.", retry_after=wait)


async def sign_in(request: Request) -> Response:
    """Mail a sign-in link when the address is a performer's; the same answer otherwise."""
    form = await me_form(request)
    email = signin.normalise_email(_text(form, "email", 254))
    settings, now, lang = settings_of(request), now_of(request), language(request)
    try:
        check_write(request)
        if "@" not in email:
            raise ValidationFailed(
                "Enter your e-mail address.", fields={"email": "enter an e-mail address"}
            )
        await _limit(request, email)
        await in_unit_of_work(
            request, lambda uow: signin.request_link(uow.session, settings, email, lang, now)
        )
    except ServiceError as error:
        return _sign_in_page(request, email=email, error=error)
    return _sign_in_page(request, sent=True)


# -- /me/sign-in/complete -------------------------------------------------------------


def _complete_page(request: Request, error: ServiceError | None = None) -> Response:
    status, headers = (error.status, error.headers) if error else (200, {})
    context = {"errors": errors_of(request, error)}
    return render(request, "me_sign_in_complete.html", context, status=status, headers=headers)


async def complete_page(request: Request) -> Response:
    return _complete_page(request)


async def complete(request: Request) -> Response:
    """Use the link's token (POSTed once by the page): a session, then `/me`."""
    form = await me_form(request)
    token = _text(form, "token", 100)
    settings, now = settings_of(request), now_of(request)
    try:
        check_write(request)
        session_token = await in_unit_of_work(
            request, lambda uow: signin.use_link(uow.session, settings, token, now)
        )
    except ServiceError as error:
        return _complete_page(request, error)
    response = RedirectResponse("/me", status_code=303)
    response.set_cookie(
        signin.SESSION_COOKIE,
        session_token,
        max_age=settings.performer_session_absolute_hours * 3600,
        path=signin.COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
    )
    # A fresh CSRF nonce with the new session: a token seen before it is useless.
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


async def sign_out(request: Request) -> Response:
    await me_form(request)
    check_write(request)
    token, now = request.cookies.get(signin.SESSION_COOKIE), now_of(request)
    await in_unit_of_work(request, lambda uow: signin.end_session(uow.session, token, now))
    response = RedirectResponse("/me/sign-in?done=signed_out", status_code=303)
    response.delete_cookie(signin.SESSION_COOKIE, path=signin.COOKIE_PATH)
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


# -- /me ------------------------------------------------------------------------------------


@me_page
async def overview(request: Request) -> Response:
    """Every venue's performer row of the person, with its money and details."""

    def read(uow: UnitOfWork) -> tuple[Person, list[dict[str, Any]]]:
        person = me_caller(request, uow.session)
        listed = []
        for row in person.rows:
            reading.with_money(uow.session, row)
            listed.append({
                "row": row,
                "details": details.shown(uow.session, row),
                "advices": reading.advices(uow.session, row),
            })  # fmt: skip
        return person, listed

    person, listed = await in_unit_of_work(request, read)
    return render(request, "me.html", {"email": person.email, "performers": listed})


def _statement_html(request: Request, row: reading.Mine, period: str) -> str:
    """The month's statement as finance prints it for this performer (the same
    document: split rows, VAT per rate, and the plays and money of the recordings whose
    rule names them)."""
    _, first, last = reading.month_window(row, period)  # 404 for a period not a month
    database = request.app.state.resources.database
    with database.unit_of_work() as uow:
        _, html = party_statement.document(
            uow.session, database.engine, row.venue, party_type="performer",
            party_id=row.performer.id, first=first, last=last, lang=language(request),
        )  # fmt: skip
    return html


async def _own_row(request: Request) -> reading.Mine:
    performer_id = request.path_params["performer_id"]

    def find(uow: UnitOfWork) -> reading.Mine:
        row = me_caller(request, uow.session).row(performer_id)
        reading.month_window(row, request.path_params["period"])  # 404 for a bad period
        return row

    return await in_unit_of_work(request, find)


@me_page
async def statement(request: Request) -> Response:
    """The performer's statement of one month, as the printable page."""
    row = await _own_row(request)
    html = await run_in_threadpool(_statement_html, request, row, request.path_params["period"])
    return html_document(request, html)


@me_page
async def statement_pdf(request: Request) -> Response:
    """The same statement as a PDF (the same HTML, laid out by WeasyPrint)."""
    row = await _own_row(request)
    period = request.path_params["period"]
    html = await run_in_threadpool(_statement_html, request, row, period)
    return await pdf_document(html, f"statement-{row.performer.id}-{period}.pdf")


# -- payout advices ---------------------------------------------------------------------------


async def _advice_html(request: Request) -> tuple[str, str]:
    """The advice of one of the performer's paid payout lines: (HTML, file name)."""
    performer_id, line_id = request.path_params["performer_id"], request.path_params["line_id"]
    lang = language(request)

    def read(uow: UnitOfWork) -> tuple[str, str]:
        row = me_caller(request, uow.session).row(performer_id)
        line = reading.own_line(uow.session, row, line_id)
        batch = uow.session.get(PayoutBatch, line.batch_id)
        assert batch is not None
        return advice.render(
            uow.session, batch, line, lang
        ), f"payout-advice-{batch.period}-{line.id}"

    return await in_unit_of_work(request, read)


@me_page
async def advice_page(request: Request) -> Response:
    html, _ = await _advice_html(request)
    return html_document(request, html)


@me_page
async def advice_pdf(request: Request) -> Response:
    html, name = await _advice_html(request)
    return await pdf_document(html, f"{name}.pdf")


# -- payout details --------------------------------------------------------------------------


def _details_page(
    request: Request,
    row: reading.Mine,
    shown: details.Shown | None,
    *,
    typed: dict[str, str] | None = None,
    saved: bool = False,
    error: ServiceError | None = None,
) -> Response:
    status, headers = (error.status, error.headers) if error else (200, {})
    context = {
        "row": row,
        "shown": shown,
        "typed": typed or {"holder": shown.holder if shown else "", "iban": "", "bic": ""},
        "saved": saved,
        "errors": errors_of(request, error),
    }
    return render(request, "me_payout_details.html", context, status=status, headers=headers)


@me_page
async def details_page(request: Request) -> Response:
    performer_id = request.path_params["performer_id"]

    def read(uow: UnitOfWork) -> tuple[reading.Mine, details.Shown | None]:
        row = me_caller(request, uow.session).row(performer_id)
        return row, details.shown(uow.session, row)

    row, shown = await in_unit_of_work(request, read)
    return _details_page(request, row, shown)


@me_page
async def correct_details(request: Request) -> Response:
    """The performer corrects their payout details: held until finance confirms."""
    form = await me_form(request)
    performer_id = request.path_params["performer_id"]
    typed = {name: _text(form, name, 80) for name in ("holder", "iban", "bic")}
    now = now_of(request)

    def save(uow: UnitOfWork) -> tuple[reading.Mine, details.Shown]:
        row = me_caller(request, uow.session).row(performer_id)
        act_as(row)
        return row, details.correct(uow.session, row, **typed, now=now)

    def read(uow: UnitOfWork) -> tuple[reading.Mine, details.Shown | None]:
        row = me_caller(request, uow.session).row(performer_id)
        return row, details.shown(uow.session, row)

    try:
        row, shown = await in_unit_of_work(request, save)
    except ValidationFailed as error:  # rolled back: the form again, with the words
        row, before = await in_unit_of_work(request, read)
        return _details_page(request, row, before, typed=typed, error=error)
    return _details_page(request, row, shown, saved=True)


_PERFORMER = "/me/performers/{performer_id}"
routes = [
    Route("/me/sign-in", sign_in_page, methods=["GET"], include_in_schema=False),
    Route("/me/sign-in", sign_in, methods=["POST"], include_in_schema=False),
    Route("/me/sign-in/complete", complete_page, methods=["GET"], include_in_schema=False),
    Route("/me/sign-in/complete", complete, methods=["POST"], include_in_schema=False),
    Route("/me/sign-out", sign_out, methods=["POST"], include_in_schema=False),
    Route("/me", overview, methods=["GET"], include_in_schema=False),
    Route(
        f"{_PERFORMER}/statements/{{period}}.pdf",
        statement_pdf,
        methods=["GET"],
        include_in_schema=False,
    ),
    Route(
        f"{_PERFORMER}/statements/{{period}}", statement, methods=["GET"], include_in_schema=False
    ),
    Route(
        f"{_PERFORMER}/advices/{{line_id}}.pdf",
        advice_pdf,
        methods=["GET"],
        include_in_schema=False,
    ),
    Route(
        f"{_PERFORMER}/advices/{{line_id}}", advice_page, methods=["GET"], include_in_schema=False
    ),
    Route(f"{_PERFORMER}/payout-details", details_page, methods=["GET"], include_in_schema=False),
    Route(
        f"{_PERFORMER}/payout-details", correct_details, methods=["POST"], include_in_schema=False
    ),
]

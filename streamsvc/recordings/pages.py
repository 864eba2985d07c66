"""The audience's pages of the archive: `/archive`, `/recordings/{recording_id}` and the
Atom feed `/archive/feed.atom`.

Thin, as routes are: the archive's use cases (archive.py), rendered. The recording page
shows each offer with its own order form (e-mail, country), posted back to the same
path: recordings/buying.py orders it under the same rate limits, e-mail check and
Idempotency semantics as a season pass (passes/buy_pages.py). A paid offer continues to
`/checkout/{order_id}`, a free one straight to `/orders/{order_id}` and its Watch link.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from babel.lists import format_list
from babel.units import format_unit
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from streamsvc.db import UnitOfWork
from streamsvc.errors import NotFound, ServiceError, ValidationFailed
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.kit.validation import Country, Email
from streamsvc.notifications.mail import DEFAULT_LOCALE, SUPPORTED_LOCALES
from streamsvc.orders.routes import _rate_limit as rate_limit_orders
from streamsvc.recordings import archive, buying
from streamsvc.recordings.licences import ALL_RIGHTS_RESERVED, LICENCES
from streamsvc.recordings.opendata import atom_feed, recording_jsonld
from streamsvc.recordings.schemas import ArchiveQuery, RecordingListing
from streamsvc.venues.models import Venue
from streamsvc.web.cookies import set_order_token
from streamsvc.web.countries import country_choices
from streamsvc.web.csrf import check_csrf
from streamsvc.web.errors import PageErrors, page_errors
from streamsvc.web.formatting import BABEL_LOCALES
from streamsvc.web.forms import read_form
from streamsvc.web.rendering import N_, gettext, language, render

PAGE_SIZE = 24
FEED_SIZE = 50
_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_ATTEMPT = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_WORDS = {
    "venue": N_("choose a venue from the list"),
    "licence": N_("choose a licence from the list"),
    "cursor": N_("This link is out of date: start from the newest recordings."),
}


def _base_url(request: Request) -> str:
    base: str = request.app.state.resources.settings.public_url
    return base.rstrip("/")


def duration_words(seconds: int, lang: str) -> str:
    """5520 -> "1 hour, 32 minutes" (en) / "1 uur, 32 minuten" (nl), by Babel's units."""
    locale = BABEL_LOCALES[lang]
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        format_unit(value, unit, length="long", locale=locale)
        for value, unit in ((hours, "duration-hour"), (minutes, "duration-minute"),
                            (secs, "duration-second"))
        if value
    ]  # fmt: skip
    return format_list(parts, style="unit", locale=locale)


def licence_choices(request: Request) -> list[tuple[str, str]]:
    """(code, what a person reads) of every licence, for a select."""
    return [
        (code, gettext(request, "All rights reserved") if code == ALL_RIGHTS_RESERVED
         else f"{found.short} ({found.name})")
        for code, found in LICENCES.items()
    ]  # fmt: skip


def _query(request: Request) -> tuple[dict[str, str], ArchiveQuery | None, PageErrors]:
    typed = {name: request.query_params.get(name, "")[:200]
             for name in ("venue", "licence", "cursor")}  # fmt: skip
    given: dict[str, Any] = {"limit": PAGE_SIZE}
    given.update({"venue_id" if name == "venue" else name: value
                  for name, value in typed.items() if value.strip()})  # fmt: skip
    words = PageErrors()
    try:
        return typed, ArchiveQuery.model_validate(given), words
    except ValidationError as exc:
        wrong = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
    words.message = gettext(request, "Some fields need your attention.")
    for name in sorted(wrong):
        field = "venue" if name == "venue_id" else name
        if field in _WORDS:
            words.fields[field] = gettext(request, _WORDS[field])
    return typed, None, words


async def archive_page(request: Request) -> Response:
    """The published recordings of every venue, newest first; by venue and licence."""
    base = _base_url(request)
    typed, query, errors = _query(request)

    def load(uow: UnitOfWork) -> dict[str, Any]:
        found: dict[str, Any] = {"venues": archive.archive_venues(uow.session),
                                 "recordings": [], "next_cursor": None}  # fmt: skip
        if query is not None:
            try:
                rows, cursor = archive.list_published(uow.session, query, base)
            except ValidationFailed:  # a cursor that is not ours
                errors.fields["cursor"] = gettext(request, _WORDS["cursor"])
                return found
            found.update(recordings=rows, next_cursor=cursor)
        return found

    context = await in_unit_of_work(request, load)
    lang = language(request)
    context.update(
        typed=typed, errors=errors, licences=licence_choices(request),
        filtered=bool(typed["venue"] or typed["licence"]),
        durations={r.id: duration_words(r.duration_seconds, lang) for r in context["recordings"]},
    )  # fmt: skip
    return render(request, "archive.html", context, status=422 if errors else 200)


def _recording_id(request: Request) -> str:
    recording_id = request.path_params["recording_id"]
    if not isinstance(recording_id, str) or not _ID.fullmatch(recording_id):
        raise NotFound("No such page.")
    return recording_id


async def _listing(request: Request, recording_id: str) -> tuple[RecordingListing, str]:
    """The published recording and its venue's country (the form's first choice)."""
    base = _base_url(request)

    def load(uow: UnitOfWork) -> tuple[RecordingListing, str]:
        listing = archive.get_published(uow.session, recording_id, base)
        venue = uow.session.get(Venue, listing.venue.id)
        return listing, venue.country if venue is not None else ""

    found: tuple[RecordingListing, str] = await in_unit_of_work(request, load)
    return found


def _show(
    request: Request, found: tuple[RecordingListing, str], *,
    entered: dict[str, str] | None = None,
    failed_offer: str = "", errors: PageErrors | None = None, status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    listing, country = found
    errors = errors or PageErrors()
    offered = {offer.id for offer in listing.offers}
    context = {
        "recording": listing,
        "duration": duration_words(listing.duration_seconds, language(request)),
        "all_rights_reserved": listing.licence.url is None,
        "jsonld": recording_jsonld(listing),
        "countries": country_choices(language(request)),
        "entered": entered or {"email": "", "country": country},
        # The words go beside the fields of the form that was sent; an offer no longer
        # listed (retired meanwhile) has its words above the offers instead.
        "failed_offer": failed_offer if failed_offer in offered else "",
        "errors": errors,
        "offers_errors": errors if errors and failed_offer not in offered else None,
        # A fresh key per form and showing: pressing Pay twice orders once.
        "attempts": {offer.id: secrets.token_urlsafe(18) for offer in listing.offers},
        "paid_sales": request.app.state.resources.settings.recording_paid_sales,
    }
    return render(request, "recording.html", context, status=status, headers=headers)


async def recording_page(request: Request) -> Response:
    return _show(request, await _listing(request, _recording_id(request)))


class _Buyer(BaseModel):
    """The form's buyer, checked as an order's is (orders/schemas.py OrderCreate)."""

    model_config = ConfigDict(extra="forbid")
    email: Email
    country: Country | None = None


def _buyer(request: Request, entered: dict[str, str]) -> _Buyer:
    if not entered["email"].strip():
        missing = gettext(request, "Enter your e-mail address.")
        raise ValidationFailed(missing, fields={"email": missing})
    try:
        return _Buyer(email=entered["email"].strip(), country=entered["country"] or None)
    except ValidationError as exc:
        words = {"email": gettext(request, "Enter a valid e-mail address."),
                 "country": gettext(request, "Choose a country from the list.")}  # fmt: skip
        wrong = {str(error["loc"][0]) for error in exc.errors()}
        raise ValidationFailed(
            gettext(request, "Some fields need your attention."),
            fields={name: words.get(name, words["email"]) for name in wrong},
        ) from exc


def _text(form: Any, name: str, limit: int) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


async def buy(request: Request) -> Response:
    """An offer's form: order it, hand over the order's token, go to checkout (or, for a
    free offer, straight to the order page with its Watch link)."""
    recording_id = _recording_id(request)
    form = await read_form(request)
    check_csrf(request, form)
    resources = request.app.state.resources
    entered = {"email": _text(form, "email", 320), "country": _text(form, "country", 2)}
    offer_id, attempt = _text(form, "offer_id", 40), _text(form, "attempt", 64)
    lang = language(request)
    try:
        buyer = _buyer(request, entered)
        await rate_limit_orders(request, buyer.email)
        bought = await run_in_threadpool(
            lambda: buying.buy_recording(
                resources.database, resources.gateway, resources.settings, resources.clock,
                recording_id=recording_id, offer_id=offer_id, email=buyer.email,
                country=buyer.country, locale=lang if lang in SUPPORTED_LOCALES
                else DEFAULT_LOCALE, idempotency_key=attempt if _ATTEMPT.match(attempt) else None,
            )
        )  # fmt: skip
    except ServiceError as error:
        if error.status == 404 or error.code == "recording_withdrawn":
            raise  # no page to show again: the error page says why, in words
        found = await _listing(request, recording_id)
        return _show(request, found, entered=entered, failed_offer=offer_id,
                     errors=page_errors(request, error), status=error.status,
                     headers=error.headers)  # fmt: skip
    after = "orders" if bought.status != "pending" else "checkout"
    response = RedirectResponse(f"/{after}/{bought.order_id}", status_code=303)
    set_order_token(request, response, bought.order_id, bought.order_token)
    return response


async def feed(request: Request) -> Response:
    """The newest published recordings as an Atom feed (RFC 4287)."""
    base, now = _base_url(request), request.app.state.resources.clock.now()
    newest = ArchiveQuery(limit=FEED_SIZE)

    def load(uow: UnitOfWork) -> bytes:
        rows, _ = archive.list_published(uow.session, newest, base)
        return atom_feed(rows, base, now)

    body = await in_unit_of_work(request, load)
    return Response(body, media_type="application/atom+xml; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=300"})  # fmt: skip


def _route(path: str, handler: Any) -> Route:
    return Route(path, handler, methods=["GET"], include_in_schema=False)


routes = [
    _route("/archive", archive_page),
    _route("/archive/feed.atom", feed),
    _route("/recordings/{recording_id}", recording_page),
    Route("/recordings/{recording_id}", buy, methods=["POST"], include_in_schema=False),
]

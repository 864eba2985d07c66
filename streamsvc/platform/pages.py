"""The platform console (`/platform`): every venue with its events, gross and platform
fees per period; the operator's reconciliation findings (of no venue); onboarding,
suspending and resuming a venue; the platform's statement of its fees and its CSV
export; the platform admin's second factor.

Thin: the guard (guard.py), the use cases (service.py, statement.py), render.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from streamsvc.db import UnitOfWork
from streamsvc.errors import NotFound, ServiceError
from streamsvc.finance.console_reconciliation import KINDS as FINDING_KINDS
from streamsvc.finance.findings import operator_findings
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.platform import service, statement
from streamsvc.platform.guard import HOME, platform_caller, platform_page
from streamsvc.platform.statement import Period
from streamsvc.staff import account
from streamsvc.staff.console import console_form
from streamsvc.staff.words import errors_of
from streamsvc.web.countries import country_choices
from streamsvc.web.errors import PageErrors, page_errors
from streamsvc.web.rendering import N_, gettext, language, render

_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
ONBOARD_FIELDS = ("name", "city", "country", "currency", "timezone", "admin_email", "admin_name")
_ONBOARD_WORDS = {
    "name": N_("enter the venue's name"),
    "city": N_("at most 100 characters"),
    "country": N_("choose a country"),
    "currency": N_("a currency code such as EUR"),
    "timezone": N_("a timezone such as Europe/Amsterdam"),
    "admin_email": N_("an e-mail address"),
    "admin_name": N_("at most 200 characters"),
}
OPERATOR_FINDINGS_SHOWN = 50
_PERIOD_WORDS = {
    "from": N_("a date such as 2026-12-01"),
    "to": N_("a date on or after the first day, at most three years later"),
}
_DONE = {
    "onboarded": N_("The venue is onboarded; its first admin is mailed an invitation."),
    "suspended": N_("The venue is suspended."),
    "resumed": N_("The venue is open again."),
}


def _now(request: Request) -> Any:
    return request.app.state.resources.clock.now()


def _venue_id(request: Request) -> str:
    value = request.path_params["venue_id"]
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise NotFound("No such venue.")
    return value


def _text(form: FormData, name: str, limit: int = 256) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def period_of(request: Request) -> tuple[Period, dict[str, str], PageErrors]:
    """The period asked for (this month unless asked), what was typed, and the words
    beside a date that is not right (then this month is shown)."""
    typed = {name: request.query_params.get(name, "")[:20] for name in ("from", "to")}
    words = PageErrors()
    zone = request.app.state.resources.settings.platform_timezone
    if not any(typed.values()):
        period = Period.month_of(_now(request), zone)
        return period, {"from": str(period.from_), "to": str(period.to)}, words
    try:
        return Period.model_validate(typed).in_zone(zone), typed, words
    except ValidationError as exc:
        wrong = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
    except ServiceError as exc:
        wrong = set(exc.fields)
    words.message = gettext(request, "Some fields need your attention.")
    for name in sorted(wrong & set(_PERIOD_WORDS)):
        words.fields[name] = gettext(request, _PERIOD_WORDS[name])
    return Period.month_of(_now(request), zone), typed, words


def _overview(request: Request, uow: UnitOfWork, **extra: Any) -> dict[str, Any]:
    caller = platform_caller(request, uow.session)
    period, typed, period_errors = period_of(request)
    done = request.query_params.get("done", "")
    context: dict[str, Any] = {
        "caller": caller,
        "period": period,
        "typed_period": typed,
        "period_errors": period_errors,
        "venues": statement.venues_overview(uow.session, period),
        "findings": operator_findings(uow.session, OPERATOR_FINDINGS_SHOWN).data,
        "finding_kinds": FINDING_KINDS,
        "timezone": request.app.state.resources.settings.platform_timezone,
        "countries": country_choices(language(request)),
        "typed": {
            **dict.fromkeys(ONBOARD_FIELDS, ""),
            "country": "NL",
            "currency": "EUR",
            "timezone": "Europe/Amsterdam",
        },
        "errors": PageErrors(),
        "done": gettext(request, _DONE[done]) if done in _DONE else "",
    }
    context.update(extra)
    return context


@platform_page
async def overview(request: Request) -> Response:
    context = await in_unit_of_work(request, lambda uow: _overview(request, uow))
    return render(request, "platform.html", context)


def _onboard_errors(request: Request, error: ServiceError | ValidationError) -> PageErrors:
    if isinstance(error, ValidationError):
        words = PageErrors(message=gettext(request, "Some fields need your attention."))
        wrong = {str(e["loc"][0]) for e in error.errors() if e["loc"]}
    else:
        words, wrong = page_errors(request, error), set(error.fields)
    for name in sorted(wrong & set(_ONBOARD_WORDS)):
        words.fields[name] = gettext(request, _ONBOARD_WORDS[name])
    return words


@platform_page
async def onboard(request: Request) -> Response:
    form = await console_form(request)
    typed = {name: _text(form, name, 300) for name in ONBOARD_FIELDS}
    settings = request.app.state.resources.settings

    def run(uow: UnitOfWork) -> None:
        platform_caller(request, uow.session)
        given = {name: value for name, value in typed.items() if value.strip()}
        data = service.Onboarding.model_validate(given)
        service.onboard(uow.session, settings, data, _now(request))

    try:
        await in_unit_of_work(request, run)
    except (ServiceError, ValidationError) as error:
        if isinstance(error, ServiceError) and error.status in (401, 403):
            raise
        words = _onboard_errors(request, error)
        context = await in_unit_of_work(
            request, lambda uow: _overview(request, uow, typed=typed, errors=words)
        )
        status = error.status if isinstance(error, ServiceError) else 422
        return render(request, "platform.html", context, status=status)
    return RedirectResponse(f"{HOME}?done=onboarded", status_code=303)


async def _venue_action(request: Request, act: Any, done: str) -> Response:
    venue_id = _venue_id(request)
    await console_form(request)  # the CSRF check

    def run(uow: UnitOfWork) -> None:
        platform_caller(request, uow.session)
        act(uow.session, venue_id, _now(request))

    await in_unit_of_work(request, run)
    return RedirectResponse(f"{HOME}?done={done}", status_code=303)


@platform_page
async def suspend(request: Request) -> Response:
    return await _venue_action(request, service.suspend, "suspended")


@platform_page
async def resume(request: Request) -> Response:
    return await _venue_action(request, service.resume, "resumed")


@platform_page
async def venue_page(request: Request) -> Response:
    venue_id = _venue_id(request)

    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = platform_caller(request, uow.session)
        period, typed, period_errors = period_of(request)
        venue, events = statement.venue_events(uow.session, venue_id, period)
        return {
            "caller": caller,
            "venue": venue,
            "events": events,
            "period": period,
            "typed_period": typed,
            "period_errors": period_errors,
        }

    return render(request, "platform_venue.html", await in_unit_of_work(request, load))


@platform_page
async def statement_page(request: Request) -> Response:
    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = platform_caller(request, uow.session)
        period, typed, period_errors = period_of(request)
        lines = statement.fee_statement(uow.session, period)
        return {
            "caller": caller,
            "lines": lines,
            "totals": statement.totals(lines),
            "period": period,
            "typed_period": typed,
            "period_errors": period_errors,
        }

    return render(request, "platform_statement.html", await in_unit_of_work(request, load))


@platform_page
async def statement_csv(request: Request) -> Response:
    def load(uow: UnitOfWork) -> tuple[Period, str]:
        platform_caller(request, uow.session)
        period, _typed, errors = period_of(request)
        if errors:
            raise ServiceError(
                "The period is not right.",
                status=422,
                code="validation_error",
                fields=dict(errors.fields),
            )
        return period, statement.statement_csv(statement.fee_statement(uow.session, period))

    period, body = await in_unit_of_work(request, load)
    name = f"platform-fees-{period.from_}-{period.to}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# -- the platform admin's second factor ------------------------------------------------


def _account(request: Request, uow: UnitOfWork, **extra: Any) -> dict[str, Any]:
    caller = platform_caller(request, uow.session, enrolling=True)
    context: dict[str, Any] = {
        "caller": caller,
        "enrolment": account.enrolment(uow.session, caller.person_id, _now(request)),
        "errors": PageErrors(),
        "recovery_codes": [],
    }
    context.update(extra)
    return context


@platform_page
async def account_page(request: Request) -> Response:
    context = await in_unit_of_work(request, lambda uow: _account(request, uow))
    return render(request, "platform_account.html", context)


@platform_page
async def enable_totp(request: Request) -> Response:
    form = await console_form(request)

    def run(uow: UnitOfWork) -> dict[str, Any]:
        caller = platform_caller(request, uow.session, enrolling=True)
        codes = account.confirm_enrolment(
            uow.session, caller.person_id, _text(form, "code", 12), _now(request)
        )
        return _account(request, uow, recovery_codes=codes)

    try:
        context = await in_unit_of_work(request, run)
    except ServiceError as error:
        if error.status in (401, 403):
            raise
        words = errors_of(request, error)
        context = await in_unit_of_work(request, lambda uow: _account(request, uow, errors=words))
        return render(request, "platform_account.html", context, status=error.status)
    return render(request, "platform_account.html", context)


routes = [
    Route("/platform", overview, methods=["GET"], include_in_schema=False),
    Route("/platform/venues", onboard, methods=["POST"], include_in_schema=False),
    Route("/platform/venues/{venue_id}", venue_page, methods=["GET"], include_in_schema=False),
    Route(
        "/platform/venues/{venue_id}/suspend", suspend, methods=["POST"], include_in_schema=False
    ),
    Route("/platform/venues/{venue_id}/resume", resume, methods=["POST"], include_in_schema=False),
    Route("/platform/statement", statement_page, methods=["GET"], include_in_schema=False),
    Route("/platform/statement.csv", statement_csv, methods=["GET"], include_in_schema=False),
    Route("/platform/account", account_page, methods=["GET"], include_in_schema=False),
    Route("/platform/account/totp", enable_totp, methods=["POST"], include_in_schema=False),
]

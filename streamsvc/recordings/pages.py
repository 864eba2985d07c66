"""The audience's pages of the archive: `/archive`, `/recordings/{recording_id}` and the
Atom feed `/archive/feed.atom`.

Thin, as routes are: the archive's use cases (archive.py), rendered. The recording page
shows what is offered without a way to buy yet: selling recordings is the orders'
business (the next part of issue 18).
"""

from __future__ import annotations

import re
from typing import Any

from babel.lists import format_list
from babel.units import format_unit
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from streamsvc.db import UnitOfWork
from streamsvc.errors import NotFound, ValidationFailed
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.recordings import archive
from streamsvc.recordings.licences import ALL_RIGHTS_RESERVED, LICENCES
from streamsvc.recordings.opendata import atom_feed, recording_jsonld
from streamsvc.recordings.schemas import ArchiveQuery
from streamsvc.web.errors import PageErrors
from streamsvc.web.formatting import BABEL_LOCALES
from streamsvc.web.rendering import N_, gettext, language, render

PAGE_SIZE = 24
FEED_SIZE = 50
_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
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


async def recording_page(request: Request) -> Response:
    recording_id = request.path_params["recording_id"]
    if not isinstance(recording_id, str) or not _ID.fullmatch(recording_id):
        raise NotFound("No such page.")
    base = _base_url(request)
    listing = await in_unit_of_work(
        request, lambda uow: archive.get_published(uow.session, recording_id, base)
    )
    context = {
        "recording": listing,
        "duration": duration_words(listing.duration_seconds, language(request)),
        "all_rights_reserved": listing.licence.url is None,
        "jsonld": recording_jsonld(listing),
    }
    return render(request, "recording.html", context)


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
]

"""Finance exports (finance or admin keys): splits as JSON, CSV or XLSX, and a party's
printable statement. Dates are days in the venue's timezone, both ends included."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import IO, Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, StringConstraints
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from streamsvc.catalog.schemas import ObjectId
from streamsvc.errors import ValidationFailed
from streamsvc.finance import export_csv, export_files, exports, party_statement
from streamsvc.http.endpoint import Access, Call, endpoint
from streamsvc.kit.described import money
from streamsvc.kit.validation import Day
from streamsvc.notifications.mail import Locale, choose_locale
from streamsvc.venues.models import Venue

Party = Annotated[str, StringConstraints(
    pattern=r"^(venue|performer|rights_holder):[a-z]+_[0-9a-z]+$", max_length=80)]  # fmt: skip


class Period(BaseModel):
    model_config = {"extra": "forbid", "populate_by_name": True}

    from_: Day | None = Field(default=None, alias="from")
    to: Day | None = None


class SplitsQuery(Period):
    event_id: ObjectId | None = None
    recording_id: ObjectId | None = None  # an archive recording's splits
    party: Party | None = None  # e.g. performer:prf_…, rights_holder:rhd_…
    format: Literal["json", "csv", "xlsx"] = "json"
    delimiter: Literal["comma", "semicolon"] = "comma"
    decimal: Literal["point", "comma"] | None = None  # default: comma with semicolons
    bom: bool = False  # a UTF-8 byte order mark, for Excel


class StatementQuery(Period):
    lang: Locale | None = None  # default: from Accept-Language


class SplitMoney(BaseModel):
    """The money columns, in minor units (the split's waterfall and the party's part)."""

    gross: int = Field(description=money("What buyers paid"))
    refunds: int = Field(description=money("Refunded to buyers"))
    disputes: int = Field(description=money("Withdrawn by disputes and not reinstated"))
    vat: int = Field(description=money("VAT on what buyers kept paying"))
    stripe_fees: int = Field(description=money("Stripe's fees, dispute fees included"))
    platform_fee: int = Field(description=money("The platform's fee"))
    costs: int = Field(description=money("Costs recouped"))
    distributable: int = Field(description=money("What is left for the parties"))
    party_amount: int = Field(description=money("The party's part (its ledger entry)"))


class SplitRow(SplitMoney):
    venue: str = Field(description="The venue's name.")
    event_id: str = Field(description="The event's id (`evt_…`); empty on a recording's row.")
    event_title: str = Field(description="The event's title; empty on a recording's row.")
    event_date: str = Field(
        description="The event's local start date (YYYY-MM-DD); empty on a recording's row."
    )
    recording_id: str = Field(
        description="The archive recording's id (`rec_…`); empty on an event's row."
    )
    recording_title: str = Field(description="The recording's title; empty on an event's row.")
    party_type: str = Field(
        description="`venue`, `performer` or `rights_holder`; empty when the split pays nobody."
    )
    party_id: str = Field(description="The party's id; empty when the split pays nobody.")
    party_name: str = Field(description="The party's name; empty when the split pays nobody.")
    share_bps: int = Field(description="The party's share in basis points (10000 is 100 %).")
    currency: str = Field(description="ISO 4217 code of the row's amounts.")
    split_rule_version: int = Field(description="The split-rule version the split used.")
    period: str = Field(description="The split's period.")
    posted_at: datetime = Field(description="When the split was posted: RFC 3339 with offset.")
    ledger_reference: str = Field(description="The split's ledger reference (`split:…`).")


class SplitTotals(SplitMoney):
    rows: int = Field(description="How many rows the export has.")
    currencies: list[str] = Field(description="The currencies the totals add up (ISO 4217).")


class SplitExport(BaseModel):
    """`format=json`; csv and xlsx carry the same columns, in major units, and totals."""

    columns: list[str] = Field(description="The column names, in the CSV's order.")
    data: list[SplitRow] = Field(description="One row per split posting and party.")
    totals: SplitTotals = Field(description="Party amounts summed; the waterfall once per split.")


def _window(call: Call, period: Period) -> tuple[exports.SplitFilter, date, date]:
    venue = call.session.get(Venue, call.venue_id)
    assert venue is not None
    zone = ZoneInfo(venue.timezone)
    first = period.from_ or date(2000, 1, 1)
    last = period.to or call.clock.now().astimezone(zone).date()
    if first > last:
        raise ValidationFailed("The period is empty.", fields={"from": "must not be after to"})
    since = datetime.combine(first, time(), zone)
    until = datetime.combine(last + timedelta(days=1), time(), zone)
    return exports.SplitFilter(venue.id, since, until), first, last


@endpoint(
    summary="Revenue splits by event or recording, party and period (json, csv or xlsx; "
    "streamed)",
    tags=("finance",), access=Access.staff, query=SplitsQuery, response=SplitExport,
)  # fmt: skip
def export_splits(call: Call, query: SplitsQuery) -> Response:
    window, first, last = _window(call, query)
    where = exports.SplitFilter(window.venue_id, window.since, window.until,
                                event_id=query.event_id, party=query.party,
                                recording_id=query.recording_id)  # fmt: skip
    engine = call.request.app.state.resources.database.engine
    name = f"splits-{first.isoformat()}-{last.isoformat()}"
    if query.format == "csv":  # written by PostgreSQL (COPY), totals and all
        semicolon = query.delimiter == "semicolon"
        chunks = export_csv.csv_chunks(
            engine, where, delimiter=";" if semicolon else ",", bom=query.bom,
            decimal_comma=(query.decimal or ("comma" if semicolon else "point")) == "comma",
        )  # fmt: skip
        return StreamingResponse(chunks, media_type="text/csv; charset=utf-8",
                                 headers=_attachment(f"{name}.csv"))  # fmt: skip
    source = exports.rows(engine, where)
    if query.format == "json":
        return StreamingResponse(export_files.json_chunks(source), media_type="application/json")
    spool = export_files.xlsx_file(source)
    return StreamingResponse(
        _drain(spool), headers=_attachment(f"{name}.xlsx"),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )  # fmt: skip


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def _drain(spool: IO[bytes]) -> Iterator[bytes]:
    with spool:
        while chunk := spool.read(256 * 1024):
            yield chunk


@endpoint(
    summary="A party's printable statement for a period (HTML, Dutch or English)",
    tags=("finance",), access=Access.staff, query=StatementQuery, response="text/html",
    errors=(404,),
)  # fmt: skip
def party_statement_page(call: Call, query: StatementQuery) -> Response:
    venue = call.session.get(Venue, call.venue_id)
    assert venue is not None
    _, first, last = _window(call, query)
    lang = query.lang or choose_locale(call.request.headers.get("accept-language"))
    # The same document as the console's page and PDF (VAT per rate included).
    _, page = party_statement.document(
        call.session, call.request.app.state.resources.database.engine, venue,
        party_type=call.path("party_type"), party_id=call.path("party_id"),
        first=first, last=last, lang=lang,
    )  # fmt: skip
    return HTMLResponse(page)


routes = [
    Route("/v1/finance/splits", export_splits, methods=["GET"]),
    Route(
        "/v1/finance/parties/{party_type}/{party_id}/statement",
        party_statement_page,
        methods=["GET"],
    ),
]

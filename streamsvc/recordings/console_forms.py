"""What a human types into the console's recording forms, read into the API's schemas.

Amounts and percents are read by catalog/console_inputs.py (exact, never a float);
a duration is typed as h:mm:ss or h:mm. Each refusal names the field the API would
name, so the page says it beside the input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from streamsvc.catalog import console_inputs as inputs
from streamsvc.errors import ValidationFailed, validation_failed
from streamsvc.recordings.schemas import (
    OffersWrite,
    RecordingSplitRuleWrite,
    RightsHolderCreate,
)

COST_ROWS = 3  # blank cost rows the split form offers
NOT_A_DURATION = "enter a duration such as 1:32:00"
_DURATION = re.compile(r"^(\d{1,2}):([0-5]\d)(?::([0-5]\d))?$")


def text(form: Mapping[str, Any], name: str, limit: int = 10_000) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def validated(model: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_failed(exc.errors()) from None


def seconds(typed: str, field: str) -> int:
    """ "1:32:00" or "1:32" -> 5520."""
    match = _DURATION.fullmatch(typed.strip())
    if match is None:
        raise ValidationFailed("The form has errors.", fields={field: NOT_A_DURATION})
    hours, minutes, secs = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + secs


def duration_input(total: int) -> str:
    """5520 -> "1:32:00": the value the duration input shows."""
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def recording_fields(form: Mapping[str, Any]) -> dict[str, Any]:
    """The recording form as the fields of RecordingCreate / RecordingUpdate."""
    return {
        "title": text(form, "title", 300),
        "description": text(form, "description"),
        "recorded_on": text(form, "recorded_on", 20),
        "duration_seconds": seconds(text(form, "duration", 20), "duration_seconds"),
        "kind": text(form, "kind", 8),
        "source_event_id": text(form, "source_event_id", 40) or None,
        "playback": text(form, "playback", 2000) or None,
        "quality": text(form, "quality", 8),
        "licence": text(form, "licence", 40),
        "copyright_holder": text(form, "copyright_holder", 300),
        "credit_line": text(form, "credit_line", 600),
        "access_continues_after_withdrawal": form.get("access_continues") == "on",
    }


def offers_from(form: Mapping[str, Any], currency: str) -> OffersWrite:
    """The offers form (checkboxes, amounts in major units, VAT in percent)."""
    data: dict[str, Any] = {"free": form.get("free") == "on"}
    if form.get("rental") == "on":
        data["rental"] = {
            "price_amount": inputs.minor_units(
                text(form, "rental.price_amount", 40), currency, "rental.price_amount"
            ),
            "vat_rate_bps": inputs.basis_points(
                text(form, "rental.vat_rate_bps", 12) or "0", "rental.vat_rate_bps"
            ),
            "start_within_days": inputs.whole_number(
                text(form, "rental.start_within_days", 6), "rental.start_within_days", low=1,
                high=365,
            ),
            "watch_hours": inputs.whole_number(
                text(form, "rental.watch_hours", 6), "rental.watch_hours", low=1, high=720
            ),
        }  # fmt: skip
    if form.get("purchase") == "on":
        data["purchase"] = {
            "price_amount": inputs.minor_units(
                text(form, "purchase.price_amount", 40), currency, "purchase.price_amount"
            ),
            "vat_rate_bps": inputs.basis_points(
                text(form, "purchase.vat_rate_bps", 12) or "0", "purchase.vat_rate_bps"
            ),
        }
    offers: OffersWrite = validated(OffersWrite, data)
    return offers


def split_rule_from(
    form: Mapping[str, Any], parties: list[tuple[str, str, str]], currency: str
) -> RecordingSplitRuleWrite:
    """The split form (percent shares, costs in major units); a blank share is none."""
    shares = []
    for kind, party_id, _ in parties:
        name = f"share.{kind}.{party_id}"
        typed = text(form, name, 12)
        bps = inputs.basis_points(typed, name) if typed else 0
        if bps:
            shares.append({"party": {"type": kind, "id": party_id}, "bps": bps})
    if not shares:
        raise ValidationFailed("The form has errors.", fields={"shares": "give someone a share"})
    costs = []
    for row in range(COST_ROWS):
        label, amount = text(form, f"cost_label_{row}", 300), text(form, f"cost_amount_{row}", 40)
        if label or amount:
            minor = inputs.minor_units(amount, currency, f"cost_amount_{row}")
            costs.append({"label": label, "amount": minor, "currency": currency})
    fee = inputs.basis_points(text(form, "platform_fee", 12) or "0", "platform_fee")
    rule: RecordingSplitRuleWrite = validated(
        RecordingSplitRuleWrite, {"platform_fee_bps": fee, "costs": costs, "shares": shares}
    )
    return rule


def holder_from(form: Mapping[str, Any]) -> RightsHolderCreate:
    holder: RightsHolderCreate = validated(RightsHolderCreate, {
        "name": text(form, "holder_name", 300), "email": text(form, "holder_email", 300),
        "payout_reference": text(form, "holder_payout_reference", 200) or None,
    })  # fmt: skip
    return holder

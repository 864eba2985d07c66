"""What a human types into the console's event forms, read exactly.

Amounts are typed in major units ("15,00", "15.00", "15") and become integer minor
units through Decimal, never a float; shares are percents with at most two decimals
and become basis points; times are typed in the venue's timezone (datetime-local
inputs) and stored in UTC. Each refusal names its field, so the page can say it
beside the input.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from streamsvc.errors import ValidationFailed
from streamsvc.kit.money import MAX_AMOUNT, decimal_text, exponent

# Digits, then at most one decimal separator ("," or ".") and its decimals. No
# thousands separators: "1.000" would be ambiguous between languages.
_NUMBER = re.compile(r"^(\d{1,12})(?:[.,](\d{1,6}))?$")
_LOCAL = "%Y-%m-%dT%H:%M"

# The words beside a field (also msgids: the pages translate them).
NOT_AN_AMOUNT = "enter an amount such as 15,00"
TOO_MANY_DECIMALS = "too many decimals for this currency"
NOT_A_PERCENT = "enter a percentage such as 12,50"
NOT_A_TIME = "enter a date and time"
NOT_A_WHOLE_NUMBER = "enter a whole number"


def _refuse(field: str, words: str) -> ValidationFailed:
    return ValidationFailed("The form has errors.", fields={field: words})


def _decimal(text: str, field: str, words: str, places: int) -> Decimal:
    match = _NUMBER.fullmatch(text.strip())
    if match is None:
        raise _refuse(field, words)
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction.rstrip("0")) > places:
        raise _refuse(field, TOO_MANY_DECIMALS if words == NOT_AN_AMOUNT else words)
    try:
        return Decimal(f"{whole}.{fraction or '0'}")
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        raise _refuse(field, words) from None


def minor_units(text: str, currency: str, field: str) -> int:
    """ "15,00" / "15.00" / "15" in `currency` -> 1500; refuses "15,001" and letters."""
    places = exponent(currency)
    amount = _decimal(text, field, NOT_AN_AMOUNT, places) * (Decimal(10) ** places)
    if amount != amount.to_integral_value() or amount > MAX_AMOUNT:
        raise _refuse(field, NOT_AN_AMOUNT)
    return int(amount)


def major_units(amount: int, currency: str) -> str:
    """1500 -> "15.00": the value an amount input shows."""
    return decimal_text(amount, exponent(currency))


def basis_points(text: str, field: str) -> int:
    """ "12,5" / "12.50" / "100" percent -> 1250 / 1250 / 10000 basis points."""
    bps = _decimal(text, field, NOT_A_PERCENT, 2) * 100
    if bps > 10_000:
        raise _refuse(field, NOT_A_PERCENT)
    return int(bps)


def percent(bps: int) -> str:
    """1250 -> "12.50": the value a percent input shows."""
    return decimal_text(bps, 2)


def whole_number(text: str, field: str, *, low: int = 0, high: int = 10_000_000) -> int:
    value = text.strip()
    if not value.isdigit() or not low <= int(value) <= high:
        raise _refuse(field, NOT_A_WHOLE_NUMBER)
    return int(value)


def utc_from_local(text: str, timezone: str, field: str) -> datetime:
    """A datetime-local value ("2026-12-20T20:00") in `timezone`, as an aware UTC time."""
    try:
        naive = datetime.strptime(text.strip()[:16], _LOCAL)
    except ValueError:
        raise _refuse(field, NOT_A_TIME) from None
    return naive.replace(tzinfo=ZoneInfo(timezone)).astimezone(ZoneInfo("UTC"))


def local_input(moment: datetime, timezone: str) -> str:
    """The datetime-local value showing `moment` in `timezone`."""
    return moment.astimezone(ZoneInfo(timezone)).strftime(_LOCAL)

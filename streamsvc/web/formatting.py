"""Amounts, dates and times in a page's language and an event's timezone (Babel)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_currency, format_percent

from streamsvc.kit.money import exponent

# The Babel locale of each page language: the Netherlands' Dutch, plain English,
# France's French (their currency patterns: "€ 15,00", "€15.00", "15,00 €").
BABEL_LOCALES = {"nl": "nl_NL", "en": "en", "fr": "fr_FR"}


def money(amount_minor: int, currency: str, language: str) -> str:
    """1500, "EUR" -> "€ 15,00" in nl; integer minor units, never a float."""
    places = exponent(currency)
    value = Decimal(amount_minor).scaleb(-places)
    text = format_currency(value, currency, locale=BABEL_LOCALES[language])
    # A plain space between symbol and number, so that "€ 15,00" reads and matches the
    # same everywhere (pages, tests, screen readers).
    return text.replace("\xa0", " ")


def money_code(amount_minor: int, currency: str, language: str) -> str:
    """1234.56 as "EUR 1.234,56" (nl), "EUR 1,234.56" (en): the ISO code, for finance
    documents, where amounts of one currency line up in columns."""
    value = Decimal(amount_minor).scaleb(-exponent(currency))
    pattern = "¤¤ #,##0.00;¤¤ -#,##0.00"  # the sign by the digits: "EUR -5,00"
    return format_currency(value, currency, pattern, locale=BABEL_LOCALES[language])


def decimal_input(amount_minor: int, currency: str) -> str:
    """Minor units as the value of an amount input: 1250 -> "12.50" (no grouping)."""
    return str(Decimal(amount_minor).scaleb(-exponent(currency)))


def datetime_local(dt: datetime, tz_name: str, language: str, format: str = "medium") -> str:
    return format_datetime(dt, format, tzinfo=ZoneInfo(tz_name), locale=BABEL_LOCALES[language])


def date_local(dt: datetime, tz_name: str, language: str, format: str = "long") -> str:
    local = dt.astimezone(ZoneInfo(tz_name))
    return format_date(local.date(), format, locale=BABEL_LOCALES[language])


def time_local(dt: datetime, tz_name: str, language: str, format: str = "short") -> str:
    return format_time(dt, format, tzinfo=ZoneInfo(tz_name), locale=BABEL_LOCALES[language])


def filters(language: str) -> dict[str, Callable[..., str]]:
    """The Jinja filters of one language's environment."""

    def money_filter(amount_minor: int, currency: str) -> str:
        return money(amount_minor, currency, language)

    def money_code_filter(amount_minor: int, currency: str) -> str:
        return money_code(amount_minor, currency, language)

    def date_filter_plain(day: date, format: str = "long") -> str:
        return format_date(day, format, locale=BABEL_LOCALES[language])

    def percent_filter(bps: int) -> str:
        return format_percent(Decimal(bps).scaleb(-4), "#,##0.##%", locale=BABEL_LOCALES[language])

    def datetime_filter(dt: datetime, tz_name: str, format: str = "medium") -> str:
        return datetime_local(dt, tz_name, language, format)

    def date_filter(dt: datetime, tz_name: str, format: str = "long") -> str:
        return date_local(dt, tz_name, language, format)

    def time_filter(dt: datetime, tz_name: str, format: str = "short") -> str:
        return time_local(dt, tz_name, language, format)

    return {
        "money": money_filter,
        "money_code": money_code_filter,
        "date": date_filter_plain,  # a calendar date (no time, no timezone)
        "percent_bps": percent_filter,  # 1250 -> "12.5%" / "12,5%"
        "datetime_local": datetime_filter,
        "date_local": date_filter,
        "time_local": time_filter,
        "decimal_input": decimal_input,
    }

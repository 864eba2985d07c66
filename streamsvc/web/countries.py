"""Countries for a country <select>, named in the page language (Babel's CLDR names)."""

from __future__ import annotations

import unicodedata
from functools import cache, lru_cache

import pycountry
from babel import Locale

from streamsvc.web.formatting import BABEL_LOCALES


@cache
def _all_codes() -> tuple[str, ...]:
    return tuple(country.alpha_2 for country in pycountry.countries)


def country_choices(language: str, allowed: list[str] | None = None) -> tuple[tuple[str, str], ...]:
    """(code, name) pairs in the language's alphabetical order; `allowed` limits them."""
    return _choices(language, tuple(allowed or ()))


# Named and sorted once per language and list: every event page shows one, and
# naming 250 countries through CLDR on each view cost more than the rest of the page.
@lru_cache(maxsize=1024)
def _choices(language: str, allowed: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    names = Locale.parse(BABEL_LOCALES[language]).territories
    pairs = [(code, names.get(code, code)) for code in allowed or _all_codes()]
    return tuple(sorted(pairs, key=lambda pair: _sort_key(pair[1])))


def _sort_key(name: str) -> str:
    # Åland among the A's, not after Zimbabwe.
    return unicodedata.normalize("NFKD", name).casefold()

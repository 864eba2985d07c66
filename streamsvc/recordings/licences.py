"""The licences a recording may carry, by code: the Creative Commons 4.0 licences,
CC0 1.0, the Public Domain Mark 1.0, or all rights reserved.

A recording stores the code; the canonical URL and the name come from this table, so
that a licence is never a free-text URL that could be mistyped or point elsewhere.
The URLs are the canonical deeds (https, creativecommons.org, trailing slash): the
form search engines and the Creative Commons tools recognise in schema.org `license`.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Licence:
    code: str
    short: str  # the licence's own short name, as the deed writes it: "CC BY-SA 4.0"
    name: str  # its full name, in English as published: "Attribution-ShareAlike 4.0 …"
    url: str | None  # the canonical deed; None: all rights reserved (no licence at all)

    @property
    def creative_commons(self) -> bool:
        return self.url is not None


_CC = "https://creativecommons.org/"

_ALL = (
    Licence("cc-by-4.0", "CC BY 4.0", "Attribution 4.0 International", _CC + "licenses/by/4.0/"),
    Licence(
        "cc-by-sa-4.0",
        "CC BY-SA 4.0",
        "Attribution-ShareAlike 4.0 International",
        _CC + "licenses/by-sa/4.0/",
    ),
    Licence(
        "cc-by-nd-4.0",
        "CC BY-ND 4.0",
        "Attribution-NoDerivatives 4.0 International",
        _CC + "licenses/by-nd/4.0/",
    ),
    Licence(
        "cc-by-nc-4.0",
        "CC BY-NC 4.0",
        "Attribution-NonCommercial 4.0 International",
        _CC + "licenses/by-nc/4.0/",
    ),
    Licence(
        "cc-by-nc-sa-4.0",
        "CC BY-NC-SA 4.0",
        "Attribution-NonCommercial-ShareAlike 4.0 International",
        _CC + "licenses/by-nc-sa/4.0/",
    ),
    Licence(
        "cc-by-nc-nd-4.0",
        "CC BY-NC-ND 4.0",
        "Attribution-NonCommercial-NoDerivatives 4.0 International",
        _CC + "licenses/by-nc-nd/4.0/",
    ),
    Licence("cc0-1.0", "CC0 1.0", "CC0 1.0 Universal", _CC + "publicdomain/zero/1.0/"),
    Licence(
        "pdm-1.0",
        "Public Domain Mark 1.0",
        "Public Domain Mark 1.0",
        _CC + "publicdomain/mark/1.0/",
    ),
    Licence("all-rights-reserved", "All rights reserved", "All rights reserved", None),
)

LICENCES = MappingProxyType({licence.code: licence for licence in _ALL})
CODES = tuple(LICENCES)
ALL_RIGHTS_RESERVED = "all-rights-reserved"


def licence(code: str) -> Licence:
    """The licence of a stored code (a KeyError for a code this table never had)."""
    return LICENCES[code]


def checked(code: str) -> str:
    """A pydantic validator: a known licence code."""
    if code not in LICENCES:
        raise ValueError("not a licence code: one of " + ", ".join(CODES))
    return code

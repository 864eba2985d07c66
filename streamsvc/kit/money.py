"""Money: integer minor units and an ISO 4217 currency. No floats anywhere near it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

import pycountry
from pydantic import AfterValidator

# ISO 4217 minor units where they are not 2. Every other active code has 2.
_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_EXPONENTS = {
    **dict.fromkeys(_ZERO.split(" "), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}
# Funds, precious metals and testing codes are no currency a ticket is sold in.
_NOT_FOR_SALE = frozenset(
    "XAG XAU XBA XBB XBC XBD XDR XPD XPT XSU XTS XUA XXX BOV CHE CHW COU MXV USN UYI CLF UYW".split(
        " "
    )
)
CURRENCIES = frozenset(c.alpha_3 for c in pycountry.currencies) - _NOT_FOR_SALE

# The largest amount accepted anywhere in the API: 10 million in major units of
# a 2-decimal currency. It keeps sums of many amounts far inside 64-bit integers.
MAX_AMOUNT = 1_000_000_000


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency, 2)


def _currency(value: str) -> str:
    if value not in CURRENCIES:
        raise ValueError("not an ISO 4217 currency code (upper case, e.g. EUR)")
    return value


Currency = Annotated[str, AfterValidator(_currency)]


@dataclass(frozen=True, slots=True)
class Money:
    amount: int  # minor units
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise TypeError("Money.amount is an int of minor units")

    def decimal_string(self) -> str:
        """12.50 for 1250 EUR; 1250 for 1250 JPY (for schema.org offers and exports)."""
        return decimal_text(self.amount, exponent(self.currency))


def decimal_text(amount: int, places: int, point: str = ".") -> str:
    """Minor units as a decimal in major units: (-1250, 2) -> "-12.50"; `point` may be
    "," for Dutch spreadsheets. Exact: integers only."""
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**places)
    return f"{sign}{whole}{point}{frac:0{places}d}" if places else f"{sign}{whole}"


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` minor units in proportion to `weights`, exactly (largest remainder).

    The parts sum to `total`, and each part is within one minor unit of its exact
    quota `total * weight / sum(weights)`. Units left after flooring go to the
    largest remainders; ties go to the earlier weight, so the result is the same
    every time. A negative total is split as its positive mirror, negated. This is
    the one allocation function of streamsvc: every split goes through it.
    """
    if not weights:
        raise ValueError("nothing to allocate to")
    if any(isinstance(w, bool) or not isinstance(w, int) or w < 0 for w in weights):
        raise ValueError("weights are non-negative integers")
    whole = sum(weights)
    if whole == 0:
        raise ValueError("the weights sum to zero")
    if total < 0:
        return [-part for part in allocate(-total, weights)]
    floors = [total * w // whole for w in weights]
    remainders = [total * w % whole for w in weights]
    left = total - sum(floors)
    # Largest remainder first; among equals, the earlier index.
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[:left]:
        floors[i] += 1
    return floors

"""The smallest charge the payment provider accepts, per currency, in minor units.

Stripe refuses a PaymentIntent below these amounts ("Minimum and maximum charge
amounts", https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
Its table is in major units; here it is in ISO 4217 minor units (HUF has 2 decimals
in the API, so 175.00 Ft is 17500; JPY has none, so ¥50 is 50). A currency Stripe
does not list has the minimum of "USD 0.50 or the equivalent", which needs an
exchange rate we do not keep: `DEFAULT_MINIMUM` (50 minor units) is the floor used,
the same as the order check's, and the provider still has the last word.
"""

from __future__ import annotations

from types import MappingProxyType

CHARGE_MINIMUMS = MappingProxyType(
    {
        "USD": 50,
        "AED": 200,
        "AUD": 50,
        "BGN": 100,
        "BRL": 50,
        "CAD": 50,
        "CHF": 50,
        "CZK": 1500,
        "DKK": 250,
        "EUR": 50,
        "GBP": 30,
        "HKD": 400,
        "HUF": 17500,
        "INR": 50,
        "JPY": 50,
        "MXN": 1000,
        "MYR": 200,
        "NOK": 300,
        "NZD": 50,
        "PLN": 200,
        "RON": 200,
        "SEK": 300,
        "SGD": 50,
        "THB": 1000,
    }
)
DEFAULT_MINIMUM = 50


def charge_minimum(currency: str) -> int:
    """The smallest amount, in minor units of `currency`, a card payment may carry."""
    return CHARGE_MINIMUMS.get(currency.upper(), DEFAULT_MINIMUM)

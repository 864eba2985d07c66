"""Taking one e-mail address (and the names beside it) out of stored JSON."""

from __future__ import annotations

from typing import Any

# What a person's name or number is called next to their address, and the objects
# that hold a person's details in Stripe's payloads.
_PERSONAL_KEYS = ("name", "phone")
_PERSON_OBJECTS = frozenset({"billing_details", "shipping", "customer_details"})


def scrub(value: Any, address: str, replacement: str, *, person: bool = False) -> Any:
    """`value` with every occurrence of `address` (any case; `address` is lower case)
    replaced, and the name and phone cleared of every object that held the address or
    holds a person's details (`person`, Stripe's billing_details, shipping, ...)."""
    if isinstance(value, str):
        return _replace(value, address, replacement)
    if isinstance(value, list):
        return [scrub(item, address, replacement) for item in value]
    if isinstance(value, dict):
        held = any(isinstance(v, str) and address in v.lower() for v in value.values())
        cleaned = {
            key: scrub(item, address, replacement, person=key in _PERSON_OBJECTS)
            for key, item in value.items()
        }
        if held or person:
            cleaned.update({key: None for key in _PERSONAL_KEYS if cleaned.get(key)})
        return cleaned
    return value


def _replace(text: str, address: str, replacement: str) -> str:
    lowered, start, parts = text.lower(), 0, []
    while (found := lowered.find(address, start)) >= 0:
        parts += [text[start:found], replacement]
        start = found + len(address)
    return "".join(parts) + text[start:] if parts else text

"""Second factors: TOTP (RFC 6238, pyotp) and ten single-use recovery codes.

A code is accepted for the current 30-second step or the one before or after it
(clock drift), and only for a step later than the last one accepted: a code seen
over someone's shoulder cannot be used again. The enrolment QR code is an SVG drawn
on the server (segno), so the page needs no script.
"""

from __future__ import annotations

import hashlib
import io
import re
from datetime import datetime

import pyotp
import segno

from streamsvc.kit.ids import random_token

ISSUER = "streamsvc"
RECOVERY_CODES = 10
_CODE = re.compile(r"^[0-9]{6}$")
_STEP_SECONDS = 30


def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits, as RFC 4226 recommends


def provisioning_uri(secret: str, email: str, issuer: str = ISSUER) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code or as text."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def qr_svg(uri: str, title: str) -> str:
    """The URI as an inline SVG QR code (no XML declaration, for inclusion in a page)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(
        buffer,
        kind="svg",
        scale=5,
        border=4,
        xmldecl=False,
        svgns=True,
        title=title,
        svgclass="qr-code",
        lineclass=None,
    )
    return buffer.getvalue().decode()


def accepted_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step `code` is valid for (to remember), or None when it is not valid."""
    code = code.strip().replace(" ", "")
    if not _CODE.match(code):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // _STEP_SECONDS
    for step in (current - 1, current, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if pyotp.utils.strings_equal(totp.at(step * _STEP_SECONDS), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Ten codes like `7kq2m-x9d4t` (50 bits each), shown once."""
    return [f"{random_token(5)}-{random_token(5)}" for _ in range(RECOVERY_CODES)]


def normalise_recovery_code(code: str) -> str:
    return code.strip().lower().replace("-", "").replace(" ", "")


def hash_recovery_code(code: str) -> str:
    # Random codes of 50 bits: a fast hash is as safe as a slow one here.
    return hashlib.sha256(normalise_recovery_code(code).encode()).hexdigest()

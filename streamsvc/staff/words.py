"""The staff pages' errors in the page's words (web/errors.py does the rest)."""

from __future__ import annotations

import re

from starlette.requests import Request

from streamsvc.errors import ServiceError
from streamsvc.web.errors import PageErrors, page_errors
from streamsvc.web.rendering import N_, gettext

MESSAGES = {
    "login_failed": N_("The e-mail address, the password or the code is wrong."),
    "login_expired": N_("The login took too long. Please start again."),
    "rate_limited": N_("Too many failed attempts. Please wait a moment and try again."),
    "link_invalid": N_("This link is unknown, used or expired. Ask for a new one."),
    "password_too_short": N_("The password is too short."),
    "password_too_long": N_("The password is too long."),
    "password_common": N_("This password is one of the most common ones. Choose another."),
    "passwords_differ": N_("The two passwords differ."),
    "password_wrong": N_("The password is wrong."),
    "code_wrong": N_("The code is wrong. Check the time on your phone and try again."),
    "mfa_required": N_("A venue you are an admin of requires two-factor authentication."),
    "mfa_enabled": N_("Two-factor authentication is on already."),
    "mfa_disabled": N_("Two-factor authentication is off: turn it on first."),
    "last_admin": N_("This is the venue's last admin. Make someone else admin first."),
    "already_member": N_("This person is a member already."),
    "last_admin_key": N_("This is the venue's last admin key. Create another admin key first."),
    "forbidden": N_("Your role at this venue does not allow this."),
    "venue_suspended": N_(
        "Your venue is suspended by the platform operator. Ask them to resume it."
    ),
}
FIELD_WORDS = {
    "wrong e-mail address or password": N_("wrong e-mail address or password"),
    "wrong password or code": N_("wrong password or code"),
    "unknown, used or expired": N_("unknown, used or expired"),
    "one of the most common passwords": N_("one of the most common passwords"),
    "not the same password": N_("not the same password"),
    "wrong password": N_("wrong password"),
    "wrong code": N_("wrong code"),
    "already a member": N_("already a member"),
    "admin, finance or door": N_("admin, finance or door"),
    "venue suspended": N_("venue suspended"),
}
_AT_LEAST = re.compile(r"^at least (\d+) characters$")


def errors_of(request: Request, error: ServiceError | None) -> PageErrors:
    if error is None:
        return PageErrors()
    words = page_errors(request, error)
    if error.code in MESSAGES:
        words.message = gettext(request, MESSAGES[error.code])
    for name, text in error.fields.items():
        if text in FIELD_WORDS:
            words.fields[name] = gettext(request, FIELD_WORDS[text])
        elif match := _AT_LEAST.match(text):
            words.fields[name] = gettext(
                request, "at least %(count)s characters", count=match.group(1)
            )
    return words

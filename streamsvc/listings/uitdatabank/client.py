"""The UiTdatabank Entry API over HTTP, with an OAuth2 client access token.

Token (https://docs.publiq.be/docs/authentication/methods/client-access-token, as
documented on 2026-08-20): POST the client id and secret, form-encoded with
grant_type=client_credentials, to the authorization server's
/realms/uitid/protocol/openid-connect/token (STREAMSVC_UITDATABANK_TOKEN_URL); the answer's
`access_token` is sent as a Bearer token until `expires_in` seconds have passed (we
renew a minute early, for clock skew), and once more after a 401, as publiq advise.

Calls: POST /events (answers 201 with `id`), PUT /events/{id} (200), PUT
/events/{id}/status (204). A failure is Transient when trying again later may work (a
timeout, no connection, 408, 425, 429, 5xx) and Permanent otherwise (UiTdatabank
refused the body or the credentials): the task retries the first with backoff and
shows the second on the console. The client secret and the tokens never appear in an
error's words or a log line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
EARLY = timedelta(seconds=60)  # renew a token this long before it expires
RETRYABLE = {408, 425, 429}


class EntryApiError(Exception):
    """A call failed; `str()` says why, without secrets."""

    transient = False


class Transient(EntryApiError):
    transient = True


class Permanent(EntryApiError):
    pass


def _problem(response: httpx.Response) -> str:
    """UiTdatabank's words for a refusal (application/problem+json), shortened."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    said = [str(body.get(k)) for k in ("title", "detail") if body.get(k)]
    for item in body.get("schemaErrors") or []:
        if isinstance(item, dict):
            said.append(f"{item.get('jsonPointer', '')} {item.get('error', '')}".strip())
    return (f"HTTP {response.status_code}: " + "; ".join(said))[:1000]


def _classify(response: httpx.Response, what: str) -> None:
    if response.is_success:
        return
    words = f"{what}: {_problem(response)}"
    if response.status_code in RETRYABLE or response.status_code >= 500:
        raise Transient(words)
    raise Permanent(words)


class EntryApi:
    """One installation's client: thread-safe, reusing its token across calls."""

    def __init__(
        self,
        entry_url: str,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        now: Callable[[], datetime],
        http: httpx.Client | None = None,
    ) -> None:
        self.entry_url = entry_url.rstrip("/")
        self._token_url = token_url
        self._client_id = client_id
        self._secret = client_secret
        self._now = now
        self._http = http or httpx.Client(timeout=TIMEOUT, follow_redirects=False)
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires: datetime | None = None

    def close(self) -> None:
        self._http.close()

    def create_event(self, body: dict[str, Any]) -> str:
        """POST /events: UiTdatabank's id of the new event."""
        response = self._send("POST", "/events", body, "creating the event")
        try:
            created = response.json()
            found = created["id"]
        except (ValueError, KeyError, TypeError):
            raise Permanent("creating the event: the answer holds no id") from None
        if not isinstance(found, str) or not found:
            raise Permanent("creating the event: the answer holds no id")
        return found

    def update_event(self, uitdatabank_id: str, body: dict[str, Any]) -> None:
        """PUT /events/{id}: the event as a whole."""
        self._send("PUT", f"/events/{uitdatabank_id}", body, "updating the event")

    def set_status(self, uitdatabank_id: str, status: dict[str, Any]) -> None:
        """PUT /events/{id}/status: Available, TemporarilyUnavailable or Unavailable."""
        self._send("PUT", f"/events/{uitdatabank_id}/status", status, "setting the status")

    def _send(self, method: str, path: str, body: dict[str, Any], what: str) -> httpx.Response:
        for attempt in (1, 2):
            token = self._bearer(renew=attempt == 2)
            try:
                response = self._http.request(
                    method, self.entry_url + path, json=body,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                )  # fmt: skip
            except httpx.HTTPError as exc:
                raise Transient(f"{what}: {type(exc).__name__}") from None
            if response.status_code == 401 and attempt == 1:
                continue  # the token expired early or was revoked: one fresh one
            _classify(response, what)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _bearer(self, *, renew: bool) -> str:
        with self._lock:
            now = self._now()
            fresh = self._token is not None and self._expires is not None and now < self._expires
            if renew or not fresh:
                self._token, self._expires = self._fetch_token(now)
            assert self._token is not None
            return self._token

    def _fetch_token(self, now: datetime) -> tuple[str, datetime]:
        form = {"grant_type": "client_credentials", "client_id": self._client_id,
                "client_secret": self._secret}  # fmt: skip
        try:
            response = self._http.post(self._token_url, data=form,
                                       headers={"Accept": "application/json"})  # fmt: skip
        except httpx.HTTPError as exc:
            raise Transient(f"getting a token: {type(exc).__name__}") from None
        if response.status_code in (400, 401, 403):
            raise Permanent(
                f"getting a token: HTTP {response.status_code}, the authorization server "
                "refused the client id and secret (STREAMSVC_UITDATABANK_CLIENT_ID/_SECRET)"
            )
        _classify(response, "getting a token")
        try:
            answer = response.json()
            token, seconds = answer["access_token"], int(answer.get("expires_in", 300))
        except (ValueError, KeyError, TypeError):
            raise Transient("getting a token: the answer holds no access_token") from None
        if not isinstance(token, str) or not token:
            raise Transient("getting a token: the answer holds no access_token")
        return token, now + max(timedelta(seconds=seconds) - EARLY, timedelta(seconds=5))

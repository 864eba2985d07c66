"""Server-rendered pages: Jinja2 environments, one per language, and `render`.

THE FOUNDATION CONTRACT (what page modules code against)
========================================================

Rendering
    `render(request, "event.html", {...}, status=200, headers=None) -> HTMLResponse`
    picks the page language (`language(request)`: the `lang` cookie, else
    Accept-Language, among nl/en/fr, default en) and renders with that language's
    Environment (autoescape on; jinja2.ext.i18n installed: `{% trans %}`, `_()`,
    `gettext`, `ngettext`). Every template sees:
      lang                the page language ("nl", "en", "fr")
      languages           [(code, name)] for the switch ("Nederlands", "English", "Français")
      static(path)        "/static/js/x.<hash>.js" for static/js/x.js (404 for a stale hash;
                          served `Cache-Control: public, max-age=31536000, immutable`)
      csrf_token()        the value for `<input type="hidden" name="csrf_token">` and for
                          the `X-CSRF-Token` header of page JSON calls (see csrf.py)
      request             the Starlette request
      filters             money(amount_minor, currency) -> "€ 15,00" (nl) / "€15.00" (en)
                          datetime_local(dt, tz_name, format="medium")
                          date_local(dt, tz_name, format="long")
                          time_local(dt, tz_name, format="short")
                          decimal_input(amount_minor, currency) -> "12.50" (an input's value)
                          money_code(amount_minor, currency) -> "EUR 1.234,56" (documents)
                          date(a_date, format="long"), percent_bps(1250) -> "12,5%"
    Python code translates with `gettext(request, "msgid", name=value)` and
    `ngettext(request, "one", "%(num)s many", n)` (extracted by `make i18n`: babel.cfg
    declares these request-first signatures for Python), and marks msgids for later
    translation with `N_("...")`.
    The environments live in `request.app.state.pages` (a `Pages`, built by
    `build_pages(settings)` in create_app: nothing at import).

Templates (`streamsvc/web/templates/`)
    `base.html`: blocks `title`, `head` (extra <link>/<meta>), `main` (inside
    `<main id="main">`; a page that brings its own <main>, as Swagger UI does,
    overrides block `content` instead), `scripts`; a skip link to #main, the
    language switch, visible focus styles.
    Page templates are named after their URL: catalogue.html, event.html,
    checkout.html, order.html, watch.html, resend.html; `error.html` for errors.
    `_forms.html` has macros: `field_error(errors, name)` (the words beside a field:
    `<p id="error-<name>" class="field-error" role="alert">`; give the input
    `aria-describedby="error-<name>"` via `described_by(errors, name)`),
    `csrf_field()`, `form_errors(errors)` (a summary at the top of a form). Import
    with `{% import "_forms.html" as forms with context %}`.
    NO inline scripts or styles (CSP): scripts are files in static/js/, loaded with
    `<script src="{{ static('js/x.js') }}" defer></script>` in block `scripts`;
    data via data-* attributes or `<script type="application/json" id="...">`.
    CSS in static/css/site.css. Vendored: static/vendor/<package>/ (hls.js,
    axe-core, swagger-ui-dist), e.g. `static('vendor/hls.js/hls.min.js')`.

Errors on pages
    `page_errors(request, error) -> PageErrors` gives a ServiceError's message and
    field words in the page language (web/errors.py). A ServiceError a page handler
    does not catch is answered as `error.html` in the page language (HTML for
    browsers, JSON for API clients; app.py asks `errors.error_page`).
    `static/js/errors.js` (`window.streamsvcErrors.show(form, body)`) maps the JSON
    error shape {"error": {"code","message","fields"}} to the elements
    `#error-<field>` of a form, for pages whose JS calls JSON routes.

Forms (forms.py) and CSRF (csrf.py)
    `form = await read_form(request)`: the urlencoded body as FormData (no multipart
    parser is installed; 415 for another content type).
    Signed double-submit cookie `csrf` (HttpOnly, SameSite=Lax, path /). Forms carry
    `csrf_token`; JS sends header `X-CSRF-Token`. A POST handler calls
    `check_csrf(request, form)` (403 `csrf_failed`). `render` sets the cookie when it
    made a new nonce; a JSON response of a page endpoint needs no cookie of its own.

Security headers (streamsvc/http/security.py)
    CSP, nosniff, Referrer-Policy: no-referrer, on every response. A page extends
    the CSP for one response with `extend_csp(request, {"connect-src": [...]})`
    (e.g. the player's media origin; `frame-ancestors` replaces 'none').

Cookies of the audience's pages
    `lang`                      the chosen language (GET /language/{code}?next=/path)
    `csrf`                      see above
    `order_<order_id>`          the order token, set by POST /events/{event_id} after a
                                successful buy (HttpOnly, SameSite=Lax, Secure under https),
                                once with Path=/orders/<order_id> and once with
                                Path=/checkout/<order_id>; max-age 30 days. Read it with
                                `order_token(request, order_id)`; set it with
                                `set_order_token(request, response, order_id, token)`; its
                                name is `order_token_cookie(order_id)` (web/cookies.py).

Documents (web/documents.py)
    `render_document("party_statement.html", lang, {...})` renders
    `templates/documents/<name>` outside a request (statements, mails) with the same
    catalogs and filters; documents are self-contained (no stylesheet, no script).

Languages (web/i18n.py)
    Catalogs `locale/{nl,en,fr}/LC_MESSAGES/messages.po`, compiled in memory when the
    app is built. `make i18n` extracts msgids (babel.cfg: templates and Python) and
    updates the .po files; fill in translations by hand.

Page routes
    Each domain has `pages.py` with `routes: list[Route]` (include_in_schema=False:
    pages are not the JSON API), registered in app.py. Work runs in
    `in_unit_of_work(request, fn)` (streamsvc/http/endpoint.py). The event page's
    order form is handled by streamsvc/orders/buy_form.py (orders depends on
    listings, not the reverse).

Browser tests (tests/browser/conftest.py)
    Fixtures `site` (uvicorn on the test's clock), `browser` (/usr/bin/chromium,
    scripts/install-browser), `new_page(locale)` (fails on CSP violations and script
    errors; screenshot on failure), `assert_accessible(page, exclude=[...])` (axe-core,
    serious/critical fail). Mark tests `@pytest.mark.browser`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from config.settings import Settings
from streamsvc.web import csrf
from streamsvc.web.assets import StaticAssets
from streamsvc.web.formatting import filters
from streamsvc.web.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGE_COOKIE,
    LANGUAGE_NAMES,
    LANGUAGES,
    load_catalogs,
    negotiate,
)

TEMPLATES_DIR = Path(__file__).parent / "templates"


def N_(message: str) -> str:
    """Mark a msgid for extraction; translate it later with `gettext(request, ...)`."""
    return message


@dataclass(frozen=True)
class Pages:
    """What rendering needs for the app's lifetime; `request.app.state.pages`."""

    environments: dict[str, Environment]
    catalogs: dict[str, Translations]
    assets: StaticAssets
    csrf_key: bytes
    secure_cookies: bool  # the site is served over https: cookies get Secure


def environment(loader: FileSystemLoader, language: str, catalog: Translations) -> Environment:
    """One language's Jinja environment: autoescape, gettext, the Babel filters."""
    env = Environment(
        loader=loader,
        autoescape=select_autoescape(["html", "xml"], default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(catalog, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(filters(language))
    env.globals["lang"] = language
    return env


def build_pages(settings: Settings, templates_dir: Path = TEMPLATES_DIR) -> Pages:
    assets = StaticAssets.scan()
    catalogs = load_catalogs()
    loader = FileSystemLoader(templates_dir)
    environments: dict[str, Environment] = {}
    for language in LANGUAGES:
        env = environment(loader, language, catalogs[language])
        env.globals.update(
            languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
            static=assets.url,
        )
        environments[language] = env
    return Pages(
        environments=environments,
        catalogs=catalogs,
        assets=assets,
        csrf_key=csrf.csrf_key(settings),
        secure_cookies=settings.public_url.startswith("https://"),
    )


def language(request: Request) -> str:
    """The page language: the `lang` cookie, else Accept-Language, else English."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return negotiate(request.headers.get("accept-language"), LANGUAGES, DEFAULT_LANGUAGE)


def gettext(request: Request, message: str, **variables: Any) -> str:
    """`message` in the page language, with %(name)s variables filled in."""
    pages: Pages = request.app.state.pages
    text: str = pages.catalogs[language(request)].ugettext(message)
    return text % variables if variables else text


def ngettext(request: Request, singular: str, plural: str, n: int, **variables: Any) -> str:
    """The singular or plural in the page language; %(num)s is n."""
    pages: Pages = request.app.state.pages
    text: str = pages.catalogs[language(request)].ungettext(singular, plural, n)
    return text % {"num": n, **variables}


def render(
    request: Request,
    template: str,
    context: Mapping[str, object],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render a page template in the request's language (module docstring)."""
    pages: Pages = request.app.state.pages
    env = pages.environments[language(request)]
    html = env.get_template(template).render(
        {"request": request, "csrf_token": lambda: csrf.csrf_token(request), **context}
    )
    response = HTMLResponse(html, status_code=status, headers=dict(headers or {}))
    # The page depends on the cookies and Accept-Language it was rendered for.
    response.headers["Vary"] = "Accept-Language, Cookie"
    response.headers.setdefault("Cache-Control", "no-store")
    csrf.set_cookie(request, response)
    return response

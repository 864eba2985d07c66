"""/docs in a browser: Swagger UI, vendored, lists the operations under the strict CSP."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PageFactory

pytestmark = pytest.mark.browser


def test_docs_list_the_operations_and_are_accessible(
    site: str, new_page: PageFactory, assert_accessible: Callable[..., None]
) -> None:
    page = new_page()
    page.goto(f"{site}/docs")
    buy = page.locator(".opblock-post", has_text="/v1/public/events/{event_id}/orders")
    expect(buy.first).to_be_visible()
    expect(buy.first).to_contain_text("Buy tickets")
    expect(page.get_by_role("link", name="/openapi.json").first).to_be_visible()
    assert_accessible(page)

"""In a real browser: every role logs in and sees its home page; isolation holds by URL."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOME_HEADINGS = {
    "architect": "My engagements",
    "engineer": "My engagements",
    "manager": "Manager dashboard",
    "ops": "Operations",
    "customer": "Customer portal",
    "viewer": "Customer portal",
    "customer2": "Customer portal",
}


@pytest.mark.parametrize("username", list(HOME_HEADINGS))
def test_each_role_logs_in_and_sees_its_home_page(world, page, browser_login, shot, username):
    browser_login(username)
    assert page.locator("h1").first.inner_text() == HOME_HEADINGS[username]
    expected = world.other.name if username == "customer2" else world.engagement.name
    # The architect's home links the engagement from its card and from "what is due".
    assert page.get_by_role("link", name=expected).count() >= 1
    shot(f"home-{username}")
    # The page loaded our stylesheet and htmx from our own static files.
    assert page.evaluate("typeof window.htmx") == "object"
    assert (
        page.evaluate("getComputedStyle(document.querySelector('.site-header')).backgroundColor")
        == "rgb(20, 32, 46)"
    )


def test_customer_gets_404_on_the_other_customers_engagement(
    world, page, live_server, browser_login, shot
):
    browser_login("customer")
    response = page.goto(f"{live_server.url}/engagements/{world.other.pk}/")
    assert response.status == 404
    assert page.locator("h1").inner_text() == "Page not found"
    assert world.other.name not in page.content()
    shot("other-customer-404")
    own = page.goto(f"{live_server.url}/engagements/{world.engagement.pk}/")
    assert own.status == 200
    assert page.locator("h1").inner_text() == world.engagement.name


def test_wrong_password_shows_the_error_in_the_form(world, page, live_server):
    page.goto(f"{live_server.url}/auth/login/")
    page.fill("#id_username", "architect")
    page.fill("#id_password", "not-the-password")
    page.click("button[type=submit]")
    assert (
        "Please enter a correct username and password" in page.locator(".form-errors").inner_text()
    )

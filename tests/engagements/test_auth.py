"""Log in, log out, failed-login throttling by username + IP, password reset by email."""

from __future__ import annotations

import re

from django.core import mail

PASSWORD = "pw-for-tests-123"


def _login(client, username, password, ip="10.0.0.1"):
    return client.post("/auth/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_login_and_logout(world, client):
    response = _login(client, "architect", PASSWORD)
    assert response.status_code == 302
    assert response.url == "/"
    assert client.get("/").status_code == 200
    response = client.post("/auth/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_says_so_without_naming_which_part(world, client):
    response = _login(client, "architect", "wrong")
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_repeated_failures_lock_that_username_from_that_ip_only(world, client, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "architect", "wrong", ip="10.0.0.1")
    locked = _login(client, "architect", PASSWORD, ip="10.0.0.1")
    assert locked.status_code == 429
    assert "Too many failed log-in attempts" in locked.content.decode()
    # The same user from another address, and another user from the same address, still get in.
    assert _login(client, "architect", PASSWORD, ip="10.0.0.2").status_code == 302
    client.post("/auth/logout/")
    assert _login(client, "engineer", PASSWORD, ip="10.0.0.1").status_code == 302


def test_password_reset_sends_a_working_link(world, client):
    response = client.post("/auth/password_reset/", {"email": "customer@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    link = re.search(r"http://testserver(/auth/reset/\S+/)", body).group(1)
    form_page = client.get(link, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link
    done = client.post(
        set_url, {"new_password1": "A-new-long-pass-42", "new_password2": "A-new-long-pass-42"}
    )
    assert done.status_code == 302
    world.customer.refresh_from_db()
    assert world.customer.check_password("A-new-long-pass-42")


def test_password_reset_for_an_unknown_address_reveals_nothing(world, client):
    response = client.post("/auth/password_reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mail.outbox == []

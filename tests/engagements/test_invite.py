"""Inviting the customer's people: the architect makes their login from the Team page, and the
emailed link lets them choose a password and sign in."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from engagements.models import ActivityEvent, Membership, Role, User

pytestmark = pytest.mark.django_db

INVITE = {
    "action": "invite",
    "invite-first_name": "Pat",
    "invite-last_name": "Lopez",
    "invite-email": "Pat.Lopez@Northwind.example",
    "invite-role": "customer_approver",
}


def _url(world):
    return f"/engagements/{world.engagement.pk}/team/"


def test_architect_invites_a_new_customer_user_who_sets_a_password_and_signs_in(world, client):
    client.force_login(world.architect)
    response = client.post(_url(world), INVITE, follow=True)
    assert "an invitation to choose a password went to pat.lopez@northwind.example" in (
        response.content.decode()
    )
    user = User.objects.get(username="pat.lopez@northwind.example")
    assert user.organization == world.org_a and not user.has_usable_password()
    assert Membership.objects.get(engagement=world.engagement, user=user).role == (
        Role.CUSTOMER_APPROVER
    )
    assert ActivityEvent.objects.filter(verb="membership.invited").count() == 1
    assert "invited, no password yet" in client.get(_url(world)).content.decode()

    (message,) = mail.outbox
    assert message.to == ["pat.lopez@northwind.example"]
    assert world.engagement.name in message.subject
    assert "as Customer approver" in message.body
    link = re.search(r"http://testserver(/auth/reset/\S+/)", message.body).group(1)

    client.logout()
    form_url = client.get(link, follow=True).redirect_chain[-1][0]
    client.post(
        form_url, {"new_password1": "A-long-pass-2027", "new_password2": "A-long-pass-2027"}
    )
    user.refresh_from_db()
    assert user.check_password("A-long-pass-2027")
    # The link worked once.
    assert "This link no longer works" in client.get(link, follow=True).content.decode()


def test_reinviting_a_person_with_a_login_only_gives_the_role(world, client):
    client.force_login(world.architect)
    data = {**INVITE, "invite-email": world.viewer.email, "invite-role": "customer_approver"}
    response = client.post(_url(world), data, follow=True)
    assert "they already had a login" in response.content.decode()
    assert Membership.objects.get(engagement=world.engagement, user=world.viewer).role == (
        Role.CUSTOMER_APPROVER
    )
    assert not mail.outbox


def test_an_address_outside_the_organization_is_refused_and_nothing_is_made(world, client):
    client.force_login(world.architect)
    before = (User.objects.count(), Membership.objects.count())
    for email in (world.customer2.email, world.engineer.email):
        response = client.post(_url(world), {**INVITE, "invite-email": email})
        assert response.status_code == 400
        assert "already has a login outside Northwind Test" in response.content.decode()
    response = client.post(_url(world), {**INVITE, "invite-email": "not an email"})
    assert "Enter a valid email address." in response.content.decode()
    response = client.post(_url(world), {**INVITE, "invite-role": "engineer"})
    assert "Select a valid choice" in response.content.decode()
    assert (User.objects.count(), Membership.objects.count()) == before
    assert not mail.outbox


@pytest.mark.parametrize("who", ["engineer", "manager", "ops", "customer", "viewer"])
def test_only_the_architect_invites(world, client, who):
    client.force_login(getattr(world, who))
    response = client.post(_url(world), INVITE)
    assert response.status_code == 403
    assert not User.objects.filter(email="pat.lopez@northwind.example").exists()


def test_a_stranger_gets_404(world, client):
    client.force_login(world.architect2)
    assert client.post(_url(world), INVITE).status_code == 404
    assert not User.objects.filter(email="pat.lopez@northwind.example").exists()


def test_an_invited_person_whose_link_expired_asks_for_a_new_one(world, client):
    client.force_login(world.architect)
    client.post(_url(world), INVITE)
    client.logout()
    mail.outbox.clear()
    response = client.post("/auth/password_reset/", {"email": "pat.lopez@northwind.example"})
    assert response.status_code == 302
    (message,) = mail.outbox
    assert message.to == ["pat.lopez@northwind.example"]
    link = re.search(r"http://testserver(/auth/reset/\S+/)", message.body).group(1)
    form_url = client.get(link, follow=True).redirect_chain[-1][0]
    client.post(
        form_url, {"new_password1": "A-long-pass-2027", "new_password2": "A-long-pass-2027"}
    )
    assert User.objects.get(username="pat.lopez@northwind.example").check_password(
        "A-long-pass-2027"
    )


def test_a_login_disabled_after_use_gets_no_reset_link(world, client):
    """Only never-used invitations are reached: a user whose password was disabled after they
    signed in is not."""
    from django.utils import timezone

    world.viewer.set_unusable_password()
    world.viewer.last_login = timezone.now()
    world.viewer.save()
    client.post("/auth/password_reset/", {"email": world.viewer.email})
    assert mail.outbox == []

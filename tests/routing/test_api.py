"""POST /api/v1/route: tokens, bad input, batches, rate limits, and never a stale answer."""

from __future__ import annotations

import json

import pytest

from routing import services
from routing.access import token_create, token_revoke
from routing.models import RoutingToken
from tests.routing.conftest import make_small_object

URL = "/api/v1/route"
LA = {"external_id": "X-1", "annual_revenue": 5_000_000, "state": "CA", "postal_code": "90012"}


@pytest.fixture
def api(small, client):
    token, plaintext = token_create(engagement=small.engagement, name="CRM", actor=small.engineer)

    def post(body, *, auth=plaintext, content_type="application/json", raw=False):
        data = body if raw else json.dumps(body)
        headers = {"HTTP_AUTHORIZATION": f"Bearer {auth}"} if auth else {}
        return client.generic("POST", URL, data, content_type=content_type, **headers)

    small.post, small.token, small.plaintext = post, token, plaintext
    return small


def test_one_record_gets_territory_owner_team_and_trace(api):
    response = api.post(LA)
    assert response.status_code == 200
    body = response.json()
    assert body["territory"] == {"key": "COM-LA", "name": "Commercial LA"}
    assert body["owner"] == "Bob" and body["team"]["ae"] == "Bob"
    assert body["external_id"] == "X-1" and body["decided_at"] == "territory"
    assert body["geo_unit"] == "CA:C06037" and body["fallback"] is None
    assert body["reason"].startswith("territory COM-LA Commercial LA is the first match")
    levels = [step["level"] for step in body["trace"]]
    assert levels[:3] == ["named_account", "account_list", "segment"]
    assert body["trace"][-1] == {
        "level": "owner",
        "rule": "AE Bob",
        "matched": True,
        "reason": "the territory's team: AE Bob",
    }
    assert (
        body["config_version"] == services.routing_settings_get(engagement=api.engagement).version
    )


def test_a_batch_answers_each_record_in_order(api):
    records = [LA, {"external_id": "E-1"}, {"domain": "www.acme.com"}, {"annual_revenue": "lots"}]
    response = api.post({"records": records})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 4
    owners = [r["owner"] for r in body["results"]]
    assert owners == ["Bob", "Ann", "Nora", "RevOps queue"]
    assert body["results"][3]["fallback"] == "segment"
    assert body["results"][3]["queue"] == "RevOps queue"


def test_unknown_fields_are_ignored_and_named(api):
    body = api.post({**LA, "Billing Street": "1 Main St"}).json()
    assert body["ignored_fields"] == ["Billing Street"]


@pytest.mark.parametrize(
    "auth",
    [None, "nonsense", "rt_deadbeef_wrongsecret", "Basic abc"],
)
def test_a_missing_or_bad_token_is_401(api, client, auth):
    headers = {
        "HTTP_AUTHORIZATION": auth if auth and auth.startswith("Basic") else f"Bearer {auth}"
    }
    if auth is None:
        headers = {}
    response = client.post(URL, json.dumps(LA), content_type="application/json", **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["errors"][0]["field"] == "Authorization"


def test_a_token_with_the_right_prefix_but_wrong_secret_is_401(api):
    forged = f"rt_{api.token.prefix}_{'x' * 43}"
    assert api.post(LA, auth=forged).status_code == 401


def test_a_revoked_token_is_401(api):
    assert api.post(LA).status_code == 200
    token_revoke(token=api.token, actor=api.engineer)
    assert api.post(LA).status_code == 401


def test_tokens_are_stored_hashed_and_last_use_is_noted(api):
    token = RoutingToken.objects.get(pk=api.token.pk)
    assert api.plaintext not in (token.hash, token.prefix)
    assert len(token.hash) == 64 and token.last_used_at is None
    api.post(LA)
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_another_engagements_token_never_routes_this_engagements_data(api):
    """The other engagement has its own territory object; its token answers from it."""
    other = api.other
    make_small_object(other)
    services.territory_save(
        engagement=other,
        territory=other.territory_records.get(key="COM-LA"),
        values={"ae": "Zoe"},
        accounts=None,
        actor=None,
    )
    _, theirs = token_create(engagement=other, name="theirs", actor=None)
    assert api.post(LA).json()["owner"] == "Bob"
    assert api.post(LA, auth=theirs).json()["owner"] == "Zoe"
    # Nothing in the body can point a token at another engagement.
    body = api.post({**LA, "engagement": other.pk, "engagement_id": other.pk}, auth=theirs).json()
    assert body["owner"] == "Zoe"


def test_an_ae_change_routes_the_next_record_to_the_new_ae(api):
    assert api.post(LA).json()["owner"] == "Bob"
    services.territory_save(
        engagement=api.engagement,
        territory=api.object.la,
        values={"ae": "Bea"},
        accounts=None,
        actor=api.engineer,
    )
    body = api.post(LA).json()
    assert body["owner"] == "Bea" and body["team"]["ae"] == "Bea"


def test_malformed_json_is_400_naming_the_body(api):
    response = api.post('{"external_id": "1",', raw=True)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "body"
    assert api.post("NaN", raw=True).status_code == 400
    assert api.post("[1, 2]", raw=True).json()["errors"][0]["field"] == "body"


def test_wrong_content_type_is_415(api):
    response = api.post("external_id=1", raw=True, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json()["errors"][0]["field"] == "Content-Type"


def test_only_post(api, client):
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {api.plaintext}")
    assert response.status_code == 405 and response["Allow"] == "POST"


@pytest.mark.parametrize(
    ("record", "field", "message"),
    [
        ({"annual_revenue": [1]}, "records[1].annual_revenue", "number"),
        ({"state": 6}, "records[1].state", "string"),
        ({"postal_code": 9.5}, "records[1].postal_code", "whole number"),
        ({"external_id": True}, "records[1].external_id", "true or false"),
        ({"city": "x" * 301}, "records[1].city", "300"),
        ("not an object", "records[1]", "object"),
    ],
)
def test_wrong_types_are_400_naming_the_field(api, record, field, message):
    response = api.post({"records": [LA, record]})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["field"] == field and message in error["message"]


def test_a_single_record_error_names_the_bare_field(api):
    error = api.post({"employees": {"n": 3}}).json()["errors"][0]
    assert error["field"] == "employees"


def test_oversized_batches_and_bodies_are_413(api, settings):
    settings.ROUTING_API_MAX_BATCH = 3
    response = api.post({"records": [LA] * 4})
    assert response.status_code == 413
    assert response.json()["errors"][0]["field"] == "records"
    settings.ROUTING_API_MAX_BODY_BYTES = 100
    response = api.post({**LA, "name": "x" * 200})
    assert response.status_code == 413
    assert response.json()["errors"][0]["field"] == "body"


def test_exactly_1000_records_are_accepted_at_the_default_settings(api):
    from django.conf import settings

    assert settings.ROUTING_API_MAX_BATCH == 1000  # the defaults of config/settings.py
    records = [{**LA, "external_id": f"X-{i}"} for i in range(1000)]
    response = api.post({"records": records})
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert body["count"] == 1000 and len(body["results"]) == 1000
    assert body["results"][999]["external_id"] == "X-999"
    assert {r["territory"]["key"] for r in body["results"]} == {"COM-LA"}
    # One more is refused whole, naming the limit.
    response = api.post({"records": [*records, LA]})
    assert response.status_code == 413
    error = response.json()["errors"][0]
    assert error == {
        "field": "records",
        "message": "1,001 records; a batch holds at most 1,000.",
    }


def test_a_maximal_legal_batch_fits_the_default_body_limit(api):
    """1,000 records with every field at its 300-character limit (about 3.2 MB) are within
    the default 4 MB body limit."""
    from django.conf import settings

    from routing import engine

    record = dict.fromkeys(engine.RECORD_FIELDS, "x" * 300)
    body = json.dumps({"records": [record] * settings.ROUTING_API_MAX_BATCH})
    assert 3_000_000 < len(body) <= settings.ROUTING_API_MAX_BODY_BYTES == 4096 * 1024
    response = api.post(body, raw=True)
    assert response.status_code == 200, response.content[:300]
    assert response.json()["count"] == 1000
    # Legal fields in a script of 3 bytes a character go past the limit: the 413 names it.
    wide = dict.fromkeys(engine.RECORD_FIELDS, "漢" * 300)  # 3 bytes a character
    body = json.dumps({"records": [wide] * 1000}, ensure_ascii=False).encode()
    assert len(body) > settings.ROUTING_API_MAX_BODY_BYTES
    response = api.post(body, raw=True)
    assert response.status_code == 413
    assert response.json()["errors"] == [
        {
            "field": "body",
            "message": f"The body is {len(body):,} bytes; the limit is 4,194,304 bytes "
            "(4,096 KB, ROUTING_API_MAX_BODY_KB). Send fewer records per request.",
        }
    ]


def test_records_must_be_a_non_empty_list(api):
    assert api.post({"records": {}}).json()["errors"][0]["field"] == "records"
    assert api.post({"records": []}).status_code == 400


def test_the_rate_limit_answers_429_with_retry_after(api, settings):
    from django.core.cache import cache

    cache.clear()
    settings.ROUTING_API_RATE_LIMIT = 2
    assert api.post(LA).status_code == 200
    assert api.post(LA).status_code == 200
    response = api.post(LA)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= settings.ROUTING_API_RATE_WINDOW
    # Limits are per token: another token of the engagement still routes.
    _, second = token_create(engagement=api.engagement, name="second", actor=None)
    assert api.post(LA, auth=second).status_code == 200
    cache.clear()


def test_the_api_is_csrf_exempt(api, client):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        URL,
        json.dumps(LA),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api.plaintext}",
    )
    assert response.status_code == 200

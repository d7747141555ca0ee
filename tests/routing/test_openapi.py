"""docs/openapi.json parses, and the view behaves as it says for every documented case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from routing import engine
from routing.access import token_create

DOC = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())
OPERATION = DOC["paths"]["/api/v1/route"]["post"]


def validator(schema: dict) -> Draft202012Validator:
    root = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "components": DOC["components"],
    }
    Draft202012Validator.check_schema(root)
    return Draft202012Validator(root)


def response_schema(status: int) -> dict:
    return OPERATION["responses"][str(status)]["content"]["application/json"]["schema"]


def test_the_document_is_openapi_3_1_with_the_route_operation():
    assert DOC["openapi"].startswith("3.1")
    assert set(OPERATION["responses"]) == {"200", "400", "401", "405", "413", "415", "429"}
    record = DOC["components"]["schemas"]["Record"]["properties"]
    assert set(record) == set(engine.RECORD_FIELDS)  # the document names every field read
    levels = DOC["components"]["schemas"]["TraceStep"]["properties"]["level"]["enum"]
    assert set(levels) >= {"named_account", "segment", "sub_state", "territory", "fallback"}
    fallbacks = DOC["components"]["schemas"]["Decision"]["properties"]["fallback"]["enum"]
    assert set(fallbacks) - {None} == set(engine.FALLBACK_LEVELS)


@pytest.fixture
def post(small, client):
    _, plaintext = token_create(engagement=small.engagement, name="doc", actor=None)

    def _post(body, *, auth=plaintext, content_type="application/json"):
        data = body if isinstance(body, str) else json.dumps(body)
        headers = {"HTTP_AUTHORIZATION": f"Bearer {auth}"} if auth else {}
        return client.generic("POST", "/api/v1/route", data, content_type=content_type, **headers)

    return _post


@pytest.mark.parametrize(
    "name", sorted(OPERATION["requestBody"]["content"]["application/json"]["examples"])
)
def test_every_documented_example_is_valid_and_answers_as_documented(post, name):
    content = OPERATION["requestBody"]["content"]["application/json"]
    example = content["examples"][name]["value"]
    validator(content["schema"]).validate(example)
    response = post(example)
    assert response.status_code == 200
    validator(response_schema(200)).validate(response.json())


def test_decisions_of_every_kind_match_the_schema(post):
    records = [
        {"external_id": "E-1"},  # account list
        {"external_id": "N-1"},  # named account
        {"annual_revenue": 5, "postal_code": "90012"},  # territory
        {"annual_revenue": "n/a"},  # segment fallback to the queue
        {"annual_revenue": 5, "state": "CA"},  # sub-state fallback
        {"annual_revenue": 5, "Extra": 1},  # ignored field
    ]
    body = post({"records": records}).json()
    validator(response_schema(200)).validate(body)
    for record in records:
        validator(response_schema(200)).validate(post(record).json())


@pytest.mark.parametrize(
    ("status", "call"),
    [
        (400, lambda post: post("{oops")),
        (400, lambda post: post({"records": [{"state": 5}]})),
        (401, lambda post: post({}, auth="rt_nope_nope")),
        (413, lambda post: post({"records": [{}] * 1001})),
        (415, lambda post: post("a=1", content_type="text/plain")),
    ],
)
def test_documented_errors_have_the_documented_shape(post, status, call):
    response = call(post)
    assert response.status_code == status
    validator(response_schema(status)).validate(response.json())


def test_405_and_429_have_the_documented_shape(post, client, settings):
    from django.core.cache import cache

    response = client.get("/api/v1/route")
    assert response.status_code == 405
    validator(response_schema(405)).validate(response.json())
    cache.clear()
    settings.ROUTING_API_RATE_LIMIT = 1
    post({})
    response = post({})
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    validator(response_schema(429)).validate(response.json())
    cache.clear()

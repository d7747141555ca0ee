"""``POST /api/v1/route``: route one account record or a batch, authenticated by a bearer token.

Documented in docs/api.md and docs/openapi.json. The token decides the engagement
(``routing.access``); nothing in the request can name another one. JSON in, JSON out, every
error as ``{"errors": [{"field": ..., "message": ...}]}``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from redis.exceptions import RedisError

from routing import engine, services
from routing.access import settings_for, token_for_request

log = logging.getLogger(__name__)

MAX_TEXT = 300
MAX_WHOLE = 10**18  # a size past this is a typo or an attack, never a company
TEXT_FIELDS = ("name", "domain", "industry", "country", "state", "city")
NUMBER_FIELDS = ("annual_revenue", "employees")
ID_FIELDS = ("external_id", "postal_code")  # text, or a whole number a spreadsheet made of it


def _error(status: int, errors: list[dict[str, str]], **headers: str) -> JsonResponse:
    response = JsonResponse({"errors": errors}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _one(field: str, message: str) -> list[dict[str, str]]:
    return [{"field": field, "message": message}]


def rate_limited(key: str) -> int:
    """Seconds to wait when ``key`` used up its fixed window, else 0.

    A fixed window per token in the Django cache (Redis in production, so every gunicorn
    process shares the count): ROUTING_API_RATE_LIMIT requests per ROUTING_API_RATE_WINDOW s.
    With the cache unreachable (Redis restarting) the request is routed uncounted: routing
    needs only the database, and a CRM's records must not bounce for a counter.
    """
    limit, window = settings.ROUTING_API_RATE_LIMIT, settings.ROUTING_API_RATE_WINDOW
    if limit <= 0:
        return 0
    now = time.time()
    bucket = f"routing-api:{key}:{int(now // window)}"
    try:
        if cache.add(bucket, 1, timeout=window + 1):
            count = 1
        else:
            try:
                count = cache.incr(bucket)
            except ValueError:  # expired between add and incr
                cache.add(bucket, 1, timeout=window + 1)
                count = 1
    except RedisError as exc:
        log.warning("Rate limit not counted, the cache is unreachable: %s", exc)
        return 0
    if count > limit:
        return max(1, math.ceil(window - now % window))
    return 0


def _check_record(value: Any, where: str) -> tuple[dict[str, Any] | None, list, list[str]]:
    """(the record, errors, ignored field names) for one JSON value."""
    prefix = f"{where}." if where else ""
    if not isinstance(value, dict):
        return None, _one(where or "body", "A record must be a JSON object."), []
    errors = []
    record: dict[str, Any] = {}
    ignored = sorted(k for k in value if k not in engine.RECORD_FIELDS)
    for name in engine.RECORD_FIELDS:
        if name not in value or value[name] is None:
            continue
        item = value[name]
        field = f"{prefix}{name}"
        if isinstance(item, bool):
            errors.append({"field": field, "message": "Must not be true or false."})
        elif name in NUMBER_FIELDS and not isinstance(item, (int, float, str)):
            errors.append(
                {"field": field, "message": "Must be a number, a numeric string or null."}
            )
        elif name in ID_FIELDS and not isinstance(item, (int, str)):
            errors.append({"field": field, "message": "Must be a string, a whole number or null."})
        elif name in TEXT_FIELDS and not isinstance(item, str):
            errors.append({"field": field, "message": "Must be a string or null."})
        elif isinstance(item, str) and len(item) > MAX_TEXT:
            errors.append({"field": field, "message": f"Longer than {MAX_TEXT} characters."})
        elif (isinstance(item, float) and not math.isfinite(item)) or (
            isinstance(item, int) and name in NUMBER_FIELDS and abs(item) > MAX_WHOLE
        ):
            errors.append({"field": field, "message": "Must be a finite number."})
        else:
            record[name] = item
    return (None if errors else record), errors, ignored


def _answer(record: dict[str, Any], decision: engine.Decision, ignored: list[str]) -> dict:
    body = {"external_id": engine.clean_text(record.get("external_id")) or None}
    body.update(decision.as_dict())
    if ignored:
        body["ignored_fields"] = ignored
    return body


@csrf_exempt
def route(request: HttpRequest) -> JsonResponse:
    if request.method != "POST":
        return _error(405, _one("method", "Use POST."), Allow="POST")
    token = token_for_request(request)
    if token is None:
        return _error(
            401,
            _one("Authorization", "A valid, unrevoked bearer token is required."),
            WWW_Authenticate='Bearer realm="routing"',
        )
    wait = rate_limited(token.prefix)
    if wait:
        return _error(
            429,
            _one("Authorization", f"Rate limit reached for this token; retry in {wait} s."),
            Retry_After=str(wait),
        )
    content_type = request.content_type or ""
    if content_type.lower() != "application/json":
        return _error(415, _one("Content-Type", "Send the body as application/json."))
    limit = settings.ROUTING_API_MAX_BODY_BYTES
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > limit:
        return _error(413, _too_big(int(declared), limit))
    try:
        raw = request.body
    except RequestDataTooBig:
        return _error(413, _too_big(None, limit))
    if len(raw) > limit:
        return _error(413, _too_big(len(raw), limit))
    try:
        payload = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        return _error(400, _one("body", f"Not valid JSON: {exc}"))
    except RecursionError:
        return _error(400, _one("body", "The JSON is nested too deeply; a record is flat."))
    if not isinstance(payload, dict):
        return _error(
            400, _one("body", 'The body must be a JSON object: a record or {"records": [...]}.')
        )

    engagement = token.engagement
    row = settings_for(engagement)
    config = services.routing_config(engagement=engagement, settings_row=row)
    if "records" in payload:
        records = payload["records"]
        if not isinstance(records, list):
            return _error(400, _one("records", "Must be a list of record objects."))
        maximum = settings.ROUTING_API_MAX_BATCH
        if len(records) > maximum:
            return _error(
                413,
                _one("records", f"{len(records):,} records; a batch holds at most {maximum:,}."),
            )
        if not records:
            return _error(400, _one("records", "The list is empty."))
        checked, errors = [], []
        for i, value in enumerate(records):
            record, problems, ignored = _check_record(value, f"records[{i}]")
            errors += problems
            checked.append((record, ignored))
        if errors:
            return _error(400, errors)
        results = [
            _answer(record, engine.route_record(record, config), ignored)
            for record, ignored in checked
        ]
        return JsonResponse(
            {"results": results, "count": len(results), "config_version": config.version}
        )
    record, errors, ignored = _check_record(payload, "")
    if errors:
        return _error(400, errors)
    body = _answer(record, engine.route_record(record, config), ignored)
    body["config_version"] = config.version
    return JsonResponse(body)


def _too_big(size: int | None, limit: int) -> list[dict[str, str]]:
    """The 413 for a body over ``limit``: names the limit and its setting, and what to do."""
    what = f"The body is {size:,} bytes" if size is not None else "The body is too large"
    return _one(
        "body",
        f"{what}; the limit is {limit:,} bytes ({limit // 1024:,} KB, ROUTING_API_MAX_BODY_KB). "
        "Send fewer records per request.",
    )


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")

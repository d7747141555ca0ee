"""Query-count pins for list pages and fragments (STYLE §16): the count must not grow with rows.

``counts_as_rows_grow(client, url, add)`` calls ``add(n)`` to add rows, requests the page, and
repeats with three times as many rows in all; the test asserts the counts are equal and pins
the number with a comment saying what each query is.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection
from django.test.utils import CaptureQueriesContext


def count_queries(client, url: str, *, method: str = "get", data=None, **headers) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = getattr(client, method)(url, data or {}, **headers)
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx.captured_queries)


def queries_of(client, url: str, *, method: str = "get", data=None, **headers) -> list[str]:
    """The SQL of one request (for an assertion message that shows what changed)."""
    with CaptureQueriesContext(connection) as ctx:
        getattr(client, method)(url, data or {}, **headers)
    return [q["sql"][:120] for q in ctx.captured_queries]


def counts_as_rows_grow(
    client,
    url: str,
    add: Callable[[int], object],
    *,
    rows: int = 5,
    method: str = "get",
    data=None,
    **headers,
) -> list[int]:
    """Query counts of ``url`` with ``rows`` rows added, then with ``3 * rows`` in all."""
    counts = []
    for n in (rows, 2 * rows):
        add(n)
        counts.append(count_queries(client, url, method=method, data=data, **headers))
    return counts

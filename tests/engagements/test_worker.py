"""The project's RQ worker class: upkeep hooks, and that a broken one never stops the worker."""

from __future__ import annotations

import logging

from engagements import worker


def test_the_configured_worker_class_is_the_projects():
    from django_rq.workers import get_worker_class

    assert get_worker_class() is worker.Worker


def test_a_failing_upkeep_is_logged_and_the_others_still_run(monkeypatch, caplog):
    calls = []

    def broken():
        raise RuntimeError("redis said no")

    monkeypatch.setattr(worker, "_upkeep", [])
    worker.on_upkeep(broken)
    worker.on_upkeep(lambda: calls.append("ran"))
    worker.on_upkeep(broken)  # registered once only
    with caplog.at_level(logging.ERROR, logger="engagements.worker"):
        worker.run_upkeep()
    assert calls == ["ran"]
    assert [r.getMessage() for r in caplog.records] == [
        f"Worker upkeep {__name__}.test_a_failing_upkeep_is_logged_and_the_others_still_run."
        "<locals>.broken failed"
    ]


def test_the_handoff_app_registers_the_daily_trigger_check_as_upkeep():
    from handoff.jobs import schedule_daily_check

    assert schedule_daily_check in worker._upkeep

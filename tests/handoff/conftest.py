"""Fixtures the handoff tests share: a media folder of the test's own, a world with every
document's data, and a package of two quick documents."""

from __future__ import annotations

import pytest

from handoff import documents, package


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def packaged(world, media):
    """``world`` with an approved map, growth plan, territory object, QA, audit and schedule
    (``tests.handoff.test_package_build.packaged_world``)."""
    from tests.handoff.test_package_build import packaged_world

    return packaged_world(world)


@pytest.fixture
def small_docs(monkeypatch):
    """Only the FAQ and the territory assignment: a real package (build, zip, download), built
    quickly."""
    monkeypatch.setattr(
        package,
        "DOCUMENTS",
        tuple(d for d in documents.DOCUMENTS if d.slug in ("faq", "territory-assignments")),
    )

"""Safe rendering: the one render function fetches only the project's static files and data:
URIs; user text is escaped; hostile URLs fetch nothing and the PDF still builds."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from pypdf import PdfReader

from engagements.models import Assumption
from handoff import documents, package
from handoff.rendering import SafeURLFetcher, render_pdf, stylesheet_url

HOSTILE = (
    '<link rel="attachment" href="file:///etc/passwd">'
    '<img src="http://127.0.0.1:9/track.png">'
    '<img src="file:///etc/passwd">'
    '<link rel="stylesheet" href="https://evil.example/x.css">'
)
PIXEL = (
    "data:image/svg+xml;base64,"
    "PHN2ZyB4bWxucz0naHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmcnIHdpZHRoPScxJyBoZWlnaHQ9JzEnLz4="
)


def reader(pdf: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(pdf))


def test_the_fetcher_refuses_everything_outside_static_and_the_pdf_still_builds(caplog):
    """Defence in depth: even raw, unescaped markup fetches nothing outside the allow-list."""
    fetcher = SafeURLFetcher()
    html = (
        f'<html><head><link rel="stylesheet" href="{stylesheet_url()}"></head><body>'
        f"<h1>Raw markup</h1>{HOSTILE}"
        '<img src="../config/settings.py">'  # relative, out of the static directory
        f'<img src="{PIXEL}"></body></html>'
    )
    with caplog.at_level(logging.WARNING):
        pdf = render_pdf("", {}, fetcher=fetcher, html=html)
    document = reader(pdf)
    assert "Raw markup" in document.pages[0].extract_text()
    assert document.attachments == {}  # <link rel="attachment"> embedded nothing
    assert b"root:" not in pdf
    refused = set(fetcher.refused)
    assert "file:///etc/passwd" in refused
    assert "http://127.0.0.1:9/track.png" in refused
    assert "https://evil.example/x.css" in refused
    assert any(url.endswith("/config/settings.py") for url in refused)
    # Served: only the stylesheet (a static file) and the data: URI.
    assert fetcher.served == [stylesheet_url(), PIXEL[:40]]
    for url in fetcher.requested:
        assert url in refused or url == stylesheet_url() or url.startswith("data:")


def test_a_static_file_is_served_but_a_symlink_out_of_static_is_not(tmp_path):
    root = tmp_path / "static"
    root.mkdir()
    (root / "ok.css").write_text("h1 { color: red }")
    (tmp_path / "secret.txt").write_text("secret")
    (root / "link.css").symlink_to(tmp_path / "secret.txt")
    fetcher = SafeURLFetcher(roots=[root])
    assert fetcher.fetch((root / "ok.css").as_uri()).read() == b"h1 { color: red }"
    for url in ((root / "link.css").as_uri(), (tmp_path / "secret.txt").as_uri()):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    assert len(fetcher.refused) == 2


def test_a_media_file_is_served_and_nothing_that_only_looks_like_media_is(settings, tmp_path):
    """MEDIA_ROOT is on the allow-list (issue 8: "the project's own static and media files"),
    path-normalised: ``..``, a symlink out, a sibling whose name starts like MEDIA_ROOT and a
    "media" directory elsewhere are all refused."""
    media = tmp_path / "media"
    (media / "uploads").mkdir(parents=True)
    settings.MEDIA_ROOT = media
    (media / "uploads" / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_text("secret")
    (media / "uploads" / "out.svg").symlink_to(tmp_path / "secret.txt")
    sibling = tmp_path / "media-other"  # shares MEDIA_ROOT's prefix as a string
    sibling.mkdir()
    (sibling / "x.svg").write_text("<svg/>")
    elsewhere = tmp_path / "elsewhere" / "media" / "uploads"
    elsewhere.mkdir(parents=True)
    (elsewhere / "logo.svg").write_text("<svg/>")
    fetcher = SafeURLFetcher()
    assert media.resolve() in fetcher.roots
    logo = (media / "uploads" / "logo.svg").as_uri()
    assert fetcher.fetch(logo).read().startswith(b"<svg")
    refused = [
        f"{media.as_uri()}/uploads/../../secret.txt",  # ".." out of MEDIA_ROOT
        f"{media.as_uri()}/../secret.txt",
        (media / "uploads" / "out.svg").as_uri(),  # a symlink out
        (sibling / "x.svg").as_uri(),
        (elsewhere / "logo.svg").as_uri(),
        (media / "uploads").as_uri(),  # a directory, not a file
        "http://localhost/media/uploads/logo.svg",
        f"file://evil.example{media / 'uploads' / 'logo.svg'}",  # a file URL on another host
    ]
    for url in refused:
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    assert fetcher.served == [logo] and fetcher.refused == refused


def test_hostile_user_text_in_a_document_is_shown_as_text_and_fetches_nothing(world):
    """An assumption statement (user-entered) holding links and an attachment, rendered in
    the Valuation Methodology Document through the package's own path."""
    Assumption.objects.create(
        engagement=world.engagement,
        key="valuation.hedge_factor",
        category=Assumption.Category.VALUATION,
        statement="Hedge 0.6 " + HOSTILE,
    )
    doc = documents.document("valuation-methodology")
    src = package.Sources(world.engagement)
    context = {
        "engagement": world.engagement,
        "customer": src.customer,
        "document": doc,
        "package": {"version": 1, "built_at": None, "data_version": "x", "prepared_by": "y"},
        **doc.context(src),
    }
    fetcher = SafeURLFetcher()
    pdf = render_pdf(doc.template, context, fetcher=fetcher)
    document = reader(pdf)
    # The statement is printed as text (table cells wrap it, so compare without whitespace).
    squashed = "".join("".join(p.extract_text() for p in document.pages).split())
    assert "".join(("Hedge 0.6 " + HOSTILE).split()) in squashed
    assert document.attachments == {}
    assert fetcher.refused == []  # escaped: WeasyPrint was never even asked
    assert fetcher.requested == [stylesheet_url()]
    assert Path(stylesheet_url().removeprefix("file://")).name == "print.css"

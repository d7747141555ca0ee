"""The one way the project turns a template into a PDF, and the URL fetcher it always uses.

WeasyPrint's default fetcher really fetches ``http://`` and ``file://`` URLs: a document showing
user-entered text must never be able to make the worker read ``/etc/passwd``, call an internal
service or embed a file (``<link rel="attachment">``). So every render goes through
``render_pdf``, which

* renders the Django template with autoescaping on (user text reaches the HTML as text, never
  as markup), and
* gives WeasyPrint a ``SafeURLFetcher``: ``data:`` URIs and regular files inside the project's
  own static directories and MEDIA_ROOT (issue 8, STYLE §10: "the project's own static and
  media files") are served; everything else — http(s), ftp, any other file, a path that
  escapes those directories through ``..`` or a symlink, a sibling directory whose name merely
  starts like one — is refused and recorded in ``fetcher.refused``. A refused resource is simply
  missing (WeasyPrint logs it and goes on); the PDF still builds.

No document embeds a media file today. User text cannot name one either: it reaches the HTML
escaped, so only a template can reference a file, and templates are ours.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string

# WeasyPrint reports every rendering step at INFO; a package build would flood the worker's log.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

from weasyprint import HTML  # noqa: E402
from weasyprint.urls import URLFetcher, URLFetcherResponse  # noqa: E402

log = logging.getLogger(__name__)

STYLESHEET = "handoff/print.css"


class RefusedURL(ValueError):
    """A URL outside the allow-list (WeasyPrint catches it and leaves the resource out)."""


def allowed_roots() -> list[Path]:
    """What the documents may read: the static directories and MEDIA_ROOT (resolved)."""
    roots = static_roots()
    media = Path(settings.MEDIA_ROOT).resolve()
    return roots if media in roots else [*roots, media]


def static_roots() -> list[Path]:
    """Every directory the staticfiles finders serve from, plus STATIC_ROOT."""
    roots: list[Path] = []
    for finder in finders.get_finders():
        for storage in getattr(finder, "storages", {}).values():
            location = getattr(storage, "location", None)
            if location:
                roots.append(Path(location))
    for location in getattr(settings, "STATICFILES_DIRS", []):
        roots.append(Path(location[1] if isinstance(location, (tuple, list)) else location))
    if getattr(settings, "STATIC_ROOT", None):
        roots.append(Path(settings.STATIC_ROOT))
    seen: dict[Path, None] = {}
    for root in roots:
        seen.setdefault(root.resolve(), None)
    return list(seen)


class SafeURLFetcher(URLFetcher):
    """Serves ``data:`` URIs and files under ``roots`` (default: ``allowed_roots()``); refuses
    (and records) everything else."""

    def __init__(self, roots: Iterable[Path] | None = None) -> None:
        super().__init__(
            timeout=2, allowed_protocols={"data"}, allow_redirects=False, fail_on_errors=False
        )
        self.roots = [Path(r).resolve() for r in (roots if roots is not None else allowed_roots())]
        self.requested: list[str] = []
        self.served: list[str] = []
        self.refused: list[str] = []

    def allowed_path(self, url: str) -> Path | None:
        """The file a ``file:`` URL names, if it is a regular file inside an allowed root."""
        parts = urlsplit(url)
        if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
            return None
        path = Path(unquote(parts.path)).resolve()  # resolves "..", symlinks
        if not path.is_file():
            return None
        if any(path.is_relative_to(root) for root in self.roots):
            return path
        return None

    def fetch(self, url: str, headers: Mapping[str, Any] | None = None) -> URLFetcherResponse:
        self.requested.append(url)
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme == "data":
            self.served.append(url[:40])
            return super().fetch(url, headers)
        path = self.allowed_path(url)
        if path is None:
            self.refused.append(url)
            log.warning("PDF rendering: refused to fetch %s", url[:200])
            raise RefusedURL(f"Not fetched: {url[:200]} is outside the documents' allow-list.")
        self.served.append(url)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(
            path.as_uri(), path.read_bytes(), headers={"Content-Type": content_type}
        )


def stylesheet_url() -> str:
    found = finders.find(STYLESHEET)
    if not found:
        raise FileNotFoundError(f"The print stylesheet static/{STYLESHEET} is missing.")
    return Path(found).resolve().as_uri()


def render_html(template: str, context: Mapping[str, Any]) -> str:
    return render_to_string(template, {**context, "stylesheet_url": stylesheet_url()})


def render_pdf(
    template: str,
    context: Mapping[str, Any],
    *,
    fetcher: SafeURLFetcher | None = None,
    html: str | None = None,
) -> bytes:
    """The PDF of ``template`` rendered with ``context`` (or of ready ``html``, for tests).

    Relative URLs resolve against the first static directory; every fetch goes through
    ``fetcher`` (a new ``SafeURLFetcher`` when none is given).
    """
    fetcher = fetcher if fetcher is not None else SafeURLFetcher()
    if html is None:
        html = render_html(template, context)
    roots = fetcher.roots or static_roots()
    base_url = (roots[0].as_uri() + "/") if roots else None
    return HTML(string=html, base_url=base_url, url_fetcher=fetcher).write_pdf(
        pdf_identifier=b"handoff-package"
    )

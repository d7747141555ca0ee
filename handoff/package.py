"""The documentation package: build, manifest, zip, versions (issue 8 items 4, 7 and 8).

``package_build`` renders every document of ``handoff.documents.DOCUMENTS`` from the
engagement's real data into a temporary directory, writes ``manifest.json`` (file, SHA-256,
bytes and render seconds per file; build time, data version), zips them under ``MEDIA_ROOT/packages/<engagement>/`` and
only then records the ``DocumentPackage`` row. It is all or nothing: when a document fails, the
temporary files are removed, no row is written and ``PackageError`` names the document.

A build holds the engagement's build lock (``package_lock``) from start to finish, so two builds of
one engagement never overlap (a second one — a race of two clicks, ``manage.py build_package`` or
the demo beside a worker — fails at once with ``PackageError``). A worker killed mid-build (SIGKILL,
the OOM killer, a reboot) runs no ``finally``: its temporary directory, a half-written zip inside
it, or a finished zip not yet recorded stay on disk. The kernel drops a dead process's lock, and
whatever the dead build left is removed by ``package_leftovers_remove`` — at the start of the next
build and by ``package_build_lost``, which ``HandoffConfig.ready`` registers with
``engagements.tracking.on_job_lost`` so the sweep that fails the job cleans up at once.

A recorded version ticks the Handoff checklist's 4c "Documentation package delivered" items of
the playbook documents it delivered (``handoff.documents.delivered``; event
``package_document:<playbook document>``), in the transaction that records it. A document that
only says what is still missing (no approved map, a definition not signed …) ticks nothing.

Versions: v1, v2 … per engagement. A build when the data changed since the latest version makes
a new version. A build when nothing changed (same ``package_data_version``) returns the latest
version and makes none — unless ``force=True`` (e.g. after a template change), which makes a new
version of the same data.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import resource
import shutil
import socket
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone
from django.utils.text import slugify

from engagements.models import Engagement, Job, Role, User
from engagements.services import activity_record, checklist_mark_event
from handoff.documents import DOCUMENTS, PdfDocument, delivered, filename
from handoff.documents.schedule_start import maintenance_start
from handoff.documents.sources import SUPPORT_ROLES, Sources
from handoff.package_models import DocumentPackage

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
MANIFEST = "manifest.json"
WORK_PREFIX = ".build-"  # a build's temporary directory under packages/<engagement>/
LOCKS = ".locks"  # packages/.locks/<engagement>.lock: the build locks
PACKAGE_ZIP = re.compile(r"-documentation-v\d+\.zip$")  # what a build names its zip

__all__ = [
    "PackageError",
    "PackageResult",
    "demo_package",
    "maintenance_start",
    "package_build",
    "package_build_lost",
    "package_data_version",
    "package_leftovers_remove",
    "package_lock",
    "package_path",
]


class PackageError(Exception):
    """The package could not be built; the message names the document or the reason."""


@dataclass(frozen=True)
class PackageResult:
    package: DocumentPackage
    created: bool  # False: the data had not changed, the latest version was returned
    seconds: float
    peak_rss_mb: float
    timings: dict[str, float]

    @property
    def message(self) -> str:
        p = self.package
        if not self.created:
            return f"Package v{p.version} is current: the data has not changed since it was built"
        return f"Built package v{p.version}: {len(p.files)} files in {self.seconds:.1f} s"


def _no_progress(pct: float, message: str = "") -> None:
    return None


def package_data_version(*, engagement: Engagement) -> str:
    """A digest of everything the documents read: accounts, valuation and roster
    (``territories.design.data_version``), the approved run and its edits, the growth plan and
    hires, tier rules, assumptions, definitions, every sign-off, the territory object's
    version, QA runs and audits, the maintenance start date and the stored schedule (occurrences,
    and when the last was marked done), the training sessions, and the names (and emails) of the
    architects, engineers and customer approvers the documents print. About a dozen aggregate
    queries, independent of the number of accounts beyond the one count in ``data_version``."""
    from engagements.models import Assumption, DefinitionTerm, SignoffRecord, SignoffVersion
    from routing.models import QARun, RoutingAudit
    from routing.services import routing_settings_get
    from territories import design
    from territories.models import GrowthPlan, PlannedHire, TierRule

    def agg(qs, *fields):
        return list(qs.aggregate(n=Count("pk"), **{f: Max(f) for f in fields}).values())

    run = design.approved_run(engagement=engagement)
    parts: list[Any] = [
        design.data_version(engagement=engagement),
        engagement.type,
        engagement.playbook_template_id,
        [run.pk, run.approved_at, run.edited_at] if run else None,
        agg(GrowthPlan.objects.filter(run__engagement=engagement), "computed_at"),
        agg(PlannedHire.objects.filter(engagement=engagement), "created_at", "start_date"),
        agg(TierRule.objects.filter(engagement=engagement), "updated_at"),
        agg(Assumption.objects.filter(engagement=engagement), "changed_at"),
        agg(DefinitionTerm.objects.filter(engagement=engagement), "updated_at"),
        agg(SignoffVersion.objects.filter(engagement=engagement), "published_at"),
        agg(SignoffRecord.objects.filter(engagement=engagement), "sequence"),
        routing_settings_get(engagement=engagement).version,
        agg(QARun.objects.filter(engagement=engagement), "created_at"),
        agg(RoutingAudit.objects.filter(engagement=engagement), "finished_at"),
        agg(engagement.named_overrides.all(), "pk"),
        str(maintenance_start(engagement)[0]),
        # The Maintenance Schedule prints the stored occurrences and the findings of done ones.
        agg(engagement.maintenance_occurrences.all(), "due"),
        agg(engagement.maintenance_occurrences.filter(done=True), "done_at"),
        # The people the documents name: the support contacts (name, email) and the approvers
        # (a customer viewer joining changes no document). Then the training recordings.
        sorted(
            engagement.memberships.filter(
                role__in=(*SUPPORT_ROLES, Role.CUSTOMER_APPROVER)
            ).values_list("role", "user__first_name", "user__last_name", "user__email")
        ),
        agg(engagement.training_sessions.all(), "updated_at"),
    ]
    blob = json.dumps(parts, default=str, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def package_path(package: DocumentPackage) -> Path:
    return Path(settings.MEDIA_ROOT) / package.file


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _folder(engagement_id: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "packages" / str(engagement_id)


def _lock_path(engagement_id: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "packages" / LOCKS / f"{engagement_id}.lock"


@contextlib.contextmanager
def package_lock(engagement_id: int, *, holder: str = "") -> Iterator[bool]:
    """Hold the engagement's build lock for the ``with`` block; yields False, without waiting
    and without the lock, when another process holds it.

    The lock is an exclusive ``flock`` on ``MEDIA_ROOT/packages/.locks/<engagement>.lock`` (next
    to the files it protects, so every process that writes them sees it, on any host sharing
    MEDIA_ROOT). The kernel releases it when its process dies, SIGKILL included: a killed build
    never blocks the next one. ``holder`` (who builds) is written into the file for the message
    of a build that finds the lock taken."""
    path = _lock_path(engagement_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            if holder:
                os.ftruncate(fd, 0)
                os.pwrite(fd, holder.encode(), 0)
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _lock_holder(engagement_id: int) -> str:
    try:
        return _lock_path(engagement_id).read_text().strip()
    except OSError:
        return ""


def package_leftovers_remove(*, engagement_id: int) -> list[str]:
    """Remove what dead builds left under ``MEDIA_ROOT/packages/<engagement>/``: their temporary
    directories (``.build-*``, with any half-written zip inside) and package zips no
    ``DocumentPackage`` row references (a build killed between moving its zip into place and
    recording the row). A recorded version's zip, and anything not named like a build's output,
    is never touched; symlinks are not followed. Returns the names removed.

    Call it only while holding ``package_lock(engagement_id)``: then no build of the engagement
    is running, so nothing found is still being written."""
    folder = _folder(engagement_id)
    if not folder.is_dir():
        return []
    media = Path(settings.MEDIA_ROOT)
    recorded = {
        os.path.normpath(media / name)
        for name in DocumentPackage.objects.filter(engagement_id=engagement_id).values_list(
            "file", flat=True
        )
    }
    removed = []
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink():
            continue
        if entry.is_dir() and entry.name.startswith(WORK_PREFIX):
            shutil.rmtree(entry, ignore_errors=True)
        elif (
            entry.is_file()
            and PACKAGE_ZIP.search(entry.name)
            and os.path.normpath(entry) not in recorded
        ):
            entry.unlink(missing_ok=True)
        else:
            continue
        removed.append(entry.name)
    return removed


def package_build_lost(job: Job) -> None:
    """``on_job_lost`` handler of ``handoff.package_jobs.package_build``: the sweep failed the job
    (its worker died mid-build), so remove what the build left on disk.

    When the build lock is taken, a live build holds it: either one started after the dead one
    (it removed the leftovers when it started) or the lost job's own work horse is alive after
    all (it removes its own files when it ends). Either way there is nothing to do here."""
    with package_lock(job.engagement_id) as locked:
        if not locked:
            log.info(
                "Package job %s lost; a build of engagement %s is running (%s), leaving its "
                "files alone.",
                job.pk,
                job.engagement_id,
                _lock_holder(job.engagement_id),
            )
            return
        removed = package_leftovers_remove(engagement_id=job.engagement_id)
    if removed:
        log.warning(
            "Package job %s lost: removed %s from packages/%s/",
            job.pk,
            ", ".join(removed),
            job.engagement_id,
        )


def package_build(
    *,
    engagement: Engagement,
    actor: User | None = None,
    job: Job | None = None,
    progress: Progress = _no_progress,
    force: bool = False,
) -> PackageResult:
    """Build the engagement's documentation package (see the module docstring). Fails with
    ``PackageError`` at once when another build of the engagement is running."""
    holder = (f"job {job.pk}, " if job is not None else "") + (
        f"pid {os.getpid()} on {socket.gethostname()}"
    )
    with package_lock(engagement.pk, holder=holder) as locked:
        if not locked:
            running = _lock_holder(engagement.pk)
            raise PackageError(
                "Another build of this engagement's package is running"
                + (f" ({running})" if running else "")
                + "; build again once it has finished."
            )
        removed = package_leftovers_remove(engagement_id=engagement.pk)
        if removed:
            log.warning(
                "Removed what an interrupted build left in packages/%s/: %s",
                engagement.pk,
                ", ".join(removed),
            )
        return _build(engagement=engagement, actor=actor, job=job, progress=progress, force=force)


def _build(
    *,
    engagement: Engagement,
    actor: User | None,
    job: Job | None,
    progress: Progress,
    force: bool,
) -> PackageResult:
    from handoff.rendering import SafeURLFetcher, render_pdf  # WeasyPrint: workers only

    started = time.perf_counter()
    progress(1, "Reading the engagement's data")
    data_version = package_data_version(engagement=engagement)
    latest = engagement.document_packages.order_by("-version").first()
    if (
        latest is not None
        and not force
        and latest.data_version == data_version
        and package_path(latest).is_file()
    ):
        progress(100, f"Package v{latest.version} is current")
        return PackageResult(latest, False, time.perf_counter() - started, _peak_rss_mb(), {})
    version = (latest.version + 1) if latest else 1
    built_at = timezone.now()
    src = Sources(engagement)
    base = {
        "engagement": engagement,
        "customer": src.customer,
        "package": {
            "version": version,
            "built_at": built_at,
            "data_version": data_version,
            "prepared_by": f"{src.architects} (architect)",
        },
    }
    folder = _folder(engagement.pk)
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=folder))
    final: Path | None = None
    timings: dict[str, float] = {}
    delivering: dict[str, tuple[str, ...]] = {}  # document slug: the playbook documents it is
    try:
        files = []
        total = len(DOCUMENTS)
        for index, doc in enumerate(DOCUMENTS, start=1):
            progress(2 + 93 * (index - 1) / total, f"Rendering {doc.title} ({index}/{total})")
            name = filename(index, doc)
            path = work / name
            t0 = time.perf_counter()
            try:
                if isinstance(doc, PdfDocument):
                    context = {**base, "document": doc, **doc.context(src)}
                    fetcher = SafeURLFetcher()
                    path.write_bytes(render_pdf(doc.template, context, fetcher=fetcher))
                    if fetcher.refused:
                        log.warning("%s: refused %d URL(s)", doc.title, len(fetcher.refused))
                    delivering[doc.slug] = delivered(doc, context)
                else:
                    doc.write(src, path)
                    delivering[doc.slug] = delivered(doc, None)
            except Exception as exc:
                raise PackageError(
                    f"Rendering {doc.title} ({index}/{total}) failed: "
                    f"{exc.__class__.__name__}: {exc}"
                ) from exc
            timings[doc.slug] = round(time.perf_counter() - t0, 3)
            files.append(
                {
                    "file": name,
                    "title": doc.title,
                    "kind": doc.kind,
                    "sha256": _sha256(path),
                    "bytes": path.stat().st_size,
                    "seconds": timings[doc.slug],
                }
            )
        progress(96, "Writing the manifest and the zip")
        manifest = {
            "customer": src.customer,
            "engagement": engagement.name,
            "engagement_id": engagement.pk,
            "version": version,
            "built_at": built_at.isoformat(),
            "built_by": (actor.get_full_name() or actor.username) if actor else "",
            "data_version": data_version,
            "files": files,
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
        stem = f"{slugify(src.customer) or 'customer'}-documentation-v{version}"
        partial = work / f"{stem}.zip"
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.write(work / MANIFEST, f"{stem}/{MANIFEST}")
            for entry in files:
                archive.write(work / entry["file"], f"{stem}/{entry['file']}")
        final = folder / f"{stem}.zip"
        if final.exists():
            raise PackageError(f"{final.name} already exists; another build made v{version}.")
        os.replace(partial, final)
        seconds = time.perf_counter() - started
        delivers: dict[str, str] = {}  # playbook document: the title of the file delivering it
        for doc in DOCUMENTS:
            for slug in delivering[doc.slug]:
                delivers.setdefault(slug, doc.title)
        builder = actor if actor is not None and actor.is_authenticated else None
        with transaction.atomic():
            Engagement.objects.select_for_update().filter(pk=engagement.pk).first()
            if engagement.document_packages.filter(version=version).exists():
                raise PackageError(f"Another build recorded package v{version} first.")
            package = DocumentPackage.objects.create(
                engagement=engagement,
                version=version,
                data_version=data_version,
                file=str(final.relative_to(settings.MEDIA_ROOT)),
                size=final.stat().st_size,
                sha256=_sha256(final),
                manifest=manifest,
                built_at=built_at,
                built_by=builder,
                seconds=round(seconds, 2),
                job=job,
            )
            activity_record(
                engagement=engagement,
                actor=actor,
                verb="handoff.package_built",
                summary=f"Documentation package v{version} built ({len(files)} files)",
                data={"package": package.pk, "version": version},
            )
            # Seed 000, 4c "Documentation package delivered": one item per playbook document.
            for slug, title in delivers.items():
                checklist_mark_event(
                    engagement=engagement,
                    event=f"package_document:{slug}",
                    actor=builder,
                    note=f"Documentation package v{version}: {title}",
                )
        final = None  # recorded: keep it
        progress(100, f"Package v{version} ready")
        return PackageResult(package, True, seconds, _peak_rss_mb(), timings)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if final is not None and final.exists():
            final.unlink()


def package_read_member(package: DocumentPackage, name: str) -> bytes:
    """One file of a package's zip, by its name in the manifest (KeyError when not listed)."""
    listed = {entry["file"] for entry in package.files}
    if name not in listed and name != MANIFEST:
        raise KeyError(name)
    with zipfile.ZipFile(package_path(package)) as archive:
        member = next(n for n in archive.namelist() if n.rsplit("/", 1)[-1] == name)
        return archive.read(member)


def demo_package(*, engagement: Engagement, actor: User | None) -> DocumentPackage:
    """The demo's step: build the engagement's package synchronously, once. A rerun of the demo
    re-imports and re-values the same accounts, which moves their timestamps and so the data
    version, but not one figure of the documents: it keeps the package it built, like the rest
    of the handoff demo (no v2, v3 … per demo run). A package whose zip is gone (media wiped,
    database kept) is built again as a new version."""
    existing = DocumentPackage.objects.filter(engagement=engagement).first()
    if existing is not None and package_path(existing).is_file():
        return existing
    return package_build(engagement=engagement, actor=actor, force=True).package

"""Package pages and downloads through the access layer; the build_package command; the job."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from engagements.models import Job
from handoff import package
from handoff.package_models import DocumentPackage


def url(engagement, path=""):
    return f"/engagements/{engagement.pk}/handoff/package/{path}"


@pytest.fixture
def built(world, media, small_docs):
    return package.package_build(engagement=world.engagement, actor=world.ops).package


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("architect", 200),
        ("engineer", 200),
        ("manager", 200),
        ("ops", 200),
        ("customer", 200),
        ("viewer", 200),
        ("customer2", 404),
        ("outsider", 404),
    ],
)
def test_who_sees_and_downloads_the_package(world, built, client, who, status):
    client.force_login(getattr(world, who))
    assert client.get(url(world.engagement)).status_code == status
    response = client.get(url(world.engagement, f"v{built.version}/download/"))
    assert response.status_code == status
    if status == 200:
        content = b"".join(response.streaming_content)
        assert content == package.package_path(built).read_bytes()
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
        assert any(n.endswith("manifest.json") for n in names)
        one = built.files[0]["file"]
        response = client.get(url(world.engagement, f"v{built.version}/files/{one}"))
        assert response.status_code == 200
        assert response.content == package.package_read_member(built, one)


def test_files_and_versions_outside_the_package_are_404(world, built, client):
    client.force_login(world.customer)
    assert client.get(url(world.engagement, "v9/download/")).status_code == 404
    assert client.get(url(world.engagement, "v1/files/passwd")).status_code == 404
    assert client.get(url(world.engagement, "v1/files/..%2F..%2Fsettings.py")).status_code == 404
    # The other customer's approver cannot reach this package through their own engagement.
    client.force_login(world.customer2)
    assert client.get(url(world.other, "v1/download/")).status_code == 404


@pytest.mark.parametrize(
    ("who", "status"),
    [("customer", 403), ("viewer", 403), ("engineer", 403), ("manager", 403), ("customer2", 404)],
)
def test_only_ops_and_the_architect_build(world, media, client, who, status):
    client.force_login(getattr(world, who))
    assert client.post(url(world.engagement)).status_code == status
    assert not Job.objects.exists()


@pytest.mark.parametrize("who", ["ops", "architect"])
def test_ops_and_the_architect_start_one_build_job(world, media, client, who):
    client.force_login(getattr(world, who))
    response = client.post(url(world.engagement), {"force": "1"})
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.kind == "handoff.package_jobs.package_build" and job.params == {"force": True}
    assert response["Location"].endswith(f"?job={job.pk}")
    client.post(url(world.engagement))  # a second click while the first is queued
    assert Job.objects.count() == 1
    page = client.get(response["Location"])
    assert f"job-{job.pk}-status" in page.content.decode()


def test_the_package_page_has_a_constant_query_count(world, client, django_assert_max_num_queries):
    client.force_login(world.customer)

    def add(n):
        start = world.engagement.document_packages.count()
        for v in range(start + 1, start + n + 1):
            DocumentPackage.objects.create(
                engagement=world.engagement,
                version=v,
                data_version=f"d{v}",
                file=f"packages/x/v{v}.zip",
                sha256="0" * 64,
                manifest={
                    "files": [{"file": "01-faq.pdf", "title": "FAQ", "sha256": "1", "bytes": 1}]
                },
                built_by=world.ops,
            )

    add(1)
    with django_assert_max_num_queries(12) as small:
        assert client.get(url(world.engagement)).status_code == 200
    add(10)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(url(world.engagement)).status_code == 200


def test_build_package_command_writes_the_zip_and_prints_its_path(
    world, media, small_docs, tmp_path
):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "build_package", str(world.engagement.pk), "--out", str(tmp_path), stdout=out, stderr=err
    )
    path = Path(out.getvalue().strip())
    assert path.parent == tmp_path.resolve() and path.is_file()
    assert "Rendering FAQ (1/2)" in err.getvalue()
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read(f"{path.stem}/manifest.json"))
    assert manifest["version"] == 1 and len(manifest["files"]) == 2
    # By name, unchanged data: the same version's zip, said so on stderr.
    out, err = io.StringIO(), io.StringIO()
    call_command("build_package", world.engagement.name, stdout=out, stderr=err)
    assert Path(out.getvalue().strip()).name == path.name
    assert "has not changed since v1" in err.getvalue()


def test_build_package_command_rejects_bad_input(world, media, tmp_path):
    with pytest.raises(CommandError, match="No engagement '999999'"):
        call_command("build_package", "999999")
    with pytest.raises(CommandError, match="--out .*no such directory"):
        call_command("build_package", str(world.engagement.pk), "--out", str(tmp_path / "nope"))
    assert not DocumentPackage.objects.exists()


def test_build_package_command_exits_non_zero_with_one_line(world, media):
    import subprocess
    import sys

    from tests.jobs_support import ROOT, worker_env

    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "build_package", "no such engagement"],
        cwd=ROOT,
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == (
        "CommandError: No engagement 'no such engagement' (give its id or its exact name)."
    )


def test_the_portal_download_names_the_latest_version_for_the_customer_only(world, built):
    from handoff.package_apps import package_downloads

    package.package_build(engagement=world.engagement, actor=world.ops, force=True)
    (download,) = package_downloads(world.engagement, world.customer)
    assert download.url == url(world.engagement, "v2/download/")
    assert package_downloads(world.other, world.customer2) == []
    world.customer2._document_packages = None
    assert package_downloads(world.engagement, world.customer2) == []

"""Territory design pages: who sees and does what, the forms' bad input, htmx moves, the map,
approval and the customer portal, and the results page's fixed number of queries."""

from __future__ import annotations

import re
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from engagements.models import Job
from engagements.services import signoff_latest, signoff_state
from territories import design, geo, jobs
from territories.models import (
    BalancingRun,
    Hierarchy,
    RebalancingPlan,
    RunAtom,
    RunEdit,
    RunTerritory,
)
from tests.factories import (
    clear_design_blockers,
    make_approved_run,
    make_hierarchy,
    make_meeting,
    make_run,
    make_universe,
)


@pytest.fixture
def universe(world):
    make_universe(world.engagement, n=500)
    return world


def url(engagement, path=""):
    return f"/engagements/{engagement.pk}/territories/{path}"


def _pod_post(spec, **changes):
    """The hierarchy form's POST data for ``spec`` (pods in order), with ``changes``."""
    data = {
        "named_accounts": "",
        "split_share": "50",
        "cut_segment": "2",
        "cut_state": "3",
        "pods-TOTAL_FORMS": str(len(spec.pods)),
        "pods-INITIAL_FORMS": str(len(spec.pods)),
        "pods-MIN_NUM_FORMS": "0",
        "pods-MAX_NUM_FORMS": "60",
    }
    for i, pod in enumerate(spec.pods):
        prefix = f"pods-{i}-"
        data.update(
            {
                prefix + "position": str(i + 1),
                prefix + "label": pod.label,
                prefix + "key": pod.key,
                prefix + "segments": list(pod.segments),
                prefix + "states": ", ".join(pod.states),
                prefix + "industries": "",
                prefix + "atom": pod.atom,
                prefix + "seats": str(pod.seats),
                prefix + "reps": list(pod.reps),
                prefix + "granularity": ", ".join(f"{s}={g}" for s, g in pod.split_states.items()),
            }
        )
    data.update(changes)
    return data


# --- Hierarchy ---------------------------------------------------------------------------------


def test_the_architect_edits_the_hierarchy_and_the_customer_only_reads_it(universe, client):
    e = universe.engagement
    spec = design.hierarchy_spec(engagement=e)
    client.force_login(universe.customer)
    page = client.get(url(e, "hierarchy/"))
    assert page.status_code == 200 and b"Segmentation hierarchy" in page.content
    assert b'id="hierarchy-form"' not in page.content
    assert client.post(url(e, "hierarchy/"), _pod_post(spec)).status_code == 403
    client.force_login(universe.engineer)
    assert client.post(url(e, "hierarchy/split/"), {"pod": "smb", "state": "CA"}).status_code == 403
    client.force_login(universe.architect)
    page = client.get(url(e, "hierarchy/"))
    assert b'id="hierarchy-form"' in page.content and b"starting proposal" in page.content
    data = _pod_post(
        spec,
        **{
            "pods-2-granularity": "CA=county, New York=zip3",
            "named_accounts": "ACC-000001, Dana Whitfield",
        },
    )
    response = client.post(url(e, "hierarchy/"), data)
    assert response.status_code == 302
    saved = Hierarchy.objects.get(engagement=e)
    assert saved.spec_obj().pod("smb").granularity_by_state == {"CA": "county", "NY": "zip3"}
    assert saved.named_accounts == [{"match": "ACC-000001", "owner": "Dana Whitfield"}]


def test_bad_hierarchy_input_names_the_row_and_field_and_saves_nothing(universe, client):
    e = universe.engagement
    spec = design.hierarchy_spec(engagement=e)
    client.force_login(universe.architect)
    response = client.post(
        url(e, "hierarchy/"), _pod_post(spec, **{"pods-1-states": "CA, Atlantis"})
    )
    assert response.status_code == 400
    assert "Pod row 2, States: “Atlantis” is not a US state." in response.content.decode()
    response = client.post(
        url(e, "hierarchy/"), _pod_post(spec, **{"pods-0-granularity": "CA=street"})
    )
    assert response.status_code == 400 and "CA=street" in response.content.decode()
    response = client.post(url(e, "hierarchy/"), _pod_post(spec, **{"pods-1-key": "smb"}))
    assert response.status_code == 400 and "is used twice" in response.content.decode()
    assert not Hierarchy.objects.filter(engagement=e).exists()


def test_the_split_proposal_is_accepted_with_one_click(universe, client):
    e = universe.engagement
    make_hierarchy(e)
    client.force_login(universe.architect)
    page = client.get(url(e, "hierarchy/")).content.decode()
    assert 'data-unit="CA"' in page and "Split CA" in page
    response = client.post(
        url(e, "hierarchy/split/"),
        {"pod": "smb", "state": "CA", "granularity": "zip3"},
        follow=True,
    )
    assert "Split accepted" in response.content.decode()
    assert design.hierarchy_spec(engagement=e).pod("smb").granularity_by_state == {"CA": "zip3"}
    response = client.post(
        url(e, "hierarchy/split/"),
        {"pod": "smb", "state": "CA", "granularity": "street"},
        follow=True,
    )
    assert "Granularity must be one of" in response.content.decode()


def test_the_hierarchy_is_published_for_sign_off_and_its_diagram_downloads(universe, client):
    e = universe.engagement
    make_hierarchy(e)
    client.force_login(universe.architect)
    client.post(url(e, "hierarchy/publish/"))
    assert signoff_state(engagement=e, subject="hierarchy") == "pending"
    diagram = client.get(url(e, "hierarchy/diagram.svg"))
    assert (
        diagram["Content-Type"].startswith("image/svg+xml") and b"Named accounts" in diagram.content
    )


# --- Runs --------------------------------------------------------------------------------------


def test_starting_a_run_shows_the_blockers_then_starts_a_job(
    universe, client, django_capture_on_commit_callbacks
):
    e = universe.engagement
    make_hierarchy(e)
    client.force_login(universe.architect)
    form = {
        "tolerance": "10",
        "max_share": "25",
        "seed": "0",
        "continuity": "on",
        "contiguous": "on",
        "time_limit": "30",
    }
    page = client.get(url(e))
    assert b"Territory design cannot start yet" in page.content and b"disabled" in page.content
    response = client.post(url(e), form)
    assert response.status_code == 400 and b"valuation_methodology" in response.content
    response = client.post(url(e), {**form, "tolerance": "abc"})
    assert response.status_code == 400 and b"Tolerance" in response.content
    clear_design_blockers(e, universe.customer)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(url(e), {**form, "name": "first try"})
    run = BalancingRun.objects.get(engagement=e)
    assert response.status_code == 302 and response.url == url(e, f"runs/{run.pk}/")
    assert (
        run.name == "first try"
        and run.params["tolerance"] == 0.1
        and run.params["max_share"] == 0.25
    )
    assert Job.objects.get(pk=run.job_id).status == Job.Status.QUEUED
    page = client.get(url(e, f"runs/{run.pk}/")).content.decode()
    assert f'id="job-{run.job_id}-status"' in page
    client.force_login(universe.customer)
    assert client.post(url(e), form).status_code == 403


def test_the_results_page_shows_balance_bounds_flags_and_every_territory(universe, client):
    e = universe.engagement
    run = make_run(e)
    client.force_login(universe.viewer)
    page = client.get(url(e, f"runs/{run.pk}/")).content.decode()
    for t in RunTerritory.objects.filter(run=run):
        assert f'id="territory-{t.pk}"' in page and t.label in page
    assert "worst value deviation (bound" in page and "gap" in page
    assert "the table is the map" in page  # the enterprise pod is made of accounts
    assert 'id="approve-form"' not in page  # a viewer cannot approve


def test_the_map_has_every_territory_colour_and_every_state(universe):
    e = universe.engagement
    make_hierarchy(e)
    design.split_accept(engagement=e, pod_key="smb", state="CA", granularity="county", actor=None)
    run = make_run(e)
    maps = list(run.maps.all())
    assert len(maps) == 2
    for item in maps:
        territories = RunTerritory.objects.filter(run=run, pod__key__in=item.pods)
        assert territories.exists()
        for t in territories:
            assert f'fill="{t.color}"' in item.svg, t.label
            assert t.label in item.svg
        units = set(re.findall(r'data-unit="([^"]+)"', item.svg))
        states = {geo.unit_state(u) for u in units if geo.is_known_unit(u)}
        assert states == set(geo.STATES)
        assert geo.NEUTRAL_FILL not in item.svg  # every place belongs to a territory
    smb = next(m for m in maps if "smb" in m.pods)
    assert 'data-unit="CA:C06037"' in smb.svg and 'data-unit="CA"' not in smb.svg


def test_results_page_queries_do_not_grow_with_the_run(world, client):
    """Pinned: the results page reads stored figures only, never the atoms: session, user,
    engagement, role; the run, its pods, territories, maps and hand edits; the meetings that
    showed it, the balancing reviews to link, the other runs to compare; the data version
    (accounts' count and last change, valuation date, roster) = 15. An open territory adds
    its atoms' count and page = 17."""
    e = world.engagement
    client.force_login(world.architect)

    def count(run, extra=""):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url(e, f"runs/{run.pk}/{extra}")).status_code == 200
        return len(ctx.captured_queries)

    make_universe(e, n=150)
    small = make_run(e)
    make_universe(e, n=900, seed=4)
    big = make_run(e)
    assert big.atoms.count() > small.atoms.count()
    assert count(small) == count(big) == 15
    territory = big.territories.filter(pod__key="smb").first()
    # With a territory open: its atoms' page and their count.
    assert count(big, f"?territory={territory.pk}") == 17


def test_an_htmx_move_returns_the_updated_results(universe, client):
    e = universe.engagement
    run = make_run(e)
    atom = run.atoms.filter(kind="unit", count__gt=0).order_by("-value").first()
    target = run.territories.filter(pod=atom.pod).exclude(pk=atom.territory_id).first()
    client.force_login(universe.architect)
    response = client.post(
        url(e, f"runs/{run.pk}/atoms/{atom.pk}/move/"),
        {"territory": target.pk, "territory_open": atom.territory_id},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<div id="run-results">')
    target.refresh_from_db()
    assert f"{target.count:,}" in body and "edited by hand" in body
    assert RunAtom.objects.get(pk=atom.pk).territory_id == target.pk
    assert "Changes by hand" in body and RunEdit.objects.filter(run=run).count() == 1
    # Without htmx: back to the page, the territory open.
    response = client.post(
        url(e, f"runs/{run.pk}/atoms/{atom.pk}/lock/"), {"locked": "1", "territory_open": target.pk}
    )
    assert response.status_code == 302 and f"territory={target.pk}" in response.url
    assert RunAtom.objects.get(pk=atom.pk).locked
    # A refused move says why, in the fragment.
    response = client.post(
        url(e, f"runs/{run.pk}/atoms/{atom.pk}/move/"),
        {"territory": atom.territory_id},
        HTTP_HX_REQUEST="true",
    )
    assert "unlock it first" in response.content.decode()
    client.force_login(universe.customer)
    assert (
        client.post(url(e, f"runs/{run.pk}/atoms/{atom.pk}/lock/"), {"locked": "0"}).status_code
        == 403
    )
    assert RunAtom.objects.get(pk=atom.pk).locked


def test_an_htmx_lock_returns_the_fragment_with_the_atom_locked_and_the_metrics_updated(
    universe, client
):
    e = universe.engagement
    run = make_run(e)
    atom = run.atoms.filter(kind="unit", count__gt=0, locked=False).order_by("-value").first()
    territory = atom.territory
    locked_before = territory.metrics.get("locked", 0)
    assert run.edited_at is None
    client.force_login(universe.architect)
    response = client.post(
        url(e, f"runs/{run.pk}/atoms/{atom.pk}/lock/"),
        {"locked": "1", "territory_open": territory.pk},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<div id="run-results">')
    assert "<html" not in body  # the fragment, not the page
    # Stored: the atom is locked, the territory's figures and the run were recomputed.
    assert RunAtom.objects.get(pk=atom.pk).locked
    territory.refresh_from_db()
    run.refresh_from_db()
    assert territory.metrics["locked"] == locked_before + 1 and run.edited_at is not None
    edit = RunEdit.objects.get(run=run)
    assert edit.action == RunEdit.Action.LOCK and edit.to_label == territory.label
    # The fragment shows it: the atom's row says locked and offers to unlock, the territory's
    # row its new lock count, the balance the hand edit, the change log the lock.
    row = body.split(f'id="atom-{atom.pk}"', 1)[1].split("</tr>", 1)[0]
    assert '<span class="badge">locked</span>' in row and ">Unlock</button>" in row
    assert 'name="locked" value="0"' in row and f"Move {atom.label} to" not in row
    territory_row = body.split(f'id="territory-{territory.pk}"', 1)[1].split("</tr>", 1)[0]
    assert f'<span class="badge">{locked_before + 1} locked</span>' in territory_row
    assert f"edited by hand {timezone.localtime(run.edited_at):%Y-%m-%d %H:%M}" in body
    assert f"Locked {atom.label} in {territory.label}" in body


def test_a_territory_of_another_run_or_engagement_answers_404(universe, client):
    e = universe.engagement
    run = make_run(e)
    other = make_run(e)
    atom = run.atoms.first()
    foreign = other.territories.filter(pod__key=atom.pod.key).first()
    client.force_login(universe.architect)
    assert (
        client.post(
            url(e, f"runs/{run.pk}/atoms/{atom.pk}/move/"), {"territory": foreign.pk}
        ).status_code
        == 404
    )
    assert (
        client.post(
            url(e, f"runs/{other.pk}/atoms/{atom.pk}/move/"), {"territory": foreign.pk}
        ).status_code
        == 404
    )


def test_approving_in_the_page_sends_the_map_to_the_customer_portal(universe, client):
    e = universe.engagement
    run = make_run(e)
    client.force_login(universe.architect)
    response = client.post(url(e, f"runs/{run.pk}/approve/"), follow=True)
    assert b"awaits the customer" in response.content
    assert signoff_latest(engagement=e, subject="territory_map") is not None
    client.force_login(universe.customer)
    home = client.get("/").content.decode()
    assert "Balanced territory map" in home and url(e, "map/") in home
    page = client.get(url(e, "map/")).content.decode()
    assert run.title in page and "<svg" in page and "Your sign-off" in page
    assert 'id="approve-form"' not in page


def test_a_balancing_review_is_linked_from_the_run_page(universe, client):
    e = universe.engagement
    run = make_run(e)
    review = make_meeting(
        e, kind="balancing_review", kind_name="Balancing Review", title="Balancing Review 1"
    )
    kickoff = make_meeting(e)
    client.force_login(universe.architect)
    page = client.get(url(e, f"runs/{run.pk}/")).content.decode()
    assert "Balancing Review 1" in page and kickoff.title not in page
    client.post(url(e, f"runs/{run.pk}/meetings/"), {"meeting": review.pk, "shown": "1"})
    assert list(run.shown_in.all()) == [review]
    response = client.post(url(e, f"runs/{run.pk}/meetings/"), {"meeting": kickoff.pk}, follow=True)
    assert b"balancing review" in response.content and run.shown_in.count() == 1
    # Run -> meeting: the run page links the review it was shown in.
    page = client.get(url(e, f"runs/{run.pk}/")).content.decode()
    section = page.split('id="run-meetings"', 1)[1].split("</section>", 1)[0]
    assert f'href="/engagements/{e.pk}/meetings/{review.pk}/"' in section


def test_a_balancing_review_links_the_runs_it_showed(universe, client):
    e = universe.engagement
    shown, other = make_run(e), make_run(e, seed=2)
    review = make_meeting(
        e, kind="balancing_review", kind_name="Balancing Review", title="Balancing Review 1"
    )
    kickoff = make_meeting(e)
    meeting_url = f"/engagements/{e.pk}/meetings/{review.pk}/"
    client.force_login(universe.customer)
    page = client.get(meeting_url).content.decode()
    assert 'id="related-balancing-runs"' in page and "No run is linked to this review yet" in page
    design.run_link_meeting(run=shown, meeting=review, shown=True, actor=None)
    # Meeting -> run: the review's page lists and links the run it showed, and only that one.
    page = client.get(meeting_url).content.decode()
    section = page.split('id="related-balancing-runs"', 1)[1].split("</section>", 1)[0]
    assert f'href="{url(e, f"runs/{shown.pk}/")}"' in section and shown.title in section
    assert f"runs/{other.pk}/" not in section
    assert f"value within ±{shown.metrics['value']['max_dev_pct']:.1f} %" in section
    # The link leads to the run's page, which links back.
    run_page = client.get(url(e, f"runs/{shown.pk}/")).content.decode()
    assert f'href="{meeting_url}"' in run_page
    # An approved run says so; an unlinked run disappears from the review.
    design.run_approve(run=shown, actor=None)
    design.run_link_meeting(run=other, meeting=review, shown=True, actor=None)
    page = client.get(meeting_url).content.decode()
    section = page.split('id="related-balancing-runs"', 1)[1].split("</section>", 1)[0]
    assert "approved " in section and other.title in section
    design.run_link_meeting(run=other, meeting=review, shown=False, actor=None)
    page = client.get(meeting_url).content.decode()
    assert f"runs/{other.pk}/" not in page
    # A meeting that is not a balancing review and showed no run has no such block.
    assert (
        'id="related-balancing-runs"'
        not in client.get(f"/engagements/{e.pk}/meetings/{kickoff.pk}/").content.decode()
    )


def test_the_engagements_meeting_view_does_not_import_territories():
    """The meeting page gets the runs through ``engagements.related``: the engagements app's
    views and registry never import the territories app (it depends on engagements)."""
    import ast
    from pathlib import Path

    import engagements

    root = Path(engagements.__file__).parent
    for path in [root / "related.py", *sorted((root / "views").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] == "territories" for n in names), path


def test_two_runs_compare_side_by_side(universe, client):
    e = universe.engagement
    a = make_run(e, seed=1, continuity=False)
    b = make_run(e, seed=2, continuity=False)
    client.force_login(universe.customer)
    page = client.get(url(e, f"runs/compare/?left={a.pk}&right={b.pk}")).content.decode()
    assert a.title in page and b.title in page and 'id="differing-atoms"' in page
    assert page.count("<svg") >= 4


def test_growth_equity_csv_and_map_downloads(universe, client, django_capture_on_commit_callbacks):
    e = universe.engagement
    run = make_approved_run(e)
    client.force_login(universe.architect)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(url(e, f"runs/{run.pk}/growth/"))
    assert response.status_code == 302 and "?job=" in response.url
    design.growth_plan_compute(run=run)
    page = client.get(url(e, f"runs/{run.pk}/growth/")).content.decode()
    assert "Runway" in page and "Parameters" in page
    # Every existing rep has a line, those who keep everything included.
    statements = page.split('id="rep-statements"', 1)[1].split("</ul>", 1)[0]
    assert statements.count("<li>") == run.territories.count()
    for territory in run.territories.exclude(rep=""):
        assert territory.rep in statements
    page = client.get(url(e, f"runs/{run.pk}/equity/")).content.decode()
    assert "Territory assignments" in page and "Rebalancing schedule" in page and "Quota" in page
    csv = b"".join(client.get(url(e, f"runs/{run.pk}/assignment.csv")).streaming_content).decode(
        "utf-8-sig"
    )
    assert len(csv.strip().splitlines()) == run.atoms.count() + 1
    svg = client.get(url(e, f"runs/{run.pk}/map.svg?map=0"))
    assert svg.status_code == 200 and svg["Content-Disposition"].startswith("attachment")
    assert client.get(url(e, f"runs/{run.pk}/map.svg?map=9")).status_code == 404


def _pile_up(run, pod_key="smb"):
    """Move the pod's four biggest units of other territories onto its first territory."""
    first = run.territories.get(pod__key=pod_key, index=0)
    for atom in (
        run.atoms.filter(pod__key=pod_key, count__gt=0)
        .exclude(territory=first)
        .order_by("-value")[:4]
    ):
        design.run_atom_move(run=run, atom=atom, territory=first, actor=None)
    run.refresh_from_db()
    return first


def test_the_equity_page_computes_the_suggested_moves_in_a_job_and_shows_them(universe, client):
    e = universe.engagement
    run = make_run(e, continuity=False, contiguous=False)
    first = _pile_up(run)
    client.force_login(universe.architect)
    page = client.get(url(e, f"runs/{run.pk}/equity/")).content.decode()
    assert 'id="moves-none"' in page and "Compute the suggested moves" in page
    assert "No suggested moves stored for this pod" in page
    # The button queues the job; the page shows it polling while it waits for a worker.
    with mock.patch("engagements.tracking._queue"):
        response = client.post(url(e, f"runs/{run.pk}/equity/"))
    assert response.status_code == 302 and response.url == url(e, f"runs/{run.pk}/equity/")
    job = Job.objects.get(engagement=e, kind="territories.jobs.rebalancing_plan_compute")
    page = client.get(response.url).content.decode()
    assert f'id="job-{job.pk}-status"' in page and "every 1s" in page
    # The worker's part, in-process: the moves are stored and the page reads them.
    jobs.rebalancing_plan_compute(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    plan = RebalancingPlan.objects.get(run=run)
    page = client.get(url(e, f"runs/{run.pk}/equity/")).content.decode()
    assert f'id="job-{job.pk}-status"' not in page
    assert "Suggested moves computed" in page and "Compute the suggested moves again" in page
    first_move = plan.pods["smb"]["moves"][0]
    assert f"Move {first_move['atom']}" in page and f"from {first_move['from']}" in page
    assert 'id="moves-stale"' not in page
    # A hand edit since: the page says the moves are stale.
    atom = run.atoms.filter(territory=first, kind="unit", count__gt=0).order_by("value").first()
    other = run.territories.filter(pod=first.pod).exclude(pk=first.pk).first()
    design.run_atom_move(run=run, atom=atom, territory=other, actor=None)
    page = client.get(url(e, f"runs/{run.pk}/equity/")).content.decode()
    assert 'id="moves-stale"' in page
    # A viewer reads the report but has no button and cannot queue the job.
    client.force_login(universe.customer)
    page = client.get(url(e, f"runs/{run.pk}/equity/")).content.decode()
    assert "Suggested moves computed" in page and "Compute the suggested moves" not in page
    assert client.post(url(e, f"runs/{run.pk}/equity/")).status_code == 403
    assert Job.objects.filter(kind="territories.jobs.rebalancing_plan_compute").count() == 1


def test_the_equity_page_shows_the_quota_range_on_quota(universe, client):
    e = universe.engagement
    run = make_run(e)
    report = design.equity_report(run=run)
    client.force_login(universe.viewer)
    page = client.get(url(e, f"runs/{run.pk}/equity/")).content.decode()
    for pod in report["pods"]:
        section = page.split(f'id="equity-{pod["pod"]}"', 1)[1].split("</section>", 1)[0]
        quota_line = section.split('class="quota-range"', 1)[1].split("</dd>", 1)[0]
        if pod["quota_range_pct"] is not None:
            assert f"(variance: {pod['quota_range_pct']:.1f} %)" in quota_line


def test_equity_page_queries_do_not_grow_with_the_run(world, client):
    """Pinned: the equity page reads stored figures only, never the atoms, and never runs the
    engine: session, user, engagement, role (4); the run (1); the plan settings with the
    segment scheme they cover (segment definitions, tier rules, valuation settings,
    assumptions) and the corrections of the plan parameters (6); the run's pods and
    territories (2); the stored suggested moves and the rebalancing job (2); the valuation
    summary and the coverage model (coverage rules, capacity, segment definitions and two
    assumption reads) (6) = 21. With stored moves, the data version (accounts' count and
    last change, valuation date, roster), to say whether the data changed since = 24."""
    e = world.engagement
    client.force_login(world.architect)

    def count(run):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url(e, f"runs/{run.pk}/equity/")).status_code == 200
        return len(ctx.captured_queries)

    make_universe(e, n=150)
    small = make_run(e, continuity=False, contiguous=False)
    make_universe(e, n=900, seed=4)
    big = make_run(e, continuity=False, contiguous=False)
    assert big.atoms.count() > small.atoms.count()
    _pile_up(big)
    with mock.patch("territories.balancing.balance", side_effect=AssertionError("engine")):
        before = count(small), count(big)
    design.rebalancing_plan_compute(run=big)
    design.rebalancing_plan_compute(run=small)
    with mock.patch("territories.balancing.balance", side_effect=AssertionError("engine")):
        after = count(small), count(big)
    assert before == (21, 21) and after == (24, 24), (before, after)


def test_plan_parameters_are_saved_as_assumptions_and_bad_values_named(universe, client):
    e = universe.engagement
    run = make_run(e)
    client.force_login(universe.architect)
    back = url(e, f"runs/{run.pk}/equity/")
    data = {
        "next": back,
        "quota_share": "80",
        "account_growth": "10",
        "new_hire_months": "2",
        "ramping_months": "4",
        "rate_0": "12",
        "rate_1": "30",
        "rate_2": "45",
    }
    response = client.post(url(e, "plan/"), data)
    assert response.status_code == 302 and response.url == back
    inputs = design.plan_inputs(engagement=e)
    assert (
        inputs["rates"] == {"Enterprise": 0.12, "Mid-Market": 0.30, "SMB": 0.45}
        and inputs["quota_share"] == 0.8
    )
    response = client.post(url(e, "plan/"), {**data, "quota_share": "20"}, follow=True)
    assert "Quota (% of realistic potential)" in response.content.decode()
    assert design.plan_inputs(engagement=e)["quota_share"] == 0.8
    response = client.post(url(e, "plan/"), {**data, "next": "https://evil.example/"})
    assert response.url == url(e)

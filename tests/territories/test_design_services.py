"""Territory design services: hierarchy, split proposal, runs, approval and sign-off, meetings,
growth plan, quota and equity, drift, the dashboard column."""

from __future__ import annotations

from dataclasses import replace
from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from engagements.models import ActivityEvent, Assumption, Job
from engagements.services import SignoffEvidence, signoff_decide, signoff_latest, signoff_state
from territories import design, geo
from territories.models import (
    Account,
    BalancingRun,
    GrowthPlan,
    Hierarchy,
    PlannedHire,
    RebalancingPlan,
    RunAtom,
    RunPod,
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

EVIDENCE = SignoffEvidence("127.0.0.1", "tests", "tests")


@pytest.fixture
def universe(world):
    make_universe(world.engagement, n=600)
    return world


def _assumption(engagement, key):
    return Assumption.objects.get(engagement=engagement, key=key)


# --- Hierarchy --------------------------------------------------------------------------------


def test_the_starting_hierarchy_takes_its_seats_from_the_roster(universe):
    row = design.hierarchy_get(engagement=universe.engagement)
    assert row.pk is None
    spec = design.hierarchy_spec(engagement=universe.engagement, hierarchy=row)
    pods = {p.key: p for p in spec.pods}
    assert set(pods) == {"enterprise", "mid-market", "smb"}
    assert pods["enterprise"].atom == "account" and pods["enterprise"].reps == ("Dana Whitfield",)
    assert pods["mid-market"].seats == len(pods["mid-market"].reps) == 6


def test_saving_registers_cut_order_pods_and_granularity_as_assumptions(universe):
    make_hierarchy(universe.engagement)
    e = universe.engagement
    assert _assumption(e, design.CUT_ORDER_KEY).value == ["named_accounts", "segment", "state"]
    assert _assumption(e, design.GRANULARITY_KEY).statement == "No state is split below state level"
    assert {p["key"] for p in _assumption(e, design.PODS_KEY).value} == {
        "enterprise",
        "mid-market",
        "smb",
    }
    assert ActivityEvent.objects.filter(engagement=e, verb="hierarchy.saved").exists()


def test_a_hierarchy_with_people_off_the_roster_is_refused_whole(universe):
    spec = design.hierarchy_spec(engagement=universe.engagement)
    bad = replace(spec, pods=(*spec.pods[:2], replace(spec.pods[2], reps=("Ghost Rep",), seats=2)))
    with pytest.raises(ValidationError) as exc:
        design.hierarchy_save(
            engagement=universe.engagement,
            spec=bad,
            named_accounts="ACC-1, Nobody\nno comma here",
            actor=None,
        )
    assert "Named accounts, line 2" in " ".join(exc.value.messages)
    with pytest.raises(ValidationError) as exc:
        design.hierarchy_save(
            engagement=universe.engagement, spec=bad, named_accounts="ACC-1, Nobody", actor=None
        )
    text = " ".join(exc.value.messages)
    assert "Ghost Rep is not an active account executive" in text
    assert "the owner “Nobody” is not on the team roster" in text
    assert not Hierarchy.objects.filter(engagement=universe.engagement).exists()


def test_the_split_proposal_flags_california_and_one_click_splits_it(universe):
    make_hierarchy(universe.engagement)
    e = universe.engagement
    _assumption(e, design.GRANULARITY_KEY).confirm(by=universe.architect, meeting=make_meeting(e))
    hierarchy = design.hierarchy_get(engagement=e)
    spec = design.hierarchy_spec(engagement=e, hierarchy=hierarchy)
    overview = design.hierarchy_overview(
        engagement=e, spec=spec, named=hierarchy.named_accounts, share=0.5
    )
    ca = [p for p in overview["proposals"] if p.unit == "CA"]
    assert ca and all(p.proposed == "county" and p.share_of_target > 0.5 for p in ca)
    pod_value = next(p.value for p in overview["pods"] if p.pod.key == ca[0].pod)
    ca_value = Account.objects.filter(
        engagement=e,
        state="CA",
        segment=next(p.pod.segments[0] for p in overview["pods"] if p.pod.key == ca[0].pod),
    ).exclude(named_account_owner="")
    assert ca[0].target == pytest.approx(pod_value / spec.pod(ca[0].pod).seats)
    del ca_value
    design.split_accept(
        engagement=e, pod_key=ca[0].pod, state="CA", granularity="county", actor=universe.architect
    )
    spec = design.hierarchy_spec(engagement=e)
    assert spec.pod(ca[0].pod).granularity_by_state == {"CA": "county"}
    granularity = _assumption(e, design.GRANULARITY_KEY)
    assert granularity.state == Assumption.State.ASSUMED
    assert "California by county" in granularity.statement
    # Now split, California is no longer proposed as a whole state.
    hierarchy = design.hierarchy_get(engagement=e)
    overview = design.hierarchy_overview(engagement=e, spec=spec, named=[], share=0.5)
    assert not [p for p in overview["proposals"] if p.unit == "CA" and p.pod == ca[0].pod]


def test_the_editors_figures_and_split_proposals_agree_with_the_run(universe):
    """Accounts whose state field is blank but whose ZIP code is valid, and stored segments
    that disagree with the hierarchy's bands: the editor counts them as a run does."""
    e = universe.engagement
    make_hierarchy(e)
    california = Account.objects.filter(engagement=e, state="CA")
    blanked = list(california.values_list("pk", flat=True)[:40])
    assert len(blanked) == 40
    Account.objects.filter(pk__in=blanked).update(state="")
    # A stale stored segment (the valuation is older than the bands): the bands decide.
    Account.objects.filter(engagement=e, segment="SMB").update(segment="Enterprise")
    hierarchy = design.hierarchy_get(engagement=e)
    spec = design.hierarchy_spec(engagement=e, hierarchy=hierarchy)
    overview = design.hierarchy_overview(
        engagement=e, spec=spec, named=hierarchy.named_accounts, share=0.5
    )
    run = make_run(e)
    pods = {p.key: p for p in RunPod.objects.filter(run=run)}
    for preview in overview["pods"]:
        pod = pods[preview.pod.key]
        assert preview.accounts == pod.accounts, pod.key
        assert preview.value == pytest.approx(pod.value), pod.key
    assert overview["unassigned"]["accounts"] == run.summary["unassigned"]["accounts"] == 0
    assert overview["named"] == len(run.summary["named"])
    # California's proposals carry the value the run's California unit holds, blank states
    # included (their ZIP codes are in California).
    ca = [p for p in overview["proposals"] if p.unit == "CA"]
    assert ca
    for proposal in ca:
        atom = RunAtom.objects.get(run=run, pod__key=proposal.pod, atom="CA")
        assert proposal.value == pytest.approx(atom.value)
        assert proposal.target == pytest.approx(pods[proposal.pod].value / pods[proposal.pod].seats)


def test_a_split_of_an_account_pod_or_a_bad_state_is_refused(universe):
    make_hierarchy(universe.engagement)
    with pytest.raises(ValidationError, match="made of accounts"):
        design.split_accept(
            engagement=universe.engagement,
            pod_key="enterprise",
            state="CA",
            granularity="county",
            actor=None,
        )
    with pytest.raises(ValidationError, match="not a state"):
        design.split_accept(
            engagement=universe.engagement,
            pod_key="smb",
            state="XX",
            granularity="county",
            actor=None,
        )
    with pytest.raises(ValidationError, match="no pod"):
        design.split_accept(
            engagement=universe.engagement,
            pod_key="nope",
            state="CA",
            granularity="county",
            actor=None,
        )


def test_the_hierarchy_goes_to_customer_sign_off(universe):
    e = universe.engagement
    with pytest.raises(ValidationError, match="Save the hierarchy"):
        design.hierarchy_publish(engagement=e, actor=universe.architect)
    make_hierarchy(e)
    version = design.hierarchy_publish(engagement=e, actor=universe.architect)
    assert "Cut order: 1. named accounts, 2. size segment, 3. state" in version.text
    assert "Named accounts:" in version.text
    assert design.hierarchy_publish(engagement=e, actor=universe.architect).pk == version.pk
    signoff_decide(
        version=version,
        decision="approved",
        signer=universe.customer,
        signer_name="C",
        comment="",
        evidence=EVIDENCE,
    )
    assert signoff_state(engagement=e, subject="hierarchy") == "approved"
    design.split_accept(engagement=e, pod_key="smb", state="CA", granularity="county", actor=None)
    assert design.hierarchy_changed(engagement=e, hierarchy=design.hierarchy_get(engagement=e))


# --- Runs ---------------------------------------------------------------------------------------


def test_a_run_cannot_start_while_territory_design_is_blocked(universe):
    make_hierarchy(universe.engagement)
    with pytest.raises(ValidationError) as exc:
        design.balancing_run_start(
            engagement=universe.engagement, user=universe.architect, params=design.RunParams()
        )
    assert "Territory design cannot start yet" in exc.value.messages[0]
    assert "valuation_methodology" in exc.value.messages[0]
    assert (
        not BalancingRun.objects.exists()
        and not Job.objects.filter(kind__endswith="balancing_run").exists()
    )


def test_a_run_starts_as_a_job_over_the_saved_hierarchy(
    universe, django_capture_on_commit_callbacks
):
    e = universe.engagement
    clear_design_blockers(e, universe.customer)
    with pytest.raises(ValidationError, match="Save the hierarchy"):
        design.balancing_run_start(engagement=e, user=universe.architect, params=design.RunParams())
    make_hierarchy(e)
    with pytest.raises(ValidationError, match="Tolerance must be between"):
        design.balancing_run_start(
            engagement=e, user=universe.architect, params=design.RunParams(tolerance=0.9)
        )
    run = design.balancing_run_start(
        engagement=e, user=universe.architect, params=design.RunParams(seed=3), name="first"
    )
    assert run.number == 1 and run.status == BalancingRun.Status.QUEUED
    assert run.job.kind == "territories.jobs.balancing_run" and run.job.params == {"run": run.pk}
    assert run.hierarchy == design.hierarchy_spec(engagement=e).to_json()
    second = design.balancing_run_start(
        engagement=e, user=universe.architect, params=design.RunParams()
    )
    assert second.number == 2


def test_a_run_writes_every_atom_and_reruns_replace_its_results(universe):
    run = make_run(universe.engagement, seed=2)
    assert run.status == BalancingRun.Status.SUCCEEDED
    pods = RunPod.objects.filter(run=run)
    assert RunAtom.objects.filter(run=run).count() == sum(p.atoms for p in pods)
    assert RunTerritory.objects.filter(run=run).count() == run.metrics["territories"] == 12
    accounts = sum(t.count for t in RunTerritory.objects.filter(run=run))
    assert (
        accounts + run.summary["unassigned"]["accounts"] + len(run.summary["named_unplaced"]) == 600
    )
    assert run.summary["timings"]["total"] > 0 and run.data_version
    assert run.maps.count() == 2  # the two geographic pods cover the same states
    first = sorted(RunAtom.objects.filter(run=run).values_list("atom", "territory__key"))
    design.balancing_run_execute(run=run)
    assert sorted(RunAtom.objects.filter(run=run).values_list("atom", "territory__key")) == first
    assert RunAtom.objects.filter(run=run).count() == sum(p.atoms for p in pods)


def test_same_inputs_and_seed_give_the_same_territories(universe):
    a = make_run(universe.engagement, seed=5)
    b = make_run(universe.engagement, seed=5)
    assert sorted(a.atoms.values_list("atom", "territory__key")) == sorted(
        b.atoms.values_list("atom", "territory__key")
    )


def test_a_failing_run_says_which_pod_and_why(universe):
    e = universe.engagement
    spec = design.hierarchy_spec(engagement=e)
    pods = (replace(spec.pods[0], seats=500, reps=()), *spec.pods[1:])
    make_hierarchy(e, replace(spec, pods=pods))
    with pytest.raises(Exception, match="500 seats"):
        make_run(e)
    run = BalancingRun.objects.get(engagement=e)
    assert run.status == BalancingRun.Status.FAILED and "Pod “Enterprise”: 500 seats" in run.message


def test_a_run_from_another_run_keeps_its_locks(universe):
    e = universe.engagement
    base = make_run(e)
    atom = base.atoms.filter(kind="unit", count__gt=0).order_by("-value").first()
    target = base.territories.filter(pod=atom.pod).exclude(pk=atom.territory_id).first()
    design.run_atom_move(run=base, atom=atom, territory=target, actor=None)
    design.run_atom_lock(run=base, atom=atom, locked=True, actor=None)
    again = make_run(e, base_run=base.pk)
    moved = again.atoms.get(atom=atom.atom, pod__key=atom.pod.key)
    assert moved.territory.key == target.key and moved.locked


# --- Approval, sign-off, meetings -----------------------------------------------------------


def test_approving_publishes_the_map_for_sign_off_and_the_customer_signs_it(universe):
    e = universe.engagement
    run = make_approved_run(e, user=universe.architect)
    version = signoff_latest(engagement=e, subject="territory_map")
    assert version.title == "Balanced territory map"
    for territory in run.territories.all():
        assert (
            f"- {territory.label} ({territory.key}): {territory.rep or 'vacant'}; {territory.count:,} accounts"
            in version.text
        )
    assert "Assignment SHA-256" in version.text
    assert signoff_state(engagement=e, subject="territory_map") == "pending"
    signoff_decide(
        version=version,
        decision="approved",
        signer=universe.customer,
        signer_name="C",
        comment="",
        evidence=EVIDENCE,
    )
    assert signoff_state(engagement=e, subject="territory_map") == "approved"
    assert ActivityEvent.objects.filter(engagement=e, verb="run.approved").exists()
    # Approving again publishes nothing new (same text); a growth job was queued.
    assert design.run_approve(run=run, actor=universe.architect).pk == version.pk
    assert Job.objects.filter(engagement=e, kind="territories.jobs.growth_plan_compute").exists()
    assert Job.objects.filter(
        engagement=e, kind="territories.jobs.rebalancing_plan_compute", params={"run": run.pk}
    ).exists()


def test_a_runs_results_are_written_in_one_bulk_step_whatever_the_number_of_atoms(world):
    """The write of a run (pods, territories, every atom, the run's figures) issues the same
    statements for 150 accounts as for about six times more: the atoms go in one step (one
    COPY on PostgreSQL, which the query log does not show; one executemany of one INSERT on
    SQLite), never one statement per row or per batch."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    e = world.engagement
    make_universe(e, n=150)
    spec = design.hierarchy_spec(engagement=e)
    # Every pod made of accounts: the number of atoms follows the number of accounts.
    make_hierarchy(e, replace(spec, pods=tuple(replace(p, atom="account") for p in spec.pods)))
    captured = []
    write = design._write_results

    def spy(*args, **kwargs):
        with CaptureQueriesContext(connection) as ctx:
            write(*args, **kwargs)
        captured.append([q["sql"] for q in ctx.captured_queries])

    with mock.patch.object(design, "_write_results", spy):
        small = make_run(e)
        make_universe(e, n=900, seed=4)
        big = make_run(e)
    assert small.atoms.count() == 150 and big.atoms.count() >= 6 * 150
    small_sql, big_sql = captured
    assert len(small_sql) == len(big_sql), (small_sql, big_sql)
    table = RunAtom._meta.db_table
    inserts = [q for q in big_sql if f'INSERT INTO "{table}"' in q]
    if connection.vendor == "postgresql":
        assert inserts == []  # COPY, outside the query log
    else:
        (insert,) = inserts  # one executemany: the log says "<times> times: INSERT ..."
        assert " times: INSERT INTO" in insert
    assert big.atoms.count() == sum(p.atoms for p in RunPod.objects.filter(run=big))


def test_an_approved_run_is_locked_against_edits_until_withdrawn(universe):
    run = make_approved_run(universe.engagement)
    atom = run.atoms.filter(kind="unit").first()
    other = run.territories.filter(pod=atom.pod).exclude(pk=atom.territory_id).first()
    with pytest.raises(ValidationError, match="approved"):
        design.run_atom_move(run=run, atom=atom, territory=other, actor=None)
    design.run_withdraw(run=run, actor=None)
    run.refresh_from_db()
    design.run_atom_move(run=run, atom=atom, territory=other, actor=None)
    assert RunAtom.objects.get(pk=atom.pk).territory_id == other.pk


def test_approving_after_an_edit_approves_the_edited_state(universe):
    e = universe.engagement
    run = make_run(e)
    atom = run.atoms.filter(kind="unit", count__gt=0).first()
    other = run.territories.filter(pod=atom.pod).exclude(pk=atom.territory_id).first()
    design.run_atom_move(run=run, atom=atom, territory=other, actor=None)
    run.refresh_from_db()
    design.run_approve(run=run, actor=None)
    result = design.approved_map(engagement=e)
    territory = next(t for t in result.territories if t.key == other.key)
    assert atom.atom in territory.units
    assert other.label in signoff_latest(engagement=e, subject="territory_map").text


def test_balancing_reviews_link_the_run_they_showed(universe):
    e = universe.engagement
    run = make_run(e)
    review = make_meeting(e, kind="balancing_review", kind_name="Balancing Review")
    design.run_link_meeting(run=run, meeting=review, shown=True, actor=None)
    assert list(review.balancing_runs.all()) == [run]
    with pytest.raises(ValidationError, match="balancing review"):
        design.run_link_meeting(run=run, meeting=make_meeting(e), shown=True, actor=None)
    with pytest.raises(ValidationError, match="another engagement"):
        design.run_link_meeting(
            run=run,
            meeting=make_meeting(universe.other, kind="balancing_review"),
            shown=True,
            actor=None,
        )
    design.run_link_meeting(run=run, meeting=review, shown=False, actor=None)
    assert not review.balancing_runs.exists()


# --- Growth, quota, equity, drift, dashboard ------------------------------------------------------


def _hires(engagement):
    import datetime as dt

    for title, segment, state, days in (
        ("AE West #4", "Mid-Market", "CA", 40),
        ("AE Enterprise #2", "Enterprise", "NY", 200),
        ("AE South #4", "SMB", "TX", 100),
        ("AE Nowhere", "Public Sector", "TX", 10),
    ):
        PlannedHire.objects.create(
            engagement=engagement,
            title=title,
            segment=segment,
            home_state=state,
            start_date=dt.date.today() + dt.timedelta(days=days),
        )


def test_the_growth_plan_cuts_a_territory_per_hire_in_date_order(universe):
    e = universe.engagement
    _hires(e)
    # Whole states are coarse atoms for 600 accounts: the engine's band repair may not reach the
    # band and then searches until the time limit, so keep that short here.
    run = make_run(e, time_limit=5)
    design.growth_plan_compute(run=run)
    plan = design.growth_plan(run=run)
    assert [s["hire"] for s in plan["steps"]] == ["AE West #4", "AE South #4", "AE Enterprise #2"]
    assert plan["unplaced"] == [
        {"hire": "AE Nowhere", "reason": "no pod takes Public Sector hires based in TX"}
    ]
    west = plan["steps"][0]
    assert west["pod"] == "mid-market" and west["territory_label"] == "Mid-Market 7"
    assert west["accounts"] == sum(d["accounts"] for d in west["donors"]) > 0
    for donor in west["donors"]:
        assert donor["statement"].startswith(
            f"{donor['holder']} gives up {donor['accounts']:,} account"
        )
        assert donor["statement"].endswith("to AE West #4.")
    assert set(west["max_dev_pct"]) == {"count", "value"}
    assert plan["losses"] and not plan["stale"]
    # A statement for every existing territory's rep, those who give nothing up included.
    territories = list(run.territories.order_by("pod__position", "index"))
    statements = plan["statements"]
    assert [(r["pod"], r["label"]) for r in statements] == [
        (t.pod.key, t.label) for t in territories
    ]
    donors = {(s["pod"], d["territory"]) for s in plan["steps"] for d in s["donors"]}
    for row, territory in zip(statements, territories, strict=True):
        assert row["holder"] == (territory.rep or f"{territory.label} (vacant)")
        if (territory.pod.key, territory.index) in donors:
            assert " gives up " in row["statement"] and row["gives_accounts"] > 0
            assert row["keeps_accounts"] == territory.count - row["gives_accounts"]
        else:
            assert row["statement"].startswith(f"{row['holder']} keeps ")
            assert f"{territory.count:,} account" in row["statement"]
            assert row["statement"].endswith(f"no pre-planned cut takes from {territory.label}.")
    assert set(plan["runway"]["segments"][0]) >= {"segment", "need_now", "team_now", "months"}
    PlannedHire.objects.filter(title="AE Nowhere").delete()
    assert design.growth_plan(run=run)["stale"]
    assert GrowthPlan.objects.filter(run=run).count() == 1
    # Without an enterprise hire, the enterprise rep loses nothing and is told so.
    PlannedHire.objects.filter(title="AE Enterprise #2").delete()
    design.growth_plan_compute(run=run)
    enterprise = run.territories.get(pod__key="enterprise")
    (dana,) = [r for r in design.growth_plan(run=run)["statements"] if r["pod"] == "enterprise"]
    assert dana["statement"] == (
        f"{enterprise.rep} keeps all {enterprise.count:,} accounts "
        f"({geo.format_usd(enterprise.value)}): no pre-planned cut takes from {enterprise.label}."
    )
    assert dana["gives_accounts"] == 0 and dana["keeps_accounts"] == enterprise.count


def test_quota_uses_the_conversion_rate_assumptions_and_corrections_win(universe):
    e = universe.engagement
    run = make_run(e)
    design.plan_assumptions_sync(engagement=e)
    key = design.conversion_key("SMB")
    assert _assumption(e, key).value == 0.40
    report = design.equity_report(run=run)
    smb = [t for t in report["territories"] if t["pod"] == "smb"]
    for t in smb:
        assert t["quota"] == pytest.approx(0.75 * t["realistic"])
        assert t["realistic"] == pytest.approx(
            sum(
                v * {"SMB": 0.40, "Mid-Market": 0.25, "Enterprise": 0.15}[s]
                for s, v in run.territories.get(label=t["label"])
                .metrics["value_by_segment"]
                .items()
            )
        )
    _assumption(e, key).correct(by=None, meeting=make_meeting(e), value=0.2)
    report = design.equity_report(run=run)
    t = next(t for t in report["territories"] if t["pod"] == "smb")
    assert report["inputs"]["rates"]["SMB"] == 0.2
    assert [m["segment"] for m in report["market"]] == ["Enterprise", "Mid-Market", "SMB"]
    assert report["schedule"][0] == ("Q1", "Check capacity utilization")
    with pytest.raises(ValidationError, match="Quota share"):
        design.plan_settings_update(
            engagement=e,
            conversion_rates={"SMB": 0.3},
            quota_share=0.2,
            account_growth=0.1,
            new_hire_months=3,
            ramping_months=6,
            actor=None,
        )


def _unbalance(run, pod_key="smb"):
    """Pile the four biggest units of other territories onto the pod's first territory."""
    pod = RunPod.objects.get(run=run, key=pod_key)
    first = run.territories.get(pod=pod, index=0)
    for atom in (
        run.atoms.filter(pod=pod, count__gt=0).exclude(territory=first).order_by("-value")[:4]
    ):
        design.run_atom_move(run=run, atom=atom, territory=first, actor=None)
    run.refresh_from_db()
    return first


def test_an_unbalanced_pod_gets_suggested_moves_back_into_the_band(universe):
    e = universe.engagement
    run = make_run(e, continuity=False, contiguous=False)
    _unbalance(run)
    # Before the job ran, the report flags the pod but has no moves: it never runs the engine.
    with mock.patch("territories.balancing.balance", side_effect=AssertionError("engine")):
        report = design.equity_report(run=run)
    smb = next(p for p in report["pods"] if p["pod"] == "smb")
    assert smb["rebalance"] and report["rebalance"] and smb["suggestions"] is None
    assert report["moves"]["plan"] is None

    plan = design.rebalancing_plan_compute(run=run)
    assert set(plan.inputs["flagged"]) >= {"smb"} and set(plan.pods) == set(plan.inputs["flagged"])
    with mock.patch("territories.balancing.balance", side_effect=AssertionError("engine")):
        report = design.equity_report(run=run)
    smb = next(p for p in report["pods"] if p["pod"] == "smb")
    suggestions = smb["suggestions"]
    assert suggestions == RebalancingPlan.objects.get(run=run).pods["smb"]
    assert suggestions["total"] >= 1 and suggestions["moves"][0]["from"]
    assert suggestions["within_tolerance"]
    assert report["moves"]["computed_at"] == plan.computed_at
    assert not report["moves"]["edited"] and not report["moves"]["data_changed"]
    assert ActivityEvent.objects.filter(engagement=e, verb="run.rebalancing_suggested").exists()
    # Computing again replaces the row, never adds one.
    design.rebalancing_plan_compute(run=run)
    assert RebalancingPlan.objects.filter(run=run).count() == 1


def test_suggested_moves_say_when_the_run_or_the_data_changed_since(universe):
    e = universe.engagement
    run = make_run(e, continuity=False, contiguous=False)
    first = _unbalance(run)
    design.rebalancing_plan_compute(run=run)
    # A hand edit after the computation: the moves are stale.
    atom = run.atoms.filter(territory=first, kind="unit", count__gt=0).order_by("value").first()
    other = run.territories.filter(pod=first.pod).exclude(pk=first.pk).first()
    design.run_atom_move(run=run, atom=atom, territory=other, actor=None)
    run.refresh_from_db()
    moves = design.equity_report(run=run)["moves"]
    assert moves["edited"] and not moves["data_changed"]
    # New data after the computation: said too.
    design.rebalancing_plan_compute(run=run)
    Account.objects.create(engagement=e, external_id="NEW-9", name="Newco", state="TX", value=1.0)
    moves = design.equity_report(run=run)["moves"]
    assert moves["data_changed"] and not moves["edited"]


def test_the_rebalancing_job_stores_the_moves_and_reports_them(universe, run_jobs):
    e = universe.engagement
    run = make_run(e, continuity=False, contiguous=False)
    _unbalance(run)
    with run_jobs():
        job = design.rebalancing_plan_start(run=run, user=universe.architect)
    job.refresh_from_db()
    plan = RebalancingPlan.objects.get(run=run)
    assert job.status == Job.Status.SUCCEEDED and job.progress == 100
    assert job.result["pods"] == plan.inputs["flagged"] and "smb" in job.result["pods"]
    assert job.result["moves"] == sum(p["total"] for p in plan.pods.values())
    assert job.message.startswith("Suggested moves for") and plan.job_id == job.pk
    # One at a time per run: a second start while one is queued returns the same job.
    with mock.patch("engagements.tracking._queue"):
        first = design.rebalancing_plan_start(run=run, user=None)
        assert design.rebalancing_plan_start(run=run, user=None).pk == first.pk


def test_drift_check_compares_current_data_with_the_approved_run(universe):
    e = universe.engagement
    assert design.drift_check(engagement=e) is None
    run = make_approved_run(e)
    calm = design.drift_check(engagement=e)
    assert calm["run_id"] == run.pk and calm["unmapped"]["accounts"] == 0
    for row in calm["territories"]:
        assert row["current_count"] == row["approved_count"]
        assert row["current_value"] == pytest.approx(row["approved_value"])
    # A big new account lands in California: its territory drifts.
    Account.objects.create(
        engagement=e, external_id="NEW-1", name="Newco", state="CA", postal_code="94105",
        annual_revenue=5e6, segment="SMB", tier="T1", value=5e6,
    )  # fmt: skip
    drift = design.drift_check(engagement=e)
    changed = [r for r in drift["territories"] if r["count_change"]]
    assert len(changed) == 1 and changed[0]["value_variance_pct"] > 0
    assert changed[0]["pod"] == "smb"
    smb = next(p for p in drift["pods"] if p["pod"] == "smb")
    assert smb["max_min_ratio"] > 1 and set(smb) >= {"two_x", "over_20", "max_deviation_pct"}


def test_the_dashboard_shows_the_approved_runs_balance_in_one_query(
    universe, django_assert_num_queries
):
    e = universe.engagement
    make_run(e)
    approved = make_approved_run(e)
    with django_assert_num_queries(1):
        cells = design.balance_variance_cells([e.pk, universe.other.pk])
    assert set(cells) == {e.pk}
    assert cells[e.pk].sort == pytest.approx(approved.metrics["value"]["max_dev_pct"])
    assert f"Run {approved.number} (approved)" in cells[e.pk].title

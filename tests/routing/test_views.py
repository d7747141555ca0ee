"""The routing pages: the territory object, named accounts, fallbacks, test a record, exports."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engagements.models import ActivityEvent
from routing import services
from routing.models import NamedAccountOverride, TerritoryChange, TerritoryRecord


def url(engagement, path=""):
    return f"/engagements/{engagement.pk}/routing/{path}"


@pytest.mark.parametrize("who", ["architect", "engineer", "manager", "ops", "customer", "viewer"])
def test_every_member_reads_the_territory_object(small, client, who):
    client.force_login(getattr(small, who))
    page = client.get(url(small.engagement)).content.decode()
    assert "COM-LA" in page and "Commercial LA" in page and "AE Bob" in page
    can_edit = who in ("architect", "engineer")
    assert ("Add a territory" in page) == can_edit


def test_the_overview_has_a_fixed_number_of_queries(small, client):
    client.force_login(small.engineer)
    client.get(url(small.engagement))  # warm the session and the ZIP table
    with CaptureQueriesContext(connection) as first:
        client.get(url(small.engagement))
    for i in range(10):
        services.territory_save(
            engagement=small.engagement,
            territory=None,
            values={"key": f"X-{i}", "name": f"X {i}", "states": ["TX"], "ae": "Tex"},
            accounts=["A-1"],
            actor=None,
        )
    with CaptureQueriesContext(connection) as second:
        response = client.get(url(small.engagement))
    assert response.status_code == 200
    # Session, user, engagement, role; settings; live records; the page's records with their
    # account counts; the count of history records. Independent of the number of territories.
    assert len(second) == len(first) <= 10


def test_changing_the_ae_in_the_form_is_logged_and_routes_the_next_record(small, client):
    client.force_login(small.engineer)
    territory = small.object.la
    page = client.get(url(small.engagement, f"territories/{territory.pk}/"))
    form = page.context["form"].initial
    data = {k: v for k, v in form.items() if v not in (None, [])}
    data.update({"ae": "Bea", "active": "on", "effective_from": "", "segments": ["Commercial"]})
    version = services.routing_settings_get(engagement=small.engagement).version
    response = client.post(url(small.engagement, f"territories/{territory.pk}/"), data)
    assert response.status_code == 302
    territory.refresh_from_db()
    assert territory.ae == "Bea"
    change = TerritoryChange.objects.filter(territory=territory).first()
    assert change.actor == small.engineer and change.changes["ae"] == ["Bob", "Bea"]
    assert change.version == version + 1
    assert ActivityEvent.objects.filter(
        verb="routing.territory_updated", actor=small.engineer
    ).exists()
    decision = services.route_record(
        engagement=small.engagement, record={"annual_revenue": 5, "postal_code": "90012"}
    )
    assert decision.owner == "Bea"
    history = client.get(url(small.engagement, f"territories/{territory.pk}/")).content.decode()
    assert "ae &#x27;Bob&#x27; → &#x27;Bea&#x27;" in history


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("states", "CA, Atlantis", "Not a US state: Atlantis"),
        ("counties", "99999", "Not a county FIPS code"),
        ("zip3s", "000", "Not a 3-digit ZIP prefix in use"),
        ("cities", "Gotham, NY", "Not a city"),
        ("zip3s", "940", "California is routed by county"),
        ("key", "bad key!", "Letters, digits"),
    ],
)
def test_bad_territory_input_is_refused_naming_the_field(small, client, field, value, message):
    client.force_login(small.engineer)
    data = {"key": "NEW-1", "name": "New", "priority": 100, "active": "on", field: value}
    response = client.post(url(small.engagement, "territories/new/"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not TerritoryRecord.objects.filter(key="NEW-1").exists()


def test_a_territory_added_by_hand_can_be_deleted_a_generated_one_cannot(small, client):
    client.force_login(small.engineer)
    response = client.post(
        url(small.engagement, "territories/new/"),
        {
            "key": "TX-1",
            "name": "Texas",
            "priority": 50,
            "active": "on",
            "states": "Texas",
            "ae": "Tex",
        },
    )
    assert response.status_code == 302
    territory = TerritoryRecord.objects.get(key="TX-1")
    assert territory.states == ["TX"] and territory.generation == 0
    client.post(url(small.engagement, f"territories/{territory.pk}/delete/"))
    assert not TerritoryRecord.objects.filter(key="TX-1").exists()
    assert TerritoryChange.objects.filter(action="territory_deleted", subject="TX-1").exists()
    TerritoryRecord.objects.filter(pk=small.object.rest.pk).update(generation=1)
    response = client.post(url(small.engagement, f"territories/{small.object.rest.pk}/delete/"))
    assert TerritoryRecord.objects.filter(pk=small.object.rest.pk).exists()


@pytest.mark.parametrize("who", ["customer", "viewer", "manager", "ops"])
def test_only_routing_roles_edit_the_territory_object(small, client, who):
    client.force_login(getattr(small, who))
    territory = small.object.la
    response = client.post(url(small.engagement, f"territories/{territory.pk}/"), {"ae": "Hacker"})
    assert response.status_code == 403
    territory.refresh_from_db()
    assert territory.ae == "Bob"


def test_named_accounts_are_added_edited_and_deleted(small, client):
    client.force_login(small.engineer)
    response = client.post(
        url(small.engagement, "named-accounts/"),
        {
            "external_id": "N-9",
            "domain": "https://www.Initech.com",
            "owner": "Olga",
            "active": "on",
        },
    )
    assert response.status_code == 302
    override = NamedAccountOverride.objects.get(external_id="N-9")
    assert override.domain == "initech.com" and override.source == "manual"
    assert (
        services.route_record(engagement=small.engagement, record={"domain": "initech.com"}).owner
        == "Olga"
    )
    client.post(
        url(small.engagement, f"named-accounts/{override.pk}/"),
        {"external_id": "N-9", "domain": "initech.com", "territory_key": "COM-W", "active": "on"},
    )
    decision = services.route_record(engagement=small.engagement, record={"external_id": "N-9"})
    assert (decision.owner, decision.territory) == ("Cy", "COM-W")
    client.post(url(small.engagement, f"named-accounts/{override.pk}/delete/"))
    assert not NamedAccountOverride.objects.filter(pk=override.pk).exists()
    assert TerritoryChange.objects.filter(action="override_deleted").exists()


def test_a_named_account_needs_an_id_or_domain_and_an_owner_or_territory(small, client):
    client.force_login(small.engineer)
    response = client.post(
        url(small.engagement, "named-accounts/"), {"owner": "Olga", "active": "on"}
    )
    assert response.status_code == 400
    assert "Give an external id, a domain, or both." in response.content.decode()
    response = client.post(
        url(small.engagement, "named-accounts/"), {"external_id": "Z", "active": "on"}
    )
    assert "Give an owner, a territory, or both." in response.content.decode()


def test_fallbacks_are_set_per_level(small, client):
    client.force_login(small.engineer)
    data = {
        "default_queue": "Ops",
        "rollout_date": "2026-02-01",
        "segment_territory": "COM-R",
        "industry_queue": "Industry desk",
    }
    response = client.post(url(small.engagement, "settings/"), data)
    assert response.status_code == 302
    row = services.routing_settings_get(engagement=small.engagement)
    assert row.fallbacks == {
        "segment": {"territory": "COM-R"},
        "industry": {"queue": "Industry desk"},
    }
    assert str(row.rollout_date) == "2026-02-01"
    decision = services.route_record(engagement=small.engagement, record={"state": "CA"})
    assert (decision.fallback, decision.owner) == ("segment", "Dee")
    decision = services.route_record(engagement=small.engagement, record={"annual_revenue": 5})
    # COM-LA (priority 100) is tried before the catch-all COM-R (200) and needs the state:
    # the state level has no fallback of its own, so the default queue takes it.
    assert (decision.fallback, decision.owner) == ("state", "Ops")
    response = client.post(
        url(small.engagement, "settings/"), {"default_queue": "", "segment_territory": "COM-R"}
    )
    assert response.status_code == 400 and "This field is required." in response.content.decode()


def test_test_a_record_shows_the_decision_and_trace(small, client):
    client.force_login(small.customer)
    data = {"annual_revenue": "2,000,000", "state": "CA", "postal_code": "90012"}
    page = client.post(url(small.engagement, "test/"), data).content.decode()
    assert "COM-LA Commercial LA" in page and "Owner <strong>Bob</strong>" in page
    assert "ZIP code 90012 lies in Los Angeles County, CA" in page
    # The reason is the one the bulk result files carry for the same record.
    from django.utils.html import escape

    from routing import engine

    why = engine.route_record(data, services.routing_config(engagement=small.engagement)).why
    assert "first match by priority" in why and f"<strong>Why:</strong> {escape(why)}" in page
    fragment = client.post(url(small.engagement, "test/"), data, HTTP_HX_REQUEST="true")
    text = fragment.content.decode()
    assert text.strip().startswith('<section class="panel" id="test-result"')
    assert "<html" not in text


def test_exports_are_salesforce_csvs_with_neutralised_cells(small, client):
    client.force_login(small.viewer)
    services.territory_save(
        engagement=small.engagement,
        territory=small.object.la,
        values={"name": '=HYPERLINK("http://evil")', "ae": "+Bob"},
        accounts=None,
        actor=None,
    )
    csv = b"".join(
        client.get(url(small.engagement, "exports/territories.csv")).streaming_content
    ).decode("utf-8-sig")
    lines = csv.splitlines()
    assert lines[0].startswith("Name,Territory_Key__c,Pod__c,Size_Segment__c")
    la = next(line for line in lines if "COM-LA" in line)
    assert "'=HYPERLINK" in la and ",'+Bob," in la and "06037" in la
    fields = b"".join(
        client.get(url(small.engagement, "exports/fields.csv")).streaming_content
    ).decode("utf-8-sig")
    assert "AE__c" in fields and "Territory_Key__c" in fields
    # The field list says which fields can carry the guard's apostrophe, and that Data Loader
    # would import it literally.
    import csv as csv_module
    import io

    from engagements.exports import FORMULA_STARTS
    from routing import salesforce

    assert salesforce.FORMULA_STARTS == FORMULA_STARTS
    field_rows = list(csv_module.reader(io.StringIO(fields)))
    assert field_rows[0][-1] == "Formula Guard"
    guard = {row[1]: row[-1] for row in field_rows[1:]}
    for api_name in ("Name", "Territory_Key__c", "AE__c", "Industry__c", "Cities__c"):
        assert "Data Loader imports the apostrophe literally" in guard[api_name], api_name
    for api_name in ("States__c", "Counties__c", "Priority__c", "Active__c", "Effective_From__c"):
        assert guard[api_name] == "", api_name
    # Every cell the export guarded is in a column the field list names.
    header, *rows = csv_module.reader(io.StringIO(csv))
    guarded = {header[i] for row in rows for i, cell in enumerate(row) if cell.startswith("'")}
    assert guarded == {"Name", "AE__c"}
    assert guarded <= {name for name, note in guard.items() if note}
    overrides = b"".join(
        client.get(url(small.engagement, "exports/overrides.csv")).streaming_content
    ).decode("utf-8-sig")
    assert "N-1,acme.com,COM-W,Nora" in overrides
    accounts = b"".join(
        client.get(url(small.engagement, "exports/accounts.csv")).streaming_content
    ).decode("utf-8-sig")
    assert "E-1,ENT-1" in accounts


def test_the_tech_spec_page_and_data(small, client):
    client.force_login(small.customer)
    page = client.get(url(small.engagement, "spec/")).content.decode()
    assert "Territory__c" in page and "Evaluation order" in page and "Build sequence" in page
    spec = services.tech_spec(engagement=small.engagement)
    assert spec["counts"]["territories"] == 4 and spec["counts"]["named_accounts"] == 1
    assert [s["name"] for s in spec["evaluation_order"][:3]] == [
        "Named-account override",
        "Account lists",
        "Segment",
    ]
    assert any("CA by county" in s["rule"] for s in spec["evaluation_order"])
    assert any(e["case"] == "Boundary accounts" for e in spec["edge_cases"])
    guard = next(e for e in spec["edge_cases"] if e["case"] == "Formula guard in the CSV files")
    assert "Data Loader imports the apostrophe literally" in guard["rule"]
    assert "Territory__c records: Name, Territory_Key__c" in guard["rule"]
    assert "named-account overrides: Account_External_Id__c" in guard["rule"]
    assert "Formula guard in the CSV files" in page
    free_text = {"name", "key", "pod", "segments", "cities", "industries", "ae", "sdr", "se", "csm"}
    assert all(f["guarded"] == (f["source"] in free_text) for f in spec["object"]["fields"])


def test_the_change_log_lists_every_change(small, client):
    client.force_login(small.viewer)
    page = client.get(url(small.engagement, "changes/")).content.decode()
    assert "Territory COM-LA (Commercial LA) added" in page
    assert "Named account N-1 / acme.com added" in page


def test_the_customer_portal_lists_the_salesforce_files(small):
    from engagements.dashboard import downloads_for

    titles = [d.title for d in downloads_for(small.engagement, small.customer)]
    assert "Territory__c records (Salesforce Data Loader CSV)" in titles
    assert downloads_for(small.other, small.customer2) == []


def test_renaming_a_territory_key_carries_its_named_accounts_and_fallbacks(small):
    services.routing_settings_update(
        engagement=small.engagement,
        default_queue="Ops",
        fallbacks={"segment": services.engine.Fallback(territory="COM-W")},
        rollout_date=None,
        actor=None,
    )
    services.territory_save(
        engagement=small.engagement,
        territory=small.object.west,
        values={"key": "COM-WEST"},
        accounts=None,
        actor=small.engineer,
    )
    assert NamedAccountOverride.objects.get(external_id="N-1").territory_key == "COM-WEST"
    row = services.routing_settings_get(engagement=small.engagement)
    assert row.fallbacks == {"segment": {"territory": "COM-WEST"}}
    change = TerritoryChange.objects.filter(subject="COM-WEST").first()
    assert change.changes["key"] == ["COM-W", "COM-WEST"]
    assert change.changes["references"] == ["COM-W", "COM-WEST"]
    decision = services.route_record(engagement=small.engagement, record={"external_id": "N-1"})
    assert (decision.territory, decision.owner) == ("COM-WEST", "Nora")


def _grow(engagement, n: int) -> None:
    """n more of everything a routing list page shows."""
    from django.core.files.base import ContentFile

    from routing.access import token_create
    from routing.models import QACase, QARun, RoutingAudit, RoutingBatch

    start = QACase.objects.count()
    for i in range(n):
        QACase.objects.create(
            engagement=engagement, category="standard", name=f"c{start + i}", expect_owner="Bob"
        )
        services.override_save(
            engagement=engagement,
            override=None,
            values={"external_id": f"G-{start + i}", "owner": "Olga"},
            actor=None,
        )
        token_create(engagement=engagement, name=f"t{i}", actor=None)
        batch = RoutingBatch(engagement=engagement, original_name=f"b{i}.csv")
        batch.file.save(f"b{i}.csv", ContentFile(b"ID\n1\n"), save=True)
        audit = RoutingAudit(
            engagement=engagement, original_name=f"a{i}.csv", rollout_date="2026-01-01"
        )
        audit.file.save(f"a{i}.csv", ContentFile(b"ID\n1\n"), save=True)
    QARun.objects.create(
        engagement=engagement,
        total=QACase.objects.count(),
        passed=0,
        results=[{"case": c.pk, "passed": False, "failures": ["x"]} for c in QACase.objects.all()],
    )


@pytest.mark.parametrize(
    "path", ["qa/", "named-accounts/", "changes/", "batches/", "audits/", "tokens/"]
)
def test_routing_list_pages_have_a_fixed_number_of_queries(small, client, settings, tmp_path, path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(small.engineer)
    _grow(small.engagement, 2)
    client.get(url(small.engagement, path))
    with CaptureQueriesContext(connection) as few:
        assert client.get(url(small.engagement, path)).status_code == 200
    _grow(small.engagement, 8)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url(small.engagement, path)).status_code == 200
    # Session, user, engagement and role, then the page's own rows (and the settings or the
    # sign-off panel's two queries): never one query per row.
    assert len(many) == len(few) <= 12

"""The template is versioned data: engagements copy the version they start with; template
edits never change a running engagement; a version in use is frozen."""

from __future__ import annotations

import copy

import pytest
from django.core.exceptions import ValidationError

from engagements.models import ChecklistItem, DefinitionTerm, IntakeForm, Phase, PlaybookTemplate
from engagements.services import (
    playbook_for,
    playbook_template_activate,
    playbook_template_active,
    playbook_template_copy,
)
from tests.engagements.test_playbook import SEED_GROUPS
from tests.factories import make_engagement, make_org


def test_an_engagement_copies_the_active_template(world):
    template = playbook_template_active()
    engagement = world.engagement
    assert engagement.playbook_template == template
    assert engagement.phases.count() == 4
    assert engagement.subphases.count() == 16
    assert ChecklistItem.objects.filter(engagement=engagement).count() == len(
        playbook_for(engagement).items
    )
    assert DefinitionTerm.objects.filter(engagement=engagement).count() == 14
    assert IntakeForm.objects.filter(engagement=engagement).exists()
    assert engagement.phase_weights == {
        "strategy": 40,
        "engineering": 30,
        "enablement": 20,
        "handoff": 10,
    }
    strategy = engagement.phases.get(number=1)
    assert strategy.opened_at is not None and engagement.phases.get(number=2).opened_at is None
    assert (
        strategy.gate_signoffs == ["definitions", "territory_map"]
        and strategy.gate_checks_assumptions
    )
    threshold = engagement.assumptions.get(key="segments.enterprise_threshold")
    assert (threshold.value, threshold.blocking, threshold.state) == (
        1_000_000_000,
        True,
        "assumed",
    )


def test_a_new_engagement_gets_every_seed_item_in_every_group(world):
    # Instantiation keeps each group of seed 000 whole (items whose condition does not hold
    # are created too; they only do not count for the gate).
    rows = ChecklistItem.objects.filter(engagement=world.engagement).values_list(
        "subphase__code", "group"
    )
    counts: dict[str, dict[str, int]] = {}
    for code, group in rows:
        counts.setdefault(code, {}).setdefault(group, 0)
        counts[code][group] += 1
    assert counts == {code: dict(groups) for code, groups in SEED_GROUPS.items()}


def test_template_edits_never_change_a_running_engagement(world, admin_user):
    old = playbook_template_active()
    new = playbook_template_copy(template=old, actor=admin_user)
    data = copy.deepcopy(new.data)
    data["phases"][1]["subphases"][2]["groups"][0]["items"].append(
        {"key": "2c.permissions", "text": "Sharing rules for the territory object reviewed"}
    )
    data["maintenance"]["cadences"][0]["tasks"][0]["red_flag"] = (
        ">3% of new accounts routing incorrectly"
    )
    new.data = data
    new.full_clean()
    new.save()
    playbook_template_activate(template=new)
    later = make_engagement(make_org("Later Co"), name="Later")
    assert later.playbook_template == new
    assert later.checklist_items.filter(key="2c.permissions").exists()
    assert (
        playbook_for(later).maintenance_tasks[0].red_flag
        == ">3% of new accounts routing incorrectly"
    )
    # The engagement that started before keeps its copy.
    assert not world.engagement.checklist_items.filter(key="2c.permissions").exists()
    fresh = type(world.engagement).objects.get(pk=world.engagement.pk)
    assert (
        playbook_for(fresh).maintenance_tasks[0].red_flag
        == ">5% of new accounts routing incorrectly"
    )
    assert PlaybookTemplate.objects.get(pk=old.pk).is_active is False


def test_a_version_in_use_cannot_be_edited(world):
    template = playbook_template_active()
    template.data = {**template.data, "name": "Edited"}
    with pytest.raises(ValidationError, match="copy it to a new version"):
        template.full_clean()


def test_an_invalid_template_is_refused_with_paths(world, admin_user):
    draft = playbook_template_copy(template=playbook_template_active(), actor=admin_user)
    data = copy.deepcopy(draft.data)
    del data["phases"][0]["subphases"][0]["groups"][0]["items"][0]["text"]
    draft.data = data
    with pytest.raises(ValidationError) as info:
        draft.full_clean()
    assert "phases[0].subphases[0].groups[0].items[0].text: is missing" in str(info.value)
    with pytest.raises(ValidationError):
        playbook_template_activate(template=draft)


def test_the_handoff_accessor_reads_the_engagements_copy(world):
    playbook = playbook_for(world.engagement)
    assert [c.slug for c in playbook.cadences] == ["monthly", "quarterly", "first_cycle", "annual"]
    assert len(playbook.maintenance_tasks) == 12
    assert playbook.maintenance_owner_for(world.engagement.type) == "customer"
    assert "maintenance-schedule" in {d.slug for d in playbook.documents}
    assert [t.minutes for t in playbook.training_types][:4] == [45, 60, 30, 30]


def test_instantiation_runs_once(world):
    from engagements.services import playbook_instantiate

    playbook_instantiate(engagement=world.engagement)
    assert Phase.objects.filter(engagement=world.engagement).count() == 4


def test_admin_copies_and_activates_versions(world, admin_client):
    template = playbook_template_active()
    response = admin_client.post(
        "/admin/engagements/playbooktemplate/",
        {"action": "copy_as_new_version", "_selected_action": [template.pk]},
    )
    assert response.status_code == 302
    copy_ = PlaybookTemplate.objects.get(version=template.version + 1)
    assert not copy_.is_active and copy_.data == template.data
    # The version in use shows its data read-only; the copy is editable.
    assert (
        'name="data"'
        not in admin_client.get(
            f"/admin/engagements/playbooktemplate/{template.pk}/change/"
        ).content.decode()
    )
    assert (
        'name="data"'
        in admin_client.get(
            f"/admin/engagements/playbooktemplate/{copy_.pk}/change/"
        ).content.decode()
    )
    admin_client.post(
        "/admin/engagements/playbooktemplate/",
        {"action": "make_active", "_selected_action": [copy_.pk]},
    )
    assert PlaybookTemplate.objects.get(is_active=True) == copy_

"""Running an engagement: create and edit it, its team, hours log and stakeholder map."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from engagements import services
from engagements.access import Capability, can_create_engagement, engagement_view
from engagements.forms import (
    EngagementForm,
    HoursForm,
    InviteForm,
    MemberForm,
    StakeholderForm,
)
from engagements.models import CustomerOrganization, Engagement, Role, Stakeholder
from engagements.playbook import parse_playbook


def _form_values(form: EngagementForm) -> dict:
    data = form.cleaned_data
    values = {f: data[f] for f in form.Meta.fields if f in data and f != "organization"}
    values["phase_weights"] = data["phase_weights"]
    return values


@login_required
@require_http_methods(["GET", "POST"])
def engagement_create(request: HttpRequest) -> HttpResponse:
    if not can_create_engagement(request.user):
        raise PermissionDenied("Architects create engagements.")
    template = services.playbook_template_active()
    profiles = parse_playbook(template.data).weight_profiles
    form = EngagementForm(request.POST or None, profiles=profiles)
    if request.method == "POST" and form.is_valid():
        organization = form.cleaned_data.get("organization")
        new_name = (form.cleaned_data.get("new_organization") or "").strip()
        try:
            if new_name:
                organization = CustomerOrganization.objects.create(name=new_name)
            engagement = services.engagement_create(
                organization=organization,
                name=form.cleaned_data["name"],
                actor=request.user,
                **{k: v for k, v in _form_values(form).items() if k != "name"},
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                f"Engagement created from playbook version {template.version}: "
                "four phases and their checklists are ready.",
            )
            return redirect("engagements:engagement_detail", engagement_pk=engagement.pk)
    return render(
        request,
        "engagements/engagement_form.html",
        {"form": form, "template": template, "creating": True},
    )


@engagement_view(Capability.EDIT)
@require_http_methods(["GET", "POST"])
def engagement_edit(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    profiles = services.playbook_for(engagement).weight_profiles
    form = EngagementForm(request.POST or None, instance=engagement, profiles=profiles)
    if not request.POST:
        profile = (
            engagement.weight_profile
            if engagement.weight_profile in {p.slug for p in profiles}
            else "custom"
        )
        form.initial["weight_profile"] = profile
    if request.method == "POST" and form.is_valid():
        fresh = Engagement.objects.get(pk=engagement.pk)
        fresh.access = engagement.access
        try:
            services.engagement_update(
                engagement=fresh, actor=request.user, changes=_form_values(form)
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Engagement settings saved.")
            return redirect("engagements:engagement_detail", engagement_pk=engagement.pk)
    return render(
        request,
        "engagements/engagement_form.html",
        {"form": form, "engagement": engagement, "access": engagement.access, "creating": False},
    )


@engagement_view(Capability.INTERNAL, post=Capability.EDIT)
@require_http_methods(["GET", "POST"])
def member_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    inviting = request.POST.get("action") == "invite"
    form = MemberForm(None if inviting else request.POST or None, engagement=engagement)
    invite = InviteForm(request.POST if inviting else None)
    if request.method == "POST" and inviting and invite.is_valid():
        data = invite.cleaned_data
        try:
            result = services.membership_invite(
                engagement=engagement,
                email=data["email"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                role=Role(data["role"]),
                actor=request.user,
                site_url=request.build_absolute_uri("/"),
            )
        except ValidationError as exc:
            invite.add_error(None, exc)
        else:
            user = result.membership.user
            if user.has_usable_password():
                note = "they already had a login"
            else:
                note = f"an invitation to choose a password went to {user.email}"
            messages.success(
                request,
                f"{user.display_name()} is on the team as {result.membership.get_role_display()}: {note}.",
            )
            return redirect("engagements:member_list", engagement_pk=engagement.pk)
    elif request.method == "POST" and not inviting and form.is_valid():
        try:
            services.membership_set(
                engagement=engagement,
                user=form.cleaned_data["user"],
                role=Role(form.cleaned_data["role"]),
                actor=request.user,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{form.cleaned_data['user'].display_name()} is on the team.")
            return redirect("engagements:member_list", engagement_pk=engagement.pk)
    members = engagement.memberships.select_related("user", "user__organization").order_by(
        "role", "user__last_name"
    )
    return render(
        request,
        "engagements/member_list.html",
        {
            "engagement": engagement,
            "access": engagement.access,
            "members": members,
            "form": form,
            "invite": invite,
        },
        status=400 if request.method == "POST" else 200,
    )


@engagement_view(Capability.EDIT)
@require_POST
def member_remove(request: HttpRequest, engagement: Engagement, membership_pk: int) -> HttpResponse:
    membership = get_object_or_404(engagement.memberships.select_related("user"), pk=membership_pk)
    try:
        services.membership_remove(membership=membership, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{membership.user.display_name()} removed.")
    return redirect("engagements:member_list", engagement_pk=engagement.pk)


def _may_log_hours(engagement: Engagement) -> bool:
    # Hours are logged by the people doing the work: the engagement's architects and engineers.
    return engagement.access.role in (Role.ARCHITECT, Role.ENGINEER)


@engagement_view(Capability.INTERNAL)
@require_http_methods(["GET", "POST"])
def hours_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    phases = list(engagement.phases.order_by("number"))
    form = HoursForm(request.POST or None, phases=phases, initial={"date": timezone.localdate()})
    if request.method == "POST":
        if not _may_log_hours(engagement):
            raise PermissionDenied("Only the engagement's architects and engineers log hours.")
        if form.is_valid():
            try:
                services.hours_log(
                    engagement=engagement,
                    user=request.user,
                    date=form.cleaned_data["date"],
                    hours=form.cleaned_data["hours"],
                    phase_number=form.cleaned_data["phase_number"],
                    note=form.cleaned_data["note"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"{form.cleaned_data['hours']} h logged.")
                return redirect("engagements:hours_list", engagement_pk=engagement.pk)
    entries = engagement.hours.select_related("user").order_by("-date", "-id")[:500]
    used_by_phase = dict(
        engagement.hours.values("phase_number")
        .annotate(total=Sum("hours"))
        .order_by()
        .values_list("phase_number", "total")
    )
    total = sum((v for v in used_by_phase.values()), Decimal("0"))
    weights = engagement.phase_weights or {}
    plan = [
        {
            "phase": phase,
            "planned": round(engagement.hour_budget * weights.get(phase.slug, 0) / 100, 1),
            "used": used_by_phase.get(phase.number, Decimal("0")),
        }
        for phase in phases
    ]
    return render(
        request,
        "engagements/hours_list.html",
        {
            "engagement": engagement,
            "access": engagement.access,
            "form": form,
            "entries": entries,
            "plan": plan,
            "unassigned": used_by_phase.get(None, Decimal("0")),
            "total": total,
            "may_log": _may_log_hours(engagement),
        },
    )


@engagement_view(Capability.INTERNAL, post=Capability.EDIT)
@require_http_methods(["GET", "POST"])
def stakeholder_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    form = StakeholderForm(request.POST or None, instance=Stakeholder(engagement=engagement))
    if request.method == "POST" and form.is_valid():
        services.stakeholder_save(stakeholder=form.instance, actor=request.user)
        messages.success(request, f"{form.instance.name} added to the stakeholder map.")
        return redirect("engagements:stakeholder_list", engagement_pk=engagement.pk)
    return render(
        request,
        "engagements/stakeholder_list.html",
        {
            "engagement": engagement,
            "access": engagement.access,
            "stakeholders": engagement.stakeholders.all(),
            "form": form,
        },
    )


@engagement_view(Capability.INTERNAL, post=Capability.EDIT)
@require_http_methods(["GET", "POST"])
def stakeholder_edit(
    request: HttpRequest, engagement: Engagement, stakeholder_pk: int
) -> HttpResponse:
    stakeholder = get_object_or_404(engagement.stakeholders, pk=stakeholder_pk)
    if request.method == "POST" and request.POST.get("action") == "delete":
        services.stakeholder_delete(stakeholder=stakeholder, actor=request.user)
        messages.success(request, f"{stakeholder.name} removed from the stakeholder map.")
        return redirect("engagements:stakeholder_list", engagement_pk=engagement.pk)
    form = StakeholderForm(request.POST or None, instance=stakeholder)
    if request.method == "POST" and form.is_valid():
        services.stakeholder_save(stakeholder=form.instance, actor=request.user)
        messages.success(request, f"{stakeholder.name} updated.")
        return redirect("engagements:stakeholder_list", engagement_pk=engagement.pk)
    return render(
        request,
        "engagements/stakeholder_edit.html",
        {
            "engagement": engagement,
            "access": engagement.access,
            "form": form,
            "stakeholder": stakeholder,
        },
    )

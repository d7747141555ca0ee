from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import ValidationError

from engagements import services
from engagements.models import (
    ActivityEvent,
    Assumption,
    CustomerOrganization,
    Engagement,
    GateDecision,
    HoursEntry,
    Job,
    Meeting,
    Membership,
    Phase,
    PlaybookTemplate,
    SignoffRecord,
    SignoffVersion,
    Stakeholder,
    User,
)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Portal", {"fields": ("organization", "staff_role")}),
    )
    list_display = ("username", "email", "organization", "staff_role", "is_staff", "is_active")
    list_filter = ("staff_role", "organization", "is_staff", "is_active")


@admin.register(CustomerOrganization)
class CustomerOrganizationAdmin(admin.ModelAdmin):
    search_fields = ("name",)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Engagement)
class EngagementAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "type", "fiscal_year_start", "hour_budget")
    list_filter = ("type", "organization")
    search_fields = ("name", "organization__name")
    # The template version is the record of what the engagement copied at creation.
    readonly_fields = ("playbook_template",)
    inlines = [MembershipInline]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("title", "engagement", "status", "progress", "created_at", "finished_at")
    list_filter = ("status", "kind")
    readonly_fields = [f.name for f in Job._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ActivityEvent)
class ActivityEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "engagement", "actor", "verb", "summary")
    list_filter = ("verb",)
    readonly_fields = [f.name for f in ActivityEvent._meta.fields]


@admin.register(Assumption)
class AssumptionAdmin(admin.ModelAdmin):
    list_display = ("key", "engagement", "category", "state", "blocking", "source", "changed_at")
    list_filter = ("state", "category", "blocking", "source")
    search_fields = ("key", "statement", "engagement__name")
    # State moves go through the register's pages (history and activity log), not the admin.
    readonly_fields = ("state", "corrected_value", "meeting", "changed_at", "created_at")


class ReadOnlyEvidenceAdmin(admin.ModelAdmin):
    """Sign-off versions and records are evidence: viewable, never editable."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SignoffVersion)
class SignoffVersionAdmin(ReadOnlyEvidenceAdmin):
    list_display = ("subject", "version", "title", "engagement", "published_at")
    list_filter = ("subject",)
    search_fields = ("subject", "title", "engagement__name")


@admin.register(SignoffRecord)
class SignoffRecordAdmin(ReadOnlyEvidenceAdmin):
    list_display = (
        "sequence",
        "engagement",
        "subject",
        "version_number",
        "decision",
        "signer_name",
        "signed_at",
    )
    list_filter = ("decision",)
    search_fields = ("subject", "signer_username", "engagement__name")


class PlaybookTemplateForm(forms.ModelForm):
    """The template document as pretty-printed JSON; ``PlaybookTemplate.clean`` validates it and
    names the path of every problem."""

    data = forms.JSONField(
        widget=forms.Textarea(attrs={"rows": 40, "cols": 120, "style": "font-family: monospace"}),
        help_text=(
            "Phases → sub-phases → groups → items (key, text, owner, required, when, signoff, "
            "event); meeting types; definition terms; maintenance cadences; documents; "
            "phase-weight profiles; calendar rule. Engagements copy the version they start from."
        ),
    )

    class Meta:
        model = PlaybookTemplate
        fields = ["name", "version", "notes", "data"]


@admin.register(PlaybookTemplate)
class PlaybookTemplateAdmin(admin.ModelAdmin):
    form = PlaybookTemplateForm
    list_display = ("version", "name", "is_active", "engagement_count", "created_at")
    readonly_fields = ("is_active", "created_by", "created_at")
    actions = ["copy_as_new_version", "make_active"]

    @admin.display(description="Engagements using it")
    def engagement_count(self, obj: PlaybookTemplate) -> int:
        return obj.engagements.count()

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.in_use():
            # Engagements started from it: the version is the record of what they copied.
            fields += ["name", "version", "data"]
        return fields

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None) -> bool:
        return obj is None or not obj.in_use()

    @admin.action(description="Copy as a new (inactive) version to edit")
    def copy_as_new_version(self, request, queryset):
        for template in queryset:
            copy = services.playbook_template_copy(template=template, actor=request.user)
            self.message_user(
                request, f"Version {copy.version} created from version {template.version}."
            )

    @admin.action(description="Make active: new engagements start from it")
    def make_active(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(
                request, "Choose exactly one version to activate.", level=messages.ERROR
            )
            return
        try:
            template = services.playbook_template_activate(template=queryset.get())
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), level=messages.ERROR)
        else:
            self.message_user(request, f"Version {template.version} is now active.")


@admin.register(Meeting)
class MeetingAdmin(admin.ModelAdmin):
    list_display = ("title", "engagement", "kind", "scheduled_at", "status")
    list_filter = ("status", "kind")
    search_fields = ("title", "engagement__name")


@admin.register(Phase)
class PhaseAdmin(admin.ModelAdmin):
    """Read-only: phases change through their gates (with reasons in the activity log)."""

    list_display = ("engagement", "number", "name", "status", "opened_at", "closed_at")
    list_filter = ("status", "number")
    readonly_fields = [f.name for f in Phase._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(GateDecision)
class GateDecisionAdmin(admin.ModelAdmin):
    list_display = ("decided_at", "engagement", "phase", "decision", "actor")
    list_filter = ("decision",)
    readonly_fields = [f.name for f in GateDecision._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Stakeholder)
class StakeholderAdmin(admin.ModelAdmin):
    list_display = ("name", "title", "engagement", "decision_maker", "day_to_day", "influence")
    search_fields = ("name", "engagement__name")


@admin.register(HoursEntry)
class HoursEntryAdmin(admin.ModelAdmin):
    list_display = ("date", "engagement", "user", "hours", "phase_number")
    list_filter = ("phase_number",)

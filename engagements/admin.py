from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from engagements.models import (
    ActivityEvent,
    CustomerOrganization,
    Engagement,
    Job,
    Membership,
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

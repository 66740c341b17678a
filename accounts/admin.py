from django.contrib import admin

from accounts.models import AuditLogEntry, Group, Member, Organization, User


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("email", "full_name", "is_active", "is_staff", "date_joined")
    search_fields = ("email", "full_name")
    exclude = ("password",)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "tenant_id", "created_at")
    search_fields = ("name", "slug")


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ("email", "organization", "role", "status", "source", "created_at")
    list_filter = ("role", "status", "source")
    search_fields = ("email", "full_name")
    raw_id_fields = ("organization", "user")


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ("display_name", "organization", "source")
    raw_id_fields = ("organization",)


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is written by services, never edited by hand."""

    list_display = ("created_at", "organization", "actor_label", "action", "target_label")
    list_filter = ("action", "actor_kind")

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False

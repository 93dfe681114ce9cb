from django.contrib import admin, messages
from django.contrib.admin import DateFieldListFilter
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest

from users.models import User


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "name")


class UserEditForm(UserChangeForm):  # type: ignore[type-arg]
    class Meta:
        model = User
        fields = ("email", "name", "age", "is_active", "is_admin")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):  # type: ignore[type-arg]
    form = UserEditForm
    add_form = UserCreationForm
    list_display = (
        "id",
        "email",
        "email_verified",
        "name",
        "age",
        "is_active",
        "is_admin",
        "created_at",
        "last_login",
    )
    list_filter = ("is_active", "is_admin", "email_verified", ("last_login", DateFieldListFilter))
    search_fields = ("email", "name")
    ordering = ("id",)
    readonly_fields = ("created_at", "last_login")
    actions = ("activate", "deactivate")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "age")}),
        ("Status", {"fields": ("is_active", "is_admin", "email_verified")}),
        ("Dates", {"fields": ("created_at", "last_login")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "name", "password1", "password2")}),
    )
    filter_horizontal = ()

    @admin.action(description="Activate the selected users")
    def activate(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        count = queryset.update(is_active=True)
        self.message_user(request, f"{count} user(s) activated.", messages.SUCCESS)

    @admin.action(description="Deactivate the selected users")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        count = queryset.update(is_active=False)
        self.message_user(request, f"{count} user(s) deactivated.", messages.SUCCESS)

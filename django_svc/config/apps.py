from django.contrib.admin.apps import AdminConfig


class ThrottledAdminConfig(AdminConfig):
    """django.contrib.admin with the site of `config.admin` (its login form throttled)."""

    default_site = "config.admin.AdminSite"

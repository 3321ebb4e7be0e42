from django.contrib.admin.apps import AdminConfig


class NexusAdminConfig(AdminConfig):
    """django.contrib.admin with Nexus's site (superusers only: accounts.admin_site)."""

    default_site = "accounts.admin_site.NexusAdminSite"

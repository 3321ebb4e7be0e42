from django.apps import AppConfig


class NexusConfig(AppConfig):
    """Project-wide code that belongs to no one app: management commands that span every app
    (seed_demo), bulk-loading helpers, the API conventions, logging and health checks."""

    name = "nexus"
    verbose_name = "Nexus"

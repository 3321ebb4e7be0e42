from django.apps import AppConfig


class NexusConfig(AppConfig):
    """Project-wide code that belongs to no one app: management commands that span every app
    (seed_demo), bulk-loading helpers, the API conventions, logging and health checks."""

    name = "nexus"
    verbose_name = "Nexus"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from nexus.collation import remember_collation

        connection_created.connect(remember_collation, dispatch_uid="nexus.collation")

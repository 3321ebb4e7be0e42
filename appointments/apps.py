from django.apps import AppConfig


class AppointmentsConfig(AppConfig):
    name = "appointments"

    def ready(self) -> None:
        from appointments.availability import watch_for_changes

        watch_for_changes()
